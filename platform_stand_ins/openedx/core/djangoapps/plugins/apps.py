"""Stand-in for the platform's plugins app: it connects every plugin's signal receivers when ready."""

from django.apps import AppConfig
from edx_django_utils.plugins import connect_plugin_receivers


class PluginsConfig(AppConfig):
    name = "openedx.core.djangoapps.plugins"
    label = "plugins"

    def ready(self):
        connect_plugin_receivers("lms.djangoapp")
