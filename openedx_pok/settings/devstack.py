"""
Development and test settings: the common ones, pointed at POK's sandbox.

These passes run last (after ``common``, and for devstack after the YAML and ``production``), and
no earlier pass writes ``POK_API_URL``: a value found here is the operator's, and stays.
"""

from openedx_pok.settings.common import plugin_settings as common_plugin_settings

POK_SANDBOX_API_URL = "https://api.credentity.xyz/"


def plugin_settings(settings):
    if not hasattr(settings, "POK_API_URL"):
        settings.POK_API_URL = POK_SANDBOX_API_URL
    common_plugin_settings(settings)
