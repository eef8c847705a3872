"""
What each row of the existing POK plugin becomes (services.adoption), row by row; the migrations
on a real site of that plugin are in test_migrations.py.
"""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from opaque_keys.edx.keys import CourseKey

from openedx_pok.services.adoption import rows, tables

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PY101 = "course-v1:LegacyX+PY101+2025"


def certificate_row(**fields):
    """A row of the existing plugin's openedx_pok_pokcertificate, as the database hands it back."""
    return {
        "id": 7,
        "user_id": 3,
        "course_id": PY101,
        "pok_certificate_id": "9e80b81b-1441-472b-bbd7-0120ec370042",
        "state": "emitted",
        "created": "2025-05-01 09:30:00",
        **fields,
    }


@pytest.mark.parametrize(
    ("pok_state", "state", "due_now"),
    [
        ("emitted", "emitted", False),
        ("revoked", "revoked", False),
        ("aborted", "failed", False),
        ("signatureRejected", "failed", False),
        ("processing", "processing", True),
        ("waitingForApproval", "processing", True),
        ("draft", "processing", True),
        (None, "processing", True),
    ],
)
def test_poks_states_map_as_the_status_sync_reads_them(pok_state, state, due_now):
    fields, left_out = rows.credential_fields(certificate_row(state=pok_state), now=NOW)

    assert fields["state"] == state
    assert fields["pok_state"] == (pok_state or "")
    assert fields["next_attempt_at"] == (NOW if due_now else None)
    assert (fields["last_error"] != "") == (state == "failed")
    assert left_out == []


def test_dates_come_back_aware_whatever_the_database_hands_over():
    as_text = rows.credential_fields(certificate_row(emission_date="2025-06-01 10:00:00"), now=NOW)[0]
    naive = rows.credential_fields(certificate_row(emission_date=datetime(2025, 6, 1, 10)), now=NOW)[0]
    aware = rows.credential_fields(
        certificate_row(emission_date="2025-06-01T12:00:00+02:00", created=None), now=NOW
    )[0]

    assert as_text["emission_date"] == naive["emission_date"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert aware["emission_date"] == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert as_text["created"] == datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
    assert aware["created"] == NOW


def test_the_mode_is_read_from_the_tags_the_existing_plugin_sent():
    as_json = json.dumps(["StudentId:3", f"CourseId:{PY101}", "Mode:verified"])

    assert rows.credential_fields(certificate_row(tags=as_json), now=NOW)[0]["mode"] == "verified"
    assert rows.credential_fields(certificate_row(tags=["Mode:None"]), now=NOW)[0]["mode"] == ""
    assert rows.credential_fields(certificate_row(tags=None), now=NOW)[0]["tags"] == []


@pytest.mark.parametrize(
    ("value", "kept"), [("pok", "pok"), ("blockchain", "blockchain"), ("nft", ""), (None, "")]
)
def test_only_emission_types_pok_knows_are_kept(value, kept):
    assert rows.credential_fields(certificate_row(emission_type=value), now=NOW)[0]["emission_type"] == kept


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"pok_certificate_id": None}, "no POK id: never issued"),
        ({"pok_certificate_id": "  "}, "no POK id: never issued"),
        ({"pok_certificate_id": "x" * 65}, "POK id longer than 64 characters"),
        ({"course_id": "PY101"}, "course id is not a course key"),
    ],
)
def test_rows_that_cannot_be_credentials_say_why(fields, reason):
    with pytest.raises(ValueError, match=reason):
        rows.credential_fields(certificate_row(**fields), now=NOW)


def test_values_too_long_for_this_plugin_are_left_out_and_noted():
    fields, left_out = rows.credential_fields(
        certificate_row(
            page="p" * 65, receiver_email="a" * 250 + "@b.co", custom_parameters='{"grade": "90"}'
        ),
        now=NOW,
    )

    assert (fields["page_id"], fields["receiver_email"]) == ("", "")
    assert [name for name, _reason in left_out] == ["page", "receiver_email", "custom_parameters"]
    assert fields["history"][0]["note"] == (
        "adopted from the existing POK plugin (its row 7, state emitted); "
        "left out: page, receiver_email, custom_parameters"
    )


def test_a_course_template_row_becomes_a_course_row_for_every_mode():
    fields = rows.template_fields(
        {"id": 2, "course_id": PY101, "template_id": " tpl ", "page_id": None, "emission_type": None}
    )

    assert fields["course_key"] == CourseKey.from_string(PY101)
    assert (fields["organization"], fields["mode"]) == ("", "")
    assert (fields["template_id"], fields["page_id"], fields["emission_type"]) == ("tpl", "", "")


def test_template_rows_from_before_the_existing_plugins_migration_0004_are_read_too():
    """Its 0002 named the course column course_id_id; 0004 renamed it."""
    fields = rows.template_fields({"id": 2, "course_id_id": PY101, "template_id": "tpl"})

    assert fields["course_key"] == CourseKey.from_string(PY101)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"template_id": ""}, "no template id"),
        ({"template_id": "t" * 65}, "template id longer than 64 characters"),
        ({"page_id": "p" * 65}, "page id longer than 64 characters"),
        ({"emission_type": "nft"}, "emission type 'nft' is neither pok nor blockchain"),
    ],
)
def test_template_rows_this_plugin_cannot_hold_say_why(fields, reason):
    row = {"id": 2, "course_id": PY101, "template_id": "tpl", **fields}

    with pytest.raises(ValueError, match=reason):
        rows.template_fields(row)


@pytest.mark.django_db(transaction=True)
def test_tables_of_this_plugin_are_never_taken_for_the_existing_plugins():
    """A development database where our tables exist but the renamed migrations are not recorded."""
    with connection.schema_editor() as editor, pytest.raises(tables.AdoptionError) as raised:
        tables.set_aside_legacy_tables(editor)

    assert "migrate openedx_pok 0002_credentials_and_templates --fake" in str(raised.value)
    assert "openedx_pok_pokcertificate" in connection.introspection.table_names()


@pytest.mark.django_db
def test_the_report_on_a_site_that_never_ran_the_existing_plugin():
    out = StringIO()

    call_command("pok_adoption_report", stdout=out)

    assert out.getvalue() == "No tables of the existing POK plugin: nothing to adopt.\n"
