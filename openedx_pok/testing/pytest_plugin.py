"""
The ``fake_pok`` pytest fixture: a running fake POK server the plugin's settings point at.

Register it with ``pytest_plugins = ["openedx_pok.testing.pytest_plugin"]``; it needs pytest-django.
"""

import pytest
from django.core.cache import cache

from openedx_pok.testing.server import DEFAULT_TEMPLATE_ID, FakePokServer


@pytest.fixture
def fake_pok(settings):
    """
    A started fake POK with the template ``default-template`` (no custom parameters).

    POK_API_URL and POK_API_KEY point at it, and the timeouts are short (2 s to read, 1 s to
    connect) so that an injected stall costs a test two seconds, not ten, while a loaded CI machine
    still gets its answers in time. The Django cache is cleared before and after, so no
    template definition or image URL leaks between tests.
    """
    with FakePokServer(api_key="test-api-key", emit_after=0.0) as server:
        server.add_template(DEFAULT_TEMPLATE_ID, name="Default template")
        settings.POK_API_URL = server.url
        settings.POK_API_KEY = server.api_key
        settings.POK_TIMEOUT = 2.0
        settings.POK_CONNECT_TIMEOUT = 1.0
        cache.clear()
        yield server
        cache.clear()
