"""
Migrations on a site that ran the existing POK plugin: the real openedx-pok 21.0.1 from the
registry (.venv-legacy) migrates a database and creates rows with its own models; this plugin then
migrates the same database, as `manage.py migrate` does on the site, and reads the rows back.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from opaque_keys.edx.keys import CourseKey

from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services import lifecycle, policy
from openedx_pok.services.issuing import operator_actions, sweep
from openedx_pok.services.templates.template_choice import choose_template
from tests.conftest import ACTIVE_CERTIFICATE_CONFIG
from tests.issuing import request_certificate
from tests.legacy_plugin.site import LegacySite

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)

PY101 = "course-v1:LegacyX+PY101+2025"
DS201 = "course-v1:LegacyX+DS201+2025"
ML301 = "course-v1:OtherU+ML301+2026"
EMITTED_ID = "9e80b81b-1441-472b-bbd7-0120ec370042"
PROCESSING_ID = "5b1c8a44-2f0d-4d7e-9a61-3c2e0f1d7a10"
WAITING_ID = "0d6f1e2a-7c55-4b8e-8a0b-9f4e2d1c3b77"
LONG_PAGE = "p" * 100

# What a site running the existing plugin holds, row by row, as that plugin writes its rows.
SCENARIO = {
    "users": ["ana", "ben", "chloe", "dan", "eve", "fay", "gus"],
    "courses": [PY101, DS201, ML301],
    "certificates": [
        {
            "user": "ana",
            "course_id": PY101,
            "pok_certificate_id": EMITTED_ID,
            "state": "emitted",
            "view_url": f"https://view.pok.tech/c/{EMITTED_ID}",
            "emission_date": "2025-06-01T10:00:00+00:00",
            "emission_type": "pok",
            "page": "landing-1",
            "title": "Python 101",
            "emitter": "Legacy University",
            "tags": ["StudentId:1", f"CourseId:{PY101}", "Mode:verified"],
            "receiver_email": "ana@example.com",
            "receiver_name": "Ana García",
        },
        {"user": "ben", "course_id": PY101, "pok_certificate_id": PROCESSING_ID, "state": "processing"},
        {
            "user": "chloe",
            "course_id": PY101,
            "pok_certificate_id": WAITING_ID,
            "state": "waitingForApproval",
        },
        {"user": "dan", "course_id": PY101, "pok_certificate_id": "revoked-in-pok", "state": "revoked"},
        {"user": "eve", "course_id": PY101, "pok_certificate_id": "aborted-in-pok", "state": "aborted"},
        {"user": "fay", "course_id": PY101, "pok_certificate_id": None, "state": None},
        {"user": "gus", "course_id": "not a course key", "pok_certificate_id": "stray", "state": "emitted"},
        {"user": "ana", "course_id": DS201, "pok_certificate_id": EMITTED_ID, "state": "emitted"},
        {
            "user": "ben",
            "course_id": DS201,
            "pok_certificate_id": "blockchain-one",
            "state": "emitted",
            "emission_type": "blockchain",
            "page": LONG_PAGE,
        },
        {
            "user": "chloe",
            "course_id": ML301,
            "pok_certificate_id": "with-parameters",
            "state": "emitted",
            "custom_parameters": {"grade": "90"},
        },
    ],
    "templates": [
        {"course": PY101, "template_id": "legacy-template", "page_id": "landing-1", "emission_type": "pok"},
        {"course": DS201, "template_id": "t" * 70, "page_id": None, "emission_type": "pok"},
        {"course": ML301, "template_id": "org-template", "page_id": None, "emission_type": None},
    ],
}
EXISTING_PLUGIN_MIGRATIONS = 12


@pytest.fixture(scope="session")
def adopted_site(tmp_path_factory):
    """
    The scenario's site, migrated by this plugin; what each step printed, and the rows it left. For
    the session: pytest-django runs this module's database tests apart from the others, and a
    module's fixture would be built once per group.
    """
    directory = tmp_path_factory.mktemp("adopted-site")
    site = LegacySite.create(directory, "adopted_site")
    try:
        seeded = site.seed(SCENARIO)
        migrated = site.manage("migrate", "--no-input")
        report = site.manage("pok_adoption_report")
        check = site.manage("pok_check", may_fail=True)  # POK itself is unreachable from the tests
        tables = site.table_row_counts()
        dump = directory / "adopted.json"
        site.manage("dumpdata", "auth.user", "course_overviews", "openedx_pok", f"--output={dump}")
        site.manage(
            "shell",
            "-c",
            "from openedx_pok.models import PokCertificate; PokCertificate.objects.filter(pk=2).delete()",
        )
        report_after_a_deletion = site.manage("pok_adoption_report")
        yield {
            "seeded": seeded,
            "migrated": migrated,
            "report": report,
            "report_after_a_deletion": report_after_a_deletion,
            "check": check,
            "tables": tables,
            "dump": dump,
        }
    finally:
        site.drop()


@pytest.fixture
def adopted(adopted_site, db):
    """This test's database holds what the migration made of the site's rows."""
    call_command("loaddata", str(adopted_site["dump"]), verbosity=0)
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

    CourseOverview.objects.update(certificates={"certificates": [ACTIVE_CERTIFICATE_CONFIG]})
    return dict(adopted_site["seeded"]["users"])


def credential(user_id, course_id) -> PokCertificate:
    return PokCertificate.objects.get(user_id=user_id, course_key=CourseKey.from_string(course_id))


# -- the existing plugin's side ------------------------------------------------------------------------


def test_the_site_ran_the_registrys_existing_plugin_and_all_its_migrations(adopted_site):
    seeded = adopted_site["seeded"]
    assert seeded["plugin_version"] == "21.0.1"
    assert "site-packages" in seeded["plugin_file"]
    assert len(seeded["migrations_on_disk"]) == EXISTING_PLUGIN_MIGRATIONS
    assert seeded["applied"] == seeded["migrations_on_disk"]
    assert seeded["migrations_on_disk"][-1] == "0012_alter_certificatetemplate_course"
    assert seeded["certificate_table"] == "openedx_pok_pokcertificate"


def test_no_migration_of_ours_bears_a_name_of_the_existing_plugins(adopted_site):
    ours = {
        name
        for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
        if app == "openedx_pok"
    }

    assert ours
    assert not ours & set(adopted_site["seeded"]["migrations_on_disk"])


# -- the migration ----------------------------------------------------------------------------------------


def test_the_existing_plugins_tables_are_kept_whole_under_new_names(adopted_site):
    assert adopted_site["tables"] == {
        "openedx_pok_legacy_pokcertificate": len(SCENARIO["certificates"]),
        "openedx_pok_legacy_certificatetemplate": len(SCENARIO["templates"]),
        "openedx_pok_pokcertificate": 7,
        "openedx_pok_certificatetemplate": 2,
        "openedx_pok_periodicrun": 0,
    }


def test_the_migration_says_what_it_set_aside_adopted_and_left(adopted_site):
    migrated = adopted_site["migrated"]

    assert "table openedx_pok_pokcertificate is kept as openedx_pok_legacy_pokcertificate" in migrated
    assert (
        "table openedx_pok_certificatetemplate is kept as openedx_pok_legacy_certificatetemplate" in migrated
    )
    assert (
        "Adopted from the existing POK plugin: 7 credential(s) (3 emitted, 1 failed, 2 processing, "
        "1 revoked) and 2 course template(s)." in migrated
    )
    assert (
        "Not adopted, kept in openedx_pok_legacy_pokcertificate: 3 row(s): course id is not a course key "
        "(1); no POK id: never issued (1); same POK id as an earlier row (1)." in migrated
    )
    assert (
        "Not adopted, kept in openedx_pok_legacy_certificatetemplate: 1 row(s): "
        "template id longer than 64 characters (1)." in migrated
    )
    assert "manage.py lms pok_adoption_report" in migrated


def test_the_report_names_an_adopted_row_deleted_since(adopted_site):
    before = [line for line in adopted_site["report"].splitlines() if line.startswith("  row 2 (user ")]
    after = [
        line
        for line in adopted_site["report_after_a_deletion"].splitlines()
        if line.startswith("  row 2 (user ")
    ]

    assert before == []
    assert len(after) == 1
    assert after[0].endswith("): not in this plugin's tables (any more)")


def test_the_report_command_names_each_row_left_and_why(adopted_site):
    report = adopted_site["report"]

    assert (
        "row 6 (user 6, course 'course-v1:LegacyX+PY101+2025', state none): no POK id: never issued" in report
    )
    assert "row 7 (user 7, course 'not a course key', state emitted): course id is not a course key" in report
    assert (
        "row 8 (user 1, course 'course-v1:LegacyX+DS201+2025', state emitted, POK id also on row 1)" in report
    )
    assert "openedx_pok_legacy_pokcertificate row 9, page: longer than 64 characters" in report
    assert "openedx_pok_legacy_pokcertificate row 10, custom_parameters:" in report
    assert "row 2 (course 'course-v1:LegacyX+DS201+2025', template 'tttt" in report
    assert "ana@example.com" not in report


def test_pok_check_sums_up_the_adoption(adopted_site):
    check = adopted_site["check"]

    assert "note: Adopted from the existing POK plugin: 7 credential(s) (3 emitted, 1 failed" in check
    assert "note: Not adopted, kept in openedx_pok_legacy_pokcertificate: 3 row(s)" in check


# -- what the adopted rows hold and do -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_emitted_credential_keeps_everything_the_existing_plugin_knew(adopted, adopted_site):
    adopted_row = credential(adopted["ana"], PY101)

    assert adopted_row.pk == 1
    assert adopted_row.state == S.EMITTED
    assert adopted_row.pok_credential_id == EMITTED_ID
    assert adopted_row.pok_state == "emitted"
    assert adopted_row.view_url == f"https://view.pok.tech/c/{EMITTED_ID}"
    assert adopted_row.emission_date == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    assert adopted_row.emission_type == "pok"
    assert adopted_row.page_id == "landing-1"
    assert (adopted_row.title, adopted_row.emitter) == ("Python 101", "Legacy University")
    assert (adopted_row.receiver_name, adopted_row.receiver_email) == ("Ana García", "ana@example.com")
    assert adopted_row.mode == "verified"
    assert adopted_row.next_attempt_at is None
    created_by_the_existing_plugin = datetime.fromisoformat(adopted_site["seeded"]["certificates"]["1"])
    # dumpdata, which brought the rows here, keeps milliseconds only.
    assert adopted_row.created == created_by_the_existing_plugin.replace(
        microsecond=created_by_the_existing_plugin.microsecond // 1000 * 1000
    )
    assert adopted_row.created < adopted_row.modified
    [entry] = adopted_row.history
    assert entry["to"] == S.EMITTED
    assert entry["note"] == "adopted from the existing POK plugin (its row 1, state emitted)"


@pytest.mark.django_db
def test_states_map_onto_this_plugins_states(adopted):
    states = {
        username: (row.state, row.pok_state, row.last_error)
        for username in ("ben", "chloe", "dan", "eve")
        for row in [credential(adopted[username], PY101)]
    }

    assert states == {
        "ben": (S.PROCESSING, "processing", ""),
        "chloe": (S.PROCESSING, "waitingForApproval", ""),
        "dan": (S.REVOKED, "revoked", ""),
        "eve": (S.FAILED, "aborted", "POK reports the credential as aborted"),
    }


@pytest.mark.django_db
def test_a_value_that_does_not_fit_is_left_out_and_said_so(adopted):
    adopted_row = credential(adopted["ben"], DS201)

    assert adopted_row.state == S.EMITTED
    assert adopted_row.emission_type == "blockchain"
    assert adopted_row.page_id == ""
    assert adopted_row.history[0]["note"].endswith("; left out: page")


@pytest.mark.django_db
def test_rows_that_could_not_be_adopted_are_not_credentials_of_ours(adopted):
    assert not PokCertificate.objects.filter(user_id=adopted["fay"]).exists()
    assert not PokCertificate.objects.filter(user_id=adopted["gus"]).exists()
    assert not PokCertificate.objects.filter(user_id=adopted["ana"], course_key=CourseKey.from_string(DS201))


@pytest.mark.django_db
def test_course_templates_become_course_templates_for_every_mode(adopted, settings):
    settings.POK_EMISSION_TYPE = "blockchain"
    settings.POK_PAGE_ID = ""

    py101 = choose_template(CourseKey.from_string(PY101), "verified")
    ml301 = choose_template(CourseKey.from_string(ML301), "honor")

    assert (py101.template_id, py101.page_id, py101.emission_type) == ("legacy-template", "landing-1", "pok")
    assert (ml301.template_id, ml301.page_id, ml301.emission_type) == ("org-template", "", "blockchain")
    assert not CertificateTemplate.objects.filter(course_key=CourseKey.from_string(DS201)).exists()


@transactional
def test_an_emitted_credential_is_shown_and_never_sent_again(
    adopted, fake_pok, queued_tasks, client, course_grade, make_platform_certificate, settings
):
    settings.POK_ENABLED_FOR_ALL_COURSES = True
    from django.contrib.auth import get_user_model

    ana = get_user_model().objects.get(pk=adopted["ana"])
    certificate = make_platform_certificate(ana, CourseKey.from_string(PY101))

    page = client.get(f"/certificates/{certificate.verify_uuid}").content.decode()
    request_certificate(ana, CourseKey.from_string(PY101), course_grade())
    queued_tasks.run()
    sweep.sweep()

    assert f'href="https://view.pok.tech/c/{EMITTED_ID}"' in page
    assert fake_pok.calls["POST credential"] == 0
    assert credential(adopted["ana"], PY101).state == S.EMITTED


@transactional
def test_credentials_pok_was_processing_get_their_status_checked_and_are_never_resent(
    adopted, fake_pok, queued_tasks
):
    fake_pok.emit_after = None
    fake_pok.add_credential(PROCESSING_ID, "processing")
    fake_pok.add_credential(WAITING_ID, "emitted")

    # No beat, no learner yet: the safety net finds their checks due since the migration.
    counts = sweep.sync_statuses(now=timezone.now() + policy.OVERDUE_CHECK_AFTER + timedelta(seconds=1))
    sweep.sweep()
    queued_tasks.run()

    assert counts["polled"] == 2
    assert fake_pok.calls["GET credential"] == 2
    assert fake_pok.calls["POST credential"] == 0
    assert credential(adopted["ben"], PY101).state == S.PROCESSING
    assert credential(adopted["ben"], PY101).next_attempt_at > timezone.now()
    assert credential(adopted["chloe"], PY101).state == S.EMITTED


@transactional
def test_a_credential_pok_aborted_is_not_retried_on_its_own(adopted, fake_pok, queued_tasks):
    aborted = credential(adopted["eve"], PY101)

    sweep.sweep(now=timezone.now() + timedelta(days=30))
    queued_tasks.run()

    assert fake_pok.calls["POST credential"] == 0
    assert credential(adopted["eve"], PY101).state == S.FAILED
    with pytest.raises(lifecycle.WrongState):
        operator_actions.retry_now(aborted)


# -- other sites -----------------------------------------------------------------------------------------


def test_a_site_still_at_an_older_migration_of_the_existing_plugin_is_adopted(tmp_path):
    """Before its 0009 the tables had other names, before its 0011 no page columns."""
    site = LegacySite.create(tmp_path, "older_site")
    try:
        seeded = site.seed(
            {
                "target": "0008_alter_coursetemplate_emission_type",
                "users": ["ana"],
                "courses": [PY101],
                "certificates": [
                    {"user": "ana", "course_id": PY101, "pok_certificate_id": "old-1", "state": "emitted"}
                ],
                "templates": [
                    {"course": PY101, "template_id": "old-template", "emission_type": "blockchain"}
                ],
            }
        )
        migrated = site.manage("migrate", "--no-input")
        tables = site.table_row_counts()
    finally:
        site.drop()

    assert seeded["certificate_table"] == "openedx_pok_certificatepokapi"
    assert "table openedx_pok_certificatepokapi is kept as openedx_pok_legacy_certificatepokapi" in migrated
    assert "table openedx_pok_coursetemplate is kept as openedx_pok_legacy_coursetemplate" in migrated
    assert "1 credential(s) (1 emitted) and 1 course template(s)." in migrated
    assert tables == {
        "openedx_pok_legacy_certificatepokapi": 1,
        "openedx_pok_legacy_coursetemplate": 1,
        "openedx_pok_pokcertificate": 1,
        "openedx_pok_certificatetemplate": 1,
        "openedx_pok_periodicrun": 0,
    }


def test_migrating_back_to_zero_gives_the_existing_plugin_its_tables_again(tmp_path):
    site = LegacySite.create(tmp_path, "rolled_back_site")
    try:
        site.seed(
            {
                "users": ["ana"],
                "courses": [PY101],
                "certificates": [
                    {"user": "ana", "course_id": PY101, "pok_certificate_id": "kept", "state": "emitted"}
                ],
                "templates": [{"course": PY101, "template_id": "kept-template"}],
            }
        )
        site.manage("migrate", "--no-input")
        site.manage("migrate", "openedx_pok", "zero", "--no-input")
        read_back = site.read_with_existing_plugin()
    finally:
        site.drop()

    assert read_back == {"certificates": ["kept"], "templates": ["kept-template"]}


@pytest.mark.django_db
def test_a_fresh_database_has_nothing_set_aside():
    tables = connection.introspection.table_names()

    assert "openedx_pok_pokcertificate" in tables
    assert not [table for table in tables if table.startswith("openedx_pok_legacy_")]


# -- who revoked, read from the history notes (0004) ---------------------------------------------------

REVOCATION_ORIGIN = ("openedx_pok", "0004_revocation_origin")


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_revocation_origin():
    """The database as it was before the revocation origin became a column; migrated back to the end after."""
    graph = MigrationExecutor(connection).loader.graph
    previous = [
        node.key for node in graph.node_map[REVOCATION_ORIGIN].parents if node.key[0] == "openedx_pok"
    ]
    yield migrate_to(previous)
    migrate_to(graph.leaf_nodes("openedx_pok"))


@transactional
def test_who_revoked_is_read_from_the_history_notes(before_revocation_origin):
    apps = before_revocation_origin
    user_model = apps.get_model("auth", "User")
    credential_model = apps.get_model("openedx_pok", "PokCertificate")
    rows = {
        "platform": ("revoked", "certificate revoked in Open edX", "ana@example.com"),
        "pok": ("revoked", "revoked in POK", "ana@example.com"),
        "operator": ("revoked", "issued by mistake (by staff)", "ana@example.com"),
        "retirement": ("revoked", "learner retired", ""),
        # Retirement blanked the notes of a row revoked earlier; the e-mail went with them.
        "retired later": ("revoked", "", ""),
        # Adopted from the existing plugin, which only knew POK's own revocations.
        "adopted": (
            "revoked",
            "adopted from the existing POK plugin (its row 7, state revoked)",
            "ana@example.com",
        ),
        "not revoked": ("emitted", "emitted by POK", "ana@example.com"),
    }
    for number, (label, (state, note, email)) in enumerate(rows.items()):
        user = user_model.objects.create(username=f"learner{number}")
        credential_model.objects.create(
            user=user,
            course_key=f"course-v1:ExampleX+PY{number}+2026",
            state=state,
            receiver_email=email,
            history=[{"at": "2026-01-01T00:00:00+00:00", "from": "emitted", "to": state, "note": note}],
            template_id=label,
        )

    apps = migrate_to([REVOCATION_ORIGIN])

    credential_model = apps.get_model("openedx_pok", "PokCertificate")
    origins = dict(credential_model.objects.values_list("template_id", "revoked_by"))
    assert origins == {
        "platform": "platform",
        "pok": "pok",
        "operator": "operator",
        "retirement": "retirement",
        "retired later": "retirement",
        "adopted": "pok",
        "not revoked": "",
    }
