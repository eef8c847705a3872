"""
plugin_settings as the platform's settings modules run it: the ``common`` pass at the end of
``lms/envs/common.py``, then ``production.py`` applying the operator's YAML and running the
``production`` pass; ``devstack.py`` star-importing production and running its own pass;
``development.py`` (master) and ``test.py`` star-importing common. Whatever the plugin derives
follows the operator's values in every order. conf.py annotates every setting.
"""

import ast
import re
import sys
import types
from datetime import date
from pathlib import Path

import pytest
from edx_django_utils.plugins import add_plugins

from openedx_pok import conf
from openedx_pok.celery_schedule import RECONCILE_ENTRY, SWEEP_ENTRY, SYNC_ENTRY
from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME, SETTINGS_BY_NAME
from openedx_pok.settings.common import CREATION_FILTER, CREATION_STEP, RENDER_FILTER, RENDER_STEP
from openedx_pok.settings.devstack import POK_SANDBOX_API_URL

OTHER_STEP = "another_plugin.filters.SomeStep"
OUR_BEAT_ENTRIES = {SWEEP_ENTRY, SYNC_ENTRY, RECONCILE_ENTRY}
# production.py merges these YAML keys into the defaults instead of replacing them; none is ours.
KEYS_WITH_MERGED_VALUES = {
    "FEATURES",
    "TRACKING_BACKENDS",
    "EVENT_TRACKING_BACKENDS",
    "JWT_AUTH",
    "CELERY_QUEUES",
    "REST_FRAMEWORK",
    "EVENT_BUS_PRODUCER_CONFIG",
    "DEFAULT_FILE_STORAGE",
    "STATICFILES_STORAGE",
}


class PlatformSettings:
    """Settings modules built in the order the platform's environment files build them."""

    def __init__(self):
        self.modules = []

    def module(self, name, star_import_from=None):
        """A settings module registered under its name; ``star_import_from`` copies public names, as
        ``from .production import *`` does (the same objects, not copies)."""
        module = types.ModuleType(name)
        if star_import_from is not None:
            for key, value in vars(star_import_from).items():
                if not key.startswith("_"):
                    setattr(module, key, value)
        sys.modules[name] = module
        self.modules.append(name)
        return module

    def common(self, **before_plugins):
        """lms/envs/common.py: its own values, then every plugin's common pass at its end."""
        module = self.module("platform_lms_common")
        module.OPEN_EDX_FILTERS_CONFIG = {}
        module.CELERYBEAT_SCHEDULE = {}
        for key, value in before_plugins.items():
            setattr(module, key, value)
        add_plugins(module.__name__, "lms.djangoapp", "common")
        return module

    def settings_file(self, name, star_import_from, values, settings_type):
        """A settings file: star-imports another, sets its values, runs one plugin pass."""
        module = self.module(name, star_import_from=star_import_from)
        for key, value in values.items():
            setattr(module, key, value)
        add_plugins(module.__name__, "lms.djangoapp", settings_type)
        return module

    def production(self, yaml):
        """lms/envs/production.py: common, the YAML over it (vars().update), the production pass."""
        replaced = {key: value for key, value in yaml.items() if key not in KEYS_WITH_MERGED_VALUES}
        return self.settings_file("platform_lms_production", self.common(), replaced, "production")

    def devstack(self, yaml):
        """lms/envs/devstack.py: everything production does, then the devstack pass."""
        return self.settings_file("platform_lms_devstack", self.production(yaml), {}, "devstack")

    def development(self, yaml):
        """lms/envs/development.py (master's successor to devstack): common, its values, the devstack pass."""
        return self.settings_file("platform_lms_development", self.common(), yaml, "devstack")

    def test(self, yaml):
        """lms/envs/test.py: common, values of its own (here the operator's), the test pass."""
        return self.settings_file("platform_lms_test", self.common(), yaml, "test")

    def build(self, order, yaml):
        return getattr(self, order)(yaml)

    def forget(self):
        for name in self.modules:
            sys.modules.pop(name, None)


ORDERS = ("production", "devstack", "development", "test")


@pytest.fixture
def platform():
    built = PlatformSettings()
    yield built
    built.forget()


def our_beat_entries(module):
    return {name: entry for name, entry in module.CELERYBEAT_SCHEDULE.items() if name in OUR_BEAT_ENTRIES}


@pytest.mark.parametrize("order", ORDERS)
def test_the_safety_net_joins_the_beat_schedule_unrouted_by_default(platform, order):
    module = platform.build(order, yaml={})
    entries = our_beat_entries(module)
    assert set(entries) == OUR_BEAT_ENTRIES
    assert entries[SWEEP_ENTRY] == {
        "task": "openedx_pok.tasks.sweep_credentials",
        "schedule": 60,
        "options": {},
    }


@pytest.mark.parametrize("order", ORDERS)
def test_the_operators_queue_routes_the_safety_net(platform, order):
    module = platform.build(order, yaml={"POK_CELERY_QUEUE": "edx.lms.core.pok"})
    assert {entry["options"]["queue"] for entry in our_beat_entries(module).values()} == {"edx.lms.core.pok"}
    assert len(our_beat_entries(module)) == 3


@pytest.mark.parametrize("order", ORDERS)
def test_the_operator_can_keep_the_safety_net_out_of_the_beat_schedule(platform, order):
    module = platform.build(order, yaml={"POK_ADD_BEAT_SCHEDULE": False, "POK_CELERY_QUEUE": "pok"})
    assert our_beat_entries(module) == {}


@pytest.mark.parametrize("order", ORDERS)
def test_the_operators_own_beat_entries_stay_as_written(platform, order):
    their_sync = {"task": "openedx_pok.tasks.sync_credential_statuses", "schedule": 600}
    yaml = {
        "POK_CELERY_QUEUE": "pok",
        "CELERYBEAT_SCHEDULE": {
            "operator-task": {"task": "their.task", "schedule": 30},
            SYNC_ENTRY: their_sync,
        },
    }
    module = platform.build(order, yaml=yaml)
    assert module.CELERYBEAT_SCHEDULE["operator-task"] == {"task": "their.task", "schedule": 30}
    assert module.CELERYBEAT_SCHEDULE[SYNC_ENTRY] == their_sync
    assert module.CELERYBEAT_SCHEDULE[SWEEP_ENTRY]["options"] == {"queue": "pok"}


def test_the_operators_entries_set_before_the_common_pass_stay_as_written(platform):
    their_sweep = {"task": "openedx_pok.tasks.sweep_credentials", "schedule": 5}
    module = platform.common(CELERYBEAT_SCHEDULE={SWEEP_ENTRY: their_sweep}, POK_ADD_BEAT_SCHEDULE=False)
    assert {SWEEP_ENTRY: their_sweep} == module.CELERYBEAT_SCHEDULE


@pytest.mark.parametrize(
    ("order", "url"),
    [
        ("production", None),
        ("devstack", POK_SANDBOX_API_URL),
        ("development", POK_SANDBOX_API_URL),
        ("test", POK_SANDBOX_API_URL),
    ],
)
def test_development_and_test_settings_point_at_the_sandbox(platform, order, url):
    module = platform.build(order, yaml={})
    assert getattr(module, "POK_API_URL", None) == url


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    "url", ["https://api.pok.tech/", "https://api.credentity.xyz/", "http://127.0.0.1:9000/"]
)
def test_the_operators_api_url_wins_in_every_order(platform, order, url):
    assert url == platform.build(order, yaml={"POK_API_URL": url}).POK_API_URL


@pytest.mark.parametrize("order", ORDERS)
def test_the_operators_values_are_kept_and_nothing_else_is_written(platform, order):
    yaml = {"POK_API_KEY": "operator-key", "POK_TIMEOUT": 42, "POK_CUSTOM_PARAMETER_SOURCES": {"p": "grade"}}
    module = platform.build(order, yaml=yaml)
    written = {name for name in SETTINGS_BY_NAME if hasattr(module, name)}
    assert written == set(yaml) | ({"POK_API_URL"} if order != "production" else set())
    for name, value in yaml.items():
        assert getattr(module, name) == value


@pytest.mark.parametrize("order", ORDERS)
def test_a_filters_configuration_replaced_by_the_yaml_gets_our_steps_back(platform, order):
    yaml = {
        "OPEN_EDX_FILTERS_CONFIG": {
            CREATION_FILTER: {"fail_silently": False, "pipeline": [OTHER_STEP], "log_level": "debug"},
        }
    }
    module = platform.build(order, yaml=yaml)
    filters = module.OPEN_EDX_FILTERS_CONFIG
    assert filters[CREATION_FILTER] == {
        "fail_silently": False,
        "pipeline": [OTHER_STEP, CREATION_STEP],
        "log_level": "debug",
    }
    assert filters[RENDER_FILTER] == {"fail_silently": True, "pipeline": [RENDER_STEP]}


@pytest.mark.parametrize("order", ORDERS)
def test_our_steps_are_added_once_whatever_the_number_of_passes(platform, order):
    filters = platform.build(order, yaml={}).OPEN_EDX_FILTERS_CONFIG
    assert filters[CREATION_FILTER]["pipeline"] == [CREATION_STEP]
    assert filters[RENDER_FILTER]["pipeline"] == [RENDER_STEP]


def test_a_list_style_filter_config_keeps_its_steps(platform):
    module = platform.common(OPEN_EDX_FILTERS_CONFIG={RENDER_FILTER: [OTHER_STEP]})
    assert module.OPEN_EDX_FILTERS_CONFIG[RENDER_FILTER] == {
        "fail_silently": True,
        "pipeline": [OTHER_STEP, RENDER_STEP],
    }


def test_an_unset_setting_reads_its_default(settings):
    assert not hasattr(settings, "POK_TIMEOUT")
    assert conf.setting("POK_TIMEOUT") == SETTINGS_BY_NAME["POK_TIMEOUT"].default
    settings.POK_TIMEOUT = 3
    assert conf.setting("POK_TIMEOUT") == 3


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
