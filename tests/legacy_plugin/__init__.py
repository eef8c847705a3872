"""
A site that runs the existing POK plugin (openedx-pok from the registry), for the adoption tests.

``legacy_site_settings`` and ``seed.py`` run in that plugin's own virtual environment (make test
builds .venv-legacy), never with this repository on the path; ``adopting_site_settings`` is the
same database seen by this plugin.
"""
