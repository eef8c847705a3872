"""
Testing helpers shipped with the plugin: a fake POK server speaking POK's API over real HTTP.

``from openedx_pok.testing import FakePokServer``; pytest users add
``pytest_plugins = ["openedx_pok.testing.pytest_plugin"]`` for the ``fake_pok`` fixture, and
``python -m openedx_pok.testing`` serves one by hand.
"""

from openedx_pok.testing.server import ENDPOINTS, FakePokServer

__all__ = ["ENDPOINTS", "FakePokServer"]
