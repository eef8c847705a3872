"""Each system check fires on the misconfiguration it names, and stays silent on a sound configuration."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection

from openedx_pok.checks import check_existing_plugin_installed
from openedx_pok.models import CertificateTemplate

# Shared between processes, as memcached or Redis are on a real platform; never connected to here.
SHARED_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "openedx_pok_checks"}
}


def pok_check_ids(databases=(DEFAULT_DB_ALIAS,)):
    """Run every registered check, as `manage.py check --database default` and `migrate` do, and keep ours."""
    messages = run_checks(databases=list(databases) if databases is not None else None)
    return sorted(message.id for message in messages if message.id.startswith("openedx_pok."))


@pytest.fixture
def sound(settings, db):
    """A configuration that must produce no message at all."""
    settings.POK_API_URL = "https://api.pok.tech/"
    settings.POK_API_KEY = "0b6b4a7e-6c1b-4c55-9a5b-3c5f3f7e8a11"
    settings.POK_ENABLED_FOR_ALL_COURSES = True
    settings.POK_TEMPLATE_ID = "default-template"
    settings.POK_DATE_FORMAT = "dd/MM/yyyy"
    settings.POK_EMISSION_TYPE = "pok"
    settings.CACHES = SHARED_CACHES
    return settings


def test_a_sound_configuration_produces_no_message(sound):
    assert pok_check_ids() == []


def test_pok_on_for_all_courses_without_an_api_key_is_an_error(sound):
    sound.POK_API_KEY = ""
    assert "openedx_pok.E001" in pok_check_ids()


def test_an_empty_api_key_is_fine_while_pok_is_off(sound):
    sound.POK_API_KEY = ""
    sound.POK_ENABLED_FOR_ALL_COURSES = False
    assert pok_check_ids() == []


@pytest.mark.parametrize("url", ["api.pok.tech", "ftp://api.pok.tech/", "https://", "", None, "http://[::1"])
def test_a_malformed_url_is_an_error(sound, url):
    sound.POK_API_URL = url
    assert pok_check_ids() == ["openedx_pok.E002"]


def test_plain_http_to_a_remote_host_is_an_error(sound):
    sound.POK_API_URL = "http://api.pok.tech/"
    assert pok_check_ids() == ["openedx_pok.E003"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/", "http://localhost:8765/"])
def test_plain_http_to_a_local_fake_server_is_only_a_warning(sound, url):
    sound.POK_API_URL = url
    assert pok_check_ids() == ["openedx_pok.W001"]


def test_the_sandbox_url_is_accepted(sound):
    sound.POK_API_URL = "https://api.credentity.xyz/"
    assert pok_check_ids() == []


@pytest.mark.parametrize("date_format", ["yyyy-MM-dd", "dd/mm/yyyy", ""])
def test_an_unknown_date_format_is_an_error(sound, date_format):
    sound.POK_DATE_FORMAT = date_format
    assert pok_check_ids() == ["openedx_pok.E004"]


def test_the_american_date_format_is_accepted(sound):
    sound.POK_DATE_FORMAT = "MM/dd/yyyy"
    assert pok_check_ids() == []


@pytest.mark.parametrize("emission_type", ["nft", "POK", ""])
def test_an_unknown_emission_type_is_an_error(sound, emission_type):
    sound.POK_EMISSION_TYPE = emission_type
    assert pok_check_ids() == ["openedx_pok.E005"]


def test_blockchain_emission_is_accepted(sound):
    sound.POK_EMISSION_TYPE = "blockchain"
    assert pok_check_ids() == []


def test_no_default_template_and_no_template_rows_is_a_warning(sound):
    sound.POK_TEMPLATE_ID = ""
    assert pok_check_ids() == ["openedx_pok.W002"]


def test_the_template_rows_are_only_checked_when_the_database_checks_run(sound):
    sound.POK_TEMPLATE_ID = ""
    assert pok_check_ids(databases=None) == []


def test_a_plain_check_makes_no_query(sound, django_assert_num_queries):
    """`check` runs at every Celery worker's start-up; only `migrate` and `check --database` query."""
    sound.POK_TEMPLATE_ID = ""
    sound.POK_ACCOUNTS = {"school-b": {"API_KEY": "key"}}
    with django_assert_num_queries(0):
        call_command("check", stdout=io.StringIO())


@pytest.mark.parametrize("database_option", [[], ["--database", "default"]])
def test_settings_that_name_no_database_pass_the_checks(database_option):
    """A settings module without DATABASES (a build step, a docs job) must get through `check`."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "django",
            "check",
            *database_option,
            "--settings=tests.settings_without_database",
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "platform_stand_ins")])},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_template_rows_make_a_default_template_unnecessary(sound):
    sound.POK_TEMPLATE_ID = ""
    CertificateTemplate.objects.create(organization="ExampleX", template_id="org-template")
    assert pok_check_ids() == []


def test_the_template_check_stays_silent_before_migrations(transactional_db, sound):
    """Checks run before `migrate` creates the tables; the template check must not crash then."""
    sound.POK_TEMPLATE_ID = ""
    table = CertificateTemplate._meta.db_table
    with connection.schema_editor() as editor:
        editor.delete_model(CertificateTemplate)
    try:
        assert table not in connection.introspection.table_names()
        assert pok_check_ids() == []
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(CertificateTemplate)


def test_no_celery_beat_is_needed(sound):
    """Credentials drive themselves; the beat entries are only a safety net."""
    sound.CELERYBEAT_SCHEDULE = {}
    assert pok_check_ids() == []


@pytest.mark.parametrize(
    "backend",
    ["django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"],
)
def test_a_cache_each_process_keeps_to_itself_is_a_warning(sound, backend):
    sound.CACHES = {"default": {"BACKEND": backend}}
    messages = [message for message in run_checks() if message.id.startswith("openedx_pok.")]
    assert [message.id for message in messages] == ["openedx_pok.W005"]
    assert backend in messages[0].msg


def test_an_unconfigured_plugin_does_not_ask_for_templates_or_a_shared_cache(sound):
    sound.POK_API_KEY = ""
    sound.POK_ENABLED_FOR_ALL_COURSES = False
    sound.POK_TEMPLATE_ID = ""
    sound.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert pok_check_ids() == []


def test_custom_parameter_sources_with_known_names_are_accepted(sound):
    sound.POK_CUSTOM_PARAMETER_SOURCES = {"final-grade": "grade", "dean": "signatory_4_name"}
    assert pok_check_ids() == []


def test_a_custom_parameter_source_that_does_not_exist_is_a_warning_naming_it(sound):
    sound.POK_CUSTOM_PARAMETER_SOURCES = {"final-grade": "grade", "dean": "signatory_5_name"}
    (message,) = [message for message in run_checks() if message.id.startswith("openedx_pok.")]
    assert message.id == "openedx_pok.W004"
    assert "'dean': 'signatory_5_name'" in message.msg
    assert "final-grade" not in message.msg


def test_custom_parameter_sources_that_are_not_a_dict_are_a_warning(sound):
    sound.POK_CUSTOM_PARAMETER_SOURCES = [("final-grade", "grade")]
    assert pok_check_ids() == ["openedx_pok.W004"]


def test_a_requesting_timeout_within_a_calls_deadline_is_an_error(sound):
    """Else the sweep calls a POST still waiting for POK unknown, and a retry pays twice."""
    sound.POK_TIMEOUT = 580
    sound.POK_CONNECT_TIMEOUT = 10
    sound.POK_REQUESTING_TIMEOUT = 600

    (message,) = [message for message in run_checks() if message.id == "openedx_pok.E006"]

    assert "590 s" in message.msg
    assert "at least 620" in message.hint


@pytest.mark.parametrize(("timeout", "ids"), [(10, []), (566, []), (566.5, ["openedx_pok.E006"])])
def test_the_requesting_timeout_needs_the_deadline_plus_a_margin(sound, timeout, ids):
    sound.POK_TIMEOUT = timeout
    sound.POK_CONNECT_TIMEOUT = 4
    sound.POK_REQUESTING_TIMEOUT = 600
    assert pok_check_ids() == ids


def test_the_requesting_timeout_is_not_checked_while_pok_is_off(sound):
    sound.POK_API_KEY = ""
    sound.POK_ENABLED_FOR_ALL_COURSES = False
    sound.POK_REQUESTING_TIMEOUT = 1
    assert pok_check_ids() == []


def test_the_existing_plugins_distribution_installed_alongside_is_an_error(sound, tmp_path, monkeypatch):
    dist_info = tmp_path / "openedx_pok-21.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: openedx-pok\nVersion: 21.0.1\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    [error] = check_existing_plugin_installed()

    assert error.id == "openedx_pok.E008"
    assert "openedx-pok 21.0.1" in error.msg
    assert "pip uninstall openedx-pok" in error.hint
    assert "pip install --force-reinstall --no-deps openedx-pok-credentials" in error.hint
    assert "openedx_pok.E008" in pok_check_ids()


def test_this_distribution_alone_raises_no_error(sound):
    assert check_existing_plugin_installed() == []


@pytest.mark.parametrize(
    "step", ["openedx_pok.filters.CertificateCreatedFilter", "openedx_pok.filters.CertificateRenderFilter"]
)
def test_a_pipeline_step_of_the_existing_plugin_is_an_error_naming_where_it_is(sound, step):
    filter_type = "org.openedx.learning.certificate.render.started.v1"
    sound.OPEN_EDX_FILTERS_CONFIG = {
        filter_type: {
            "fail_silently": False,
            "pipeline": [step, "openedx_pok.filters.RenderPokCredentialStep"],
        }
    }

    [error] = [message for message in run_checks() if message.id == "openedx_pok.E009"]

    assert repr(step) in error.msg
    assert f"Remove {step!r} from OPEN_EDX_FILTERS_CONFIG[{filter_type!r}]['pipeline']" in error.hint


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ([("school-b", "key")], "not a dict"),
        ({"school-b": "key"}, "not a dict"),
        ({"default": {"API_KEY": "key"}}, "names an account 'default'"),
        ({"school-b": {"API_KEY": "key", "TEMPLATE": "t"}}, "unknown keys: TEMPLATE"),
    ],
)
def test_a_malformed_account_is_an_error_saying_what_is_wrong(sound, accounts, message):
    sound.POK_ACCOUNTS = accounts
    [error] = [check for check in run_checks() if check.id == "openedx_pok.E010"]
    assert message in error.msg


def test_an_account_without_its_own_key_is_an_error(sound):
    sound.POK_ACCOUNTS = {"school-b": {"TEMPLATE_ID": "diploma"}}
    assert pok_check_ids() == ["openedx_pok.E012"]


def test_an_organisation_mapped_to_an_undefined_account_is_an_error(sound):
    sound.POK_ACCOUNTS = {"school-b": {"API_KEY": "key"}}
    sound.POK_ORGANIZATION_ACCOUNTS = {"SchoolB": "school-b", "SchoolC": "school-c"}
    [error] = [check for check in run_checks() if check.id == "openedx_pok.E011"]
    assert "'SchoolC'" in error.msg
    assert "'school-c'" in error.msg


def test_a_template_row_naming_an_undefined_account_is_a_warning(sound, course_key):
    CertificateTemplate.objects.create(course_key=course_key, template_id="diploma", account="gone")
    assert pok_check_ids() == ["openedx_pok.W006"]


def test_well_configured_accounts_say_nothing(sound, course_key):
    sound.POK_ACCOUNTS = {"school-b": {"API_KEY": "key", "TEMPLATE_ID": "diploma"}}
    sound.POK_ORGANIZATION_ACCOUNTS = {"SchoolB": "school-b"}
    CertificateTemplate.objects.create(course_key=course_key, template_id="diploma", account="school-b")
    assert pok_check_ids() == []
