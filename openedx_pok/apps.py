"""Django application configuration, including how Open edX loads the plugin."""

from django.apps import AppConfig
from edx_django_utils.plugins.constants import PluginSettings, PluginSignals, PluginURLs

_SETTINGS_BY_TYPE = {
    "common": {PluginSettings.RELATIVE_PATH: "settings.common"},
    "production": {PluginSettings.RELATIVE_PATH: "settings.common"},
    "devstack": {PluginSettings.RELATIVE_PATH: "settings.devstack"},
    "test": {PluginSettings.RELATIVE_PATH: "settings.devstack"},
}

_RECEIVERS = [
    {
        PluginSignals.RECEIVER_FUNC_NAME: "mark_credential_revoked",
        PluginSignals.SIGNAL_PATH: "openedx_events.learning.signals.CERTIFICATE_REVOKED",
        PluginSignals.DISPATCH_UID: "openedx_pok.signals.mark_credential_revoked",
    },
    {
        PluginSignals.RECEIVER_FUNC_NAME: "scrub_retired_learner",
        PluginSignals.SIGNAL_PATH: "openedx.core.djangoapps.user_api.accounts.signals.USER_RETIRE_LMS_MISC",
        PluginSignals.DISPATCH_UID: "openedx_pok.signals.scrub_retired_learner",
    },
]


class OpenedxPokConfig(AppConfig):
    name = "openedx_pok"
    label = "openedx_pok"
    verbose_name = "POK certificates"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        PluginURLs.CONFIG: {
            project_type: {
                PluginURLs.NAMESPACE: "openedx_pok",
                PluginURLs.REGEX: r"^pok/",
                PluginURLs.RELATIVE_PATH: "urls",
            }
            for project_type in ("lms.djangoapp", "cms.djangoapp")
        },
        PluginSettings.CONFIG: {
            "lms.djangoapp": _SETTINGS_BY_TYPE,
            "cms.djangoapp": _SETTINGS_BY_TYPE,
        },
        PluginSignals.CONFIG: {
            "lms.djangoapp": {PluginSignals.RELATIVE_PATH: "signals", PluginSignals.RECEIVERS: _RECEIVERS},
        },
    }

    def ready(self):
        # Registers the system checks, and the tasks the services queue by name.
        from openedx_pok import checks, tasks  # noqa: F401, PLC0415
