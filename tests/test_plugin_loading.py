"""The plugin is found and loaded the way LMS loads plugins: installed entry points and edx-django-utils."""

from django.apps import apps
from django.conf import settings
from django.urls import reverse
from edx_django_utils.plugins import get_plugin_apps, get_plugin_url_patterns

from openedx_pok.conf import setting
from openedx_pok.settings.common import CREATION_FILTER, CREATION_STEP, RENDER_FILTER, RENDER_STEP


def test_entry_points_name_the_app_config_for_lms_and_cms():
    assert "openedx_pok.apps.OpenedxPokConfig" in get_plugin_apps("lms.djangoapp")
    assert "openedx_pok.apps.OpenedxPokConfig" in get_plugin_apps("cms.djangoapp")


def test_the_app_is_installed_from_the_entry_point():
    assert apps.get_app_config("openedx_pok").verbose_name == "POK certificates"


def test_add_plugins_put_both_steps_in_the_filter_config():
    assert settings.OPEN_EDX_FILTERS_CONFIG[CREATION_FILTER]["pipeline"] == [CREATION_STEP]
    assert settings.OPEN_EDX_FILTERS_CONFIG[RENDER_FILTER]["pipeline"] == [RENDER_STEP]


def test_plugin_urls_live_under_their_own_prefix():
    patterns = get_plugin_url_patterns("lms.djangoapp")
    assert [str(pattern.pattern) for pattern in patterns] == ["^pok/"]
    assert reverse("admin:index") == "/admin/"


def test_the_hosts_values_and_the_plugins_defaults_are_what_the_plugin_reads():
    assert setting("POK_API_KEY") == "test-api-key"
    assert not hasattr(settings, "POK_TIMEOUT")
    assert setting("POK_TIMEOUT") == 10


def test_signal_receivers_are_connected_through_the_plugin_config():
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC
    from openedx_events.learning.signals import CERTIFICATE_REVOKED

    def dispatch_uids(signal):
        return {receiver[0][0] for receiver in signal.receivers}

    assert "openedx_pok.signals.mark_credential_revoked" in dispatch_uids(CERTIFICATE_REVOKED)
    assert "openedx_pok.signals.scrub_retired_learner" in dispatch_uids(USER_RETIRE_LMS_MISC)
