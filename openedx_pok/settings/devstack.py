"""Development and test settings: the common defaults, pointed at POK's sandbox."""

from openedx_pok.settings.common import plugin_settings as common_plugin_settings

POK_SANDBOX_API_URL = "https://api.credentity.xyz/"


def plugin_settings(settings):
    if not hasattr(settings, "POK_API_URL"):
        settings.POK_API_URL = POK_SANDBOX_API_URL
    common_plugin_settings(settings)
