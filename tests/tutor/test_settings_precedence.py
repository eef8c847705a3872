"""
The rendered LMS settings, loaded the way LMS builds its settings: the platform's values, then the
plugin's `add_plugins` (common, then production), then Tutor's patch. The operator's values win.
"""

import importlib
import sys

import pytest

pytest.importorskip("tutor.hooks", reason="the Tutor lane needs the tutor package: run `make test-tutor`")

from openedx_pok.conf import setting_in
from openedx_pok.settings.common import CREATION_FILTER, CREATION_STEP

FRAGMENT_START = "# openedx-pok-credentials: values from the Tutor configuration"
FRAGMENT_END = "# end of openedx-pok-credentials settings\n"

# Stands for lms/envs/common.py (a schedule entry of the platform, a filter step of another plugin,
# then the common pass) and production.py (the operator's YAML, then the production pass).
PLATFORM_SETTINGS = """
from edx_django_utils.plugins import add_plugins

CELERYBEAT_SCHEDULE = {"platform-task": {"task": "platform.tasks.nightly", "schedule": 86400.0}}
OPEN_EDX_FILTERS_CONFIG = {
    "org.openedx.learning.certificate.creation.requested.v1": {
        "fail_silently": False,
        "pipeline": ["other_plugin.steps.Step"],
    },
}
add_plugins(__name__, "lms.djangoapp", "common")

POK_PAGE_ID = "page-from-yaml"
{yaml_lines}
add_plugins(__name__, "lms.djangoapp", "production")
"""


def rendered_fragment(settings_file: str) -> str:
    start = settings_file.index(FRAGMENT_START)
    end = settings_file.index(FRAGMENT_END, start) + len(FRAGMENT_END)
    return settings_file[start:end]


@pytest.fixture
def load_lms_settings(tutor_project, tmp_path, monkeypatch):
    """Import a settings module made of the platform's part and the fragment Tutor rendered."""

    def load(module_name: str, yaml_lines: str = ""):
        fragment = rendered_fragment(
            tutor_project.rendered("apps", "openedx", "settings", "lms", "production.py")
        )
        package = tmp_path / "settings_under_test"
        package.mkdir(exist_ok=True)
        (package / f"{module_name}.py").write_text(
            PLATFORM_SETTINGS.replace("{yaml_lines}", yaml_lines) + "\n" + fragment, encoding="utf-8"
        )
        monkeypatch.syspath_prepend(str(package))
        monkeypatch.delitem(sys.modules, module_name, raising=False)
        return importlib.import_module(module_name)

    return load


def test_the_operators_key_wins_over_the_plugin_default(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="k", POK_TIMEOUT="20")

    settings = load_lms_settings("lms_settings_with_key")

    assert settings.POK_API_KEY == "k"
    assert settings.POK_TIMEOUT == 20


def test_settings_left_empty_in_tutor_keep_yaml_values_and_plugin_defaults(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="k")

    settings = load_lms_settings("lms_settings_with_defaults")

    assert settings.POK_PAGE_ID == "page-from-yaml"
    # Nothing sets these: the plugin reads its own defaults.
    assert setting_in(settings, "POK_API_URL") == "https://api.pok.tech/"
    assert setting_in(settings, "POK_TIMEOUT") == 10
    assert setting_in(settings, "POK_TEMPLATE_ID") == ""


def test_the_schedule_and_the_filter_pipeline_are_extended_not_replaced(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="k")

    settings = load_lms_settings("lms_settings_extended")

    assert settings.CELERYBEAT_SCHEDULE == {
        "platform-task": {"task": "platform.tasks.nightly", "schedule": 86400.0},
        "openedx-pok-sweep-credentials": {
            "task": "openedx_pok.tasks.sweep_credentials",
            "schedule": 60.0,
            "options": {},
        },
        "openedx-pok-sync-credential-statuses": {
            "task": "openedx_pok.tasks.sync_credential_statuses",
            "schedule": 60.0,
            "options": {},
        },
        # Added by plugin_settings; the Tutor patch keeps it.
        "openedx-pok-reconcile-certificates": {
            "task": "openedx_pok.tasks.reconcile_certificates",
            "schedule": 3600,
            "options": {},
        },
    }
    assert settings.OPEN_EDX_FILTERS_CONFIG[CREATION_FILTER]["pipeline"] == [
        "other_plugin.steps.Step",
        CREATION_STEP,
    ]


def test_periodic_tasks_follow_the_operators_pok_queue(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="k")

    settings = load_lms_settings("lms_settings_with_queue", yaml_lines='POK_CELERY_QUEUE = "pok"')

    for name in (
        "openedx-pok-sweep-credentials",
        "openedx-pok-sync-credential-statuses",
        "openedx-pok-reconcile-certificates",
    ):
        assert settings.CELERYBEAT_SCHEDULE[name]["options"] == {"queue": "pok"}


def test_all_digit_ids_stay_strings(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="12345", POK_TEMPLATE_ID="678")

    settings = load_lms_settings("lms_settings_digit_ids")

    assert (settings.POK_API_KEY, settings.POK_TEMPLATE_ID) == ("12345", "678")


def test_a_key_with_quotes_and_backslashes_arrives_intact(tutor_project, load_lms_settings):
    awkward_key = "a'b\"c\\d"
    tutor_project.configure(POK_API_KEY=awkward_key)

    settings = load_lms_settings("lms_settings_awkward_key")

    assert awkward_key == settings.POK_API_KEY


def test_pok_accounts_come_from_the_tutor_configuration(tutor_project, load_lms_settings):
    tutor_project.configure(
        POK_API_KEY="k",
        POK_ACCOUNTS='{"school-b": {"API_KEY": "0123", "TEMPLATE_ID": "diploma"}}',
        POK_ORGANIZATION_ACCOUNTS='{"SchoolB": "school-b"}',
    )

    settings = load_lms_settings("lms_settings_accounts")

    assert settings.POK_ACCOUNTS == {"school-b": {"API_KEY": "0123", "TEMPLATE_ID": "diploma"}}
    assert settings.POK_ORGANIZATION_ACCOUNTS == {"SchoolB": "school-b"}
    assert "POK_ACCOUNTS = " in tutor_project.rendered("apps", "openedx", "settings", "cms", "production.py")


def test_no_accounts_configured_writes_none(tutor_project, load_lms_settings):
    tutor_project.configure(POK_API_KEY="k")

    settings = load_lms_settings("lms_settings_no_accounts")

    assert not hasattr(settings, "POK_ACCOUNTS")  # the plugin reads its own default, {}
    assert "POK_ACCOUNTS = " not in tutor_project.rendered(
        "apps", "openedx", "settings", "lms", "production.py"
    )
