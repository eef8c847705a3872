"""plugin_settings gives defaults only where the operator set nothing, and adds our steps once; conf.py
annotates every setting."""

import ast
import re
import sys
import types
from datetime import date
from pathlib import Path

import pytest
from edx_django_utils.plugins import add_plugins

from openedx_pok import conf
from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME, SETTINGS, SETTINGS_BY_NAME
from openedx_pok.settings.common import CREATION_FILTER, CREATION_STEP, RENDER_FILTER, RENDER_STEP

OTHER_STEP = "another_plugin.filters.SomeStep"


@pytest.fixture
def settings_module():
    """A blank settings module registered under a name, as LMS's settings modules are."""
    module = types.ModuleType("operator_settings")
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def test_every_setting_gets_its_default(settings_module):
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    for entry in SETTINGS:
        assert getattr(settings_module, entry.name) == entry.default


def test_operator_values_set_before_add_plugins_survive(settings_module):
    settings_module.POK_API_KEY = "operator-key"
    settings_module.POK_TIMEOUT = 42
    settings_module.POK_CUSTOM_PARAMETER_SOURCES = {"grade-param": "grade"}
    settings_module.OPEN_EDX_FILTERS_CONFIG = {
        CREATION_FILTER: {"fail_silently": False, "pipeline": [OTHER_STEP], "log_level": "debug"},
    }

    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    add_plugins(settings_module.__name__, "lms.djangoapp", "production")

    assert settings_module.POK_API_KEY == "operator-key"
    assert settings_module.POK_TIMEOUT == 42
    assert settings_module.POK_CUSTOM_PARAMETER_SOURCES == {"grade-param": "grade"}
    creation = settings_module.OPEN_EDX_FILTERS_CONFIG[CREATION_FILTER]
    assert creation == {"fail_silently": False, "pipeline": [OTHER_STEP, CREATION_STEP], "log_level": "debug"}
    assert settings_module.OPEN_EDX_FILTERS_CONFIG[RENDER_FILTER] == {
        "fail_silently": True,
        "pipeline": [RENDER_STEP],
    }


def test_operator_values_set_between_common_and_production_survive(settings_module):
    """LMS applies its YAML after the common plugin settings and before the production ones."""
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    settings_module.POK_API_URL = "https://api.credentity.xyz/"
    settings_module.POK_ENABLED_FOR_ALL_COURSES = True

    add_plugins(settings_module.__name__, "lms.djangoapp", "production")

    assert settings_module.POK_API_URL == "https://api.credentity.xyz/"
    assert settings_module.POK_ENABLED_FOR_ALL_COURSES is True


def test_steps_are_not_duplicated_when_plugin_settings_run_again(settings_module):
    for settings_type in ("common", "production", "common"):
        add_plugins(settings_module.__name__, "lms.djangoapp", settings_type)
    assert settings_module.OPEN_EDX_FILTERS_CONFIG[CREATION_FILTER]["pipeline"] == [CREATION_STEP]
    assert settings_module.OPEN_EDX_FILTERS_CONFIG[RENDER_FILTER]["pipeline"] == [RENDER_STEP]


def test_a_list_style_filter_config_keeps_its_steps(settings_module):
    settings_module.OPEN_EDX_FILTERS_CONFIG = {RENDER_FILTER: [OTHER_STEP]}
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    assert settings_module.OPEN_EDX_FILTERS_CONFIG[RENDER_FILTER] == {
        "fail_silently": True,
        "pipeline": [OTHER_STEP, RENDER_STEP],
    }


def test_defaults_are_copies_not_shared_objects(settings_module):
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    settings_module.POK_ALLOWED_URL_HOSTS.append("example.org")
    assert "example.org" not in SETTINGS_BY_NAME["POK_ALLOWED_URL_HOSTS"].default


def test_devstack_points_at_the_sandbox_unless_told_otherwise(settings_module):
    add_plugins(settings_module.__name__, "lms.djangoapp", "devstack")
    assert settings_module.POK_API_URL == "https://api.credentity.xyz/"


def test_production_points_at_production(settings_module):
    add_plugins(settings_module.__name__, "lms.djangoapp", "production")
    assert settings_module.POK_API_URL == "https://api.pok.tech/"


def test_the_safety_net_joins_the_beat_schedule_beside_the_operators_entries(settings_module):
    settings_module.POK_CELERY_QUEUE = "pok"
    settings_module.CELERYBEAT_SCHEDULE = {
        "operator-task": {"task": "their.task", "schedule": 30},
        "openedx-pok-sync-credential-statuses": {
            "task": "openedx_pok.tasks.sync_credential_statuses",
            "schedule": 600,
        },
    }
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    add_plugins(settings_module.__name__, "lms.djangoapp", "production")
    schedule = settings_module.CELERYBEAT_SCHEDULE
    assert schedule["operator-task"] == {"task": "their.task", "schedule": 30}
    assert schedule["openedx-pok-sync-credential-statuses"]["schedule"] == 600  # the operator's own entry
    assert schedule["openedx-pok-sweep-credentials"] == {
        "task": "openedx_pok.tasks.sweep_credentials",
        "schedule": 60,
        "options": {"queue": "pok"},
    }


def test_an_operator_can_keep_the_safety_net_out_of_the_beat_schedule(settings_module):
    settings_module.POK_ADD_BEAT_SCHEDULE = False
    add_plugins(settings_module.__name__, "lms.djangoapp", "common")
    assert getattr(settings_module, "CELERYBEAT_SCHEDULE", {}) == {}


# -- OEP-17 annotations (code-annotations' feature_toggle and setting formats) -----------------------

CONF = Path(conf.__file__)
TOGGLE_USE_CASES = {"temporary", "circuit_breaker", "vip", "opt_out", "opt_in", "open_edx"}


def annotation_blocks() -> list[tuple[dict[str, str], str]]:
    """Each run of ``# .. key: value`` comment lines in conf.py, and the code line right after it."""
    blocks, current, key = [], {}, None
    for line in CONF.read_text().splitlines():
        text = line.strip()
        match = re.match(r"# \.\. (\w+): (.*)", text)
        if match:
            key = match.group(1)
            current[key] = match.group(2)
        elif current and text.startswith("#   "):
            current[key] += " " + text[1:].strip()
        elif current:
            blocks.append((current, text))
            current, key = {}, None
    return blocks


def test_every_setting_is_annotated_with_its_own_name_and_default():
    annotated = {}
    for block, code in annotation_blocks():
        entry = re.match(r'Setting\("(\w+)", ', code)
        if entry:
            annotated[entry.group(1)] = block
    assert set(annotated) == set(SETTINGS_BY_NAME)
    for name, block in annotated.items():
        default = SETTINGS_BY_NAME[name].default
        kind = "toggle" if isinstance(default, bool) else "setting"
        assert block[f"{kind}_name"] == name
        assert ast.literal_eval(block[f"{kind}_default"]) == default
        assert block[f"{kind}_description"]


def test_toggles_carry_what_oep_17_asks_of_a_toggle():
    toggles = [block for block, _code in annotation_blocks() if "toggle_name" in block]
    names = {block["toggle_name"] for block in toggles}
    assert names == {name for name, entry in SETTINGS_BY_NAME.items() if isinstance(entry.default, bool)} | {
        COURSE_WAFFLE_FLAG_NAME
    }
    for block in toggles:
        assert block["toggle_implementation"] in {"CourseWaffleFlag", "DjangoSetting"}
        assert block["toggle_use_cases"] in TOGGLE_USE_CASES
        assert date.fromisoformat(block["toggle_creation_date"])
    (flag,) = [block for block in toggles if block["toggle_name"] == COURSE_WAFFLE_FLAG_NAME]
    assert (flag["toggle_implementation"], flag["toggle_default"]) == ("CourseWaffleFlag", "False")
