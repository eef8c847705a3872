"""
Adopting the database of the existing POK plugin (the registry's openedx-pok), which has the same
app label, the same table names and twelve migrations of its own (see docs/decisions/0005).

Migration 0001 sets its tables aside under ``openedx_pok_legacy_*``, so that 0002 can create ours;
0003 copies what maps onto our models. Nothing is dropped: the set-aside tables stay, and every row
that could not be adopted is reported, by the migration and by ``pok_adoption_report``.

The code reads the tables themselves, whichever of its migrations that plugin had reached, and never
imports our models: migrations pass their historical models in, the report command the real ones.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from django.core.management.color import no_style
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

# Each table of the existing plugin under its names before and after its migration 0009, and the
# column that only a table of ours has (a table with it was created by this plugin, not that one).
CERTIFICATE_TABLES = ("openedx_pok_pokcertificate", "openedx_pok_certificatepokapi")
TEMPLATE_TABLES = ("openedx_pok_certificatetemplate", "openedx_pok_coursetemplate")
OUR_COLUMNS = {
    "openedx_pok_pokcertificate": "public_id",
    "openedx_pok_certificatetemplate": "organization",
}
LEGACY_PREFIX = "openedx_pok_legacy_"
BATCH_SIZE = 500

# What our migration 0002 holds, frozen here: the adoption (migration 0003) writes into 0002's tables,
# whatever later migrations make of them, so it never asks today's models. The states are
# CredentialState's values.
POK_ID_LENGTH = 64
POK_STATE_LENGTH = 64
# The title, the emitter and the receiver's name.
NAME_LENGTH = 255
PAGE_ID_LENGTH = 64
TEMPLATE_ID_LENGTH = 64
EMAIL_LENGTH = 254
MODE_LENGTH = 100
EMISSION_TYPES = ("pok", "blockchain")
EMITTED, PROCESSING, FAILED, REVOKED = "emitted", "processing", "failed", "revoked"
# POK's final states other than emitted, read as the status sync reads them.
POK_FINAL_FAILURES = ("aborted", "signatureRejected")

ADOPTED_NOTE = "adopted from the existing POK plugin"
# Its request to POK failed, and it then stopped Open edX from creating the certificate: when the
# platform generates the certificate again, this plugin requests the credential (docs/operations.md).
NEVER_ISSUED = "no POK id: never issued"
# The report's word for an adoptable row that this plugin's tables do not hold (deleted since).
GONE = "not in this plugin's tables (any more)"


class AdoptionError(Exception):
    """The database is in a state the migration cannot adopt safely; the message says what to do."""


def archive_name(table: str) -> str:
    """openedx_pok_pokcertificate -> openedx_pok_legacy_pokcertificate."""
    return LEGACY_PREFIX + table.removeprefix("openedx_pok_")


def original_name(archive: str) -> str:
    return "openedx_pok_" + archive.removeprefix(LEGACY_PREFIX)


# -- migration 0001: the existing plugin's tables step aside ------------------------------------------


def set_aside_legacy_tables(schema_editor) -> list[tuple[str, str]]:
    """
    Rename the existing plugin's tables to ``openedx_pok_legacy_*`` and drop their foreign keys, so
    that deleting a user or a course never trips over rows no model knows any more. SQLite cannot
    drop a constraint without rebuilding the table; there (tests and development only) they stay.
    """
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    moved = []
    for table in (*CERTIFICATE_TABLES, *TEMPLATE_TABLES):
        if table not in existing:
            continue
        if OUR_COLUMNS.get(table) in _column_names(connection, table):
            raise AdoptionError(
                f"{table} already has this plugin's columns but its migrations are not recorded (a "
                "development version named its first migration 0001_initial). Record them with "
                "`manage.py lms migrate openedx_pok 0002_credentials_and_templates --fake`, then migrate."
            )
        archive = archive_name(table)
        if archive in existing:
            raise AdoptionError(
                f"Both {table} and {archive} exist: the existing POK plugin's tables were set aside "
                f"before. Compare the two, keep one (rename or drop {table}), then migrate again."
            )
        schema_editor.execute(
            schema_editor.sql_rename_table
            % {"old_table": schema_editor.quote_name(table), "new_table": schema_editor.quote_name(archive)}
        )
        if connection.vendor != "sqlite":
            _drop_foreign_keys(schema_editor, archive)
        moved.append((table, archive))
    return moved


def restore_legacy_tables(schema_editor) -> None:
    """Undo :func:`set_aside_legacy_tables` (their foreign keys are not recreated)."""
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    for archive in sorted(name for name in existing if name.startswith(LEGACY_PREFIX)):
        if original_name(archive) not in existing:
            schema_editor.execute(
                schema_editor.sql_rename_table
                % {
                    "old_table": schema_editor.quote_name(archive),
                    "new_table": schema_editor.quote_name(original_name(archive)),
                }
            )


def _drop_foreign_keys(schema_editor, table: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    for name, details in sorted(constraints.items()):
        if details.get("foreign_key"):
            schema_editor.execute(
                schema_editor.sql_delete_fk
                % {"table": schema_editor.quote_name(table), "name": schema_editor.quote_name(name)}
            )


def _column_names(connection, table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [column.name for column in connection.introspection.get_table_description(cursor, table)]


# -- reading the set-aside tables ----------------------------------------------------------------


def legacy_tables(connection) -> dict[str, str]:
    """{"certificates": table, "templates": table} for the set-aside tables that exist."""
    existing = set(connection.introspection.table_names())
    found = {}
    for kind, tables in (("certificates", CERTIFICATE_TABLES), ("templates", TEMPLATE_TABLES)):
        for table in tables:
            if archive_name(table) in existing:
                found[kind] = archive_name(table)
                break
    return found


def iter_legacy_rows(connection, table: str):
    """Every row of a set-aside table as a dict, by id, a batch at a time."""
    columns = _column_names(connection, table)
    quote = connection.ops.quote_name
    select = f"SELECT {', '.join(quote(column) for column in columns)} FROM {quote(table)}"  # noqa: S608
    last_id = None
    while True:
        where, params = ("", []) if last_id is None else (f" WHERE {quote('id')} > %s", [last_id])
        with connection.cursor() as cursor:
            cursor.execute(f"{select}{where} ORDER BY {quote('id')} LIMIT {BATCH_SIZE}", params)
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]


# -- what each row becomes --------------------------------------------------------------------------


@dataclass(frozen=True)
class NotAdopted:
    table: str
    row_id: int
    what: str
    reason: str


@dataclass(frozen=True)
class LeftOut:
    table: str
    row_id: int
    field: str
    reason: str


@dataclass
class AdoptionReport:
    tables: dict[str, str] = field(default_factory=dict)
    credentials_by_state: Counter = field(default_factory=Counter)
    templates: int = 0
    not_adopted: list[NotAdopted] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def credentials(self) -> int:
        return sum(self.credentials_by_state.values())

    def summary_lines(self) -> list[str]:
        if not self.tables:
            return ["No tables of the existing POK plugin: nothing to adopt."]
        states = ", ".join(f"{count} {state}" for state, count in sorted(self.credentials_by_state.items()))
        by_state = f" ({states})" if states else ""
        adopted = f"{self.credentials} credential(s){by_state} and {self.templates} course template(s)"
        lines = [f"Adopted from the existing POK plugin: {adopted}."]
        if self.credentials_by_state.get(PROCESSING):
            lines.append("Credentials POK is still processing get their status checked by the status sync.")
        for table in sorted(set(self.tables.values())):
            skipped = [row for row in self.not_adopted if row.table == table]
            if skipped:
                reasons = Counter(row.reason for row in skipped)
                listed = "; ".join(f"{reason} ({count})" for reason, count in sorted(reasons.items()))
                lines.append(f"Not adopted, kept in {table}: {len(skipped)} row(s): {listed}.")
        if self.left_out:
            lines.append(
                f"{len(self.left_out)} value(s) not adopted with their rows; kept in the set-aside tables."
            )
        if self.not_adopted or self.left_out:
            lines.append("Each row: manage.py lms pok_adoption_report")
        return lines


def credential_fields(row: dict, *, now: datetime) -> tuple[dict, list[tuple[str, str]]]:
    """
    Our PokCertificate's fields for a row of the existing plugin, and the values left out; raises
    ValueError with the reason when the row cannot become a credential of ours.
    """
    pok_id = str(row.get("pok_certificate_id") or "").strip()
    if not pok_id:
        raise ValueError(NEVER_ISSUED)
    if len(pok_id) > POK_ID_LENGTH:
        raise ValueError(f"POK id longer than {POK_ID_LENGTH} characters")
    course_key = _course_key(row.get("course_id"))
    pok_state = str(row.get("state") or "").strip()
    state = {"emitted": EMITTED, "revoked": REVOKED}.get(pok_state, PROCESSING)
    last_error = ""
    if pok_state in POK_FINAL_FAILURES:
        state, last_error = FAILED, f"POK reports the credential as {pok_state}"
    left_out = []
    page_id = _text(row.get("page"))
    if len(page_id) > PAGE_ID_LENGTH:
        left_out.append(("page", f"longer than {PAGE_ID_LENGTH} characters"))
        page_id = ""
    email = _text(row.get("receiver_email"))
    if len(email) > EMAIL_LENGTH:
        left_out.append(("receiver_email", f"longer than {EMAIL_LENGTH} characters"))
        email = ""
    tags = _json(row.get("tags"))
    tags = [str(tag) for tag in tags] if isinstance(tags, list) else []
    if row.get("custom_parameters") not in (None, "", "null"):
        left_out.append(("custom_parameters", "this plugin does not keep the parameters sent"))
    note = f"{ADOPTED_NOTE} (its row {row['id']}, state {pok_state or 'none'})"
    if left_out:
        note += "; left out: " + ", ".join(name for name, _reason in left_out)
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "course_key": course_key,
        "state": state,
        "pok_state": pok_state[:POK_STATE_LENGTH],
        "pok_credential_id": pok_id,
        "view_url": _text(row.get("view_url")),
        "page_id": page_id,
        "emission_type": _emission_type(row.get("emission_type")),
        "emission_date": _datetime(row.get("emission_date")),
        "title": _text(row.get("title"))[:NAME_LENGTH],
        "emitter": _text(row.get("emitter"))[:NAME_LENGTH],
        "tags": tags,
        "mode": _mode_from_tags(tags),
        "receiver_name": _text(row.get("receiver_name"))[:NAME_LENGTH],
        "receiver_email": email,
        # The existing plugin sent it once; what POK is still processing is due for a status check now.
        "attempts": 1,
        "last_error": last_error,
        "next_attempt_at": now if state == PROCESSING else None,
        "history": [{"at": now.isoformat(), "from": "", "to": state, "note": note}],
        "created": _datetime(row.get("created")) or now,
    }, left_out


def template_fields(row: dict) -> dict:
    """Our CertificateTemplate's fields (a course row, every mode); ValueError says why it cannot be."""
    course_id = row.get("course_id", row.get("course_id_id"))
    template_id = _text(row.get("template_id")).strip()
    if not template_id:
        raise ValueError("no template id")
    if len(template_id) > TEMPLATE_ID_LENGTH:
        raise ValueError(f"template id longer than {TEMPLATE_ID_LENGTH} characters")
    page_id = _text(row.get("page_id")).strip()
    if len(page_id) > PAGE_ID_LENGTH:
        raise ValueError(f"page id longer than {PAGE_ID_LENGTH} characters")
    emission_type = _text(row.get("emission_type")).strip()
    if emission_type and emission_type not in EMISSION_TYPES:
        raise ValueError(f"emission type {emission_type!r} is neither pok nor blockchain")
    return {
        "id": row["id"],
        "course_key": _course_key(course_id),
        "organization": "",
        "mode": "",
        "template_id": template_id,
        "page_id": page_id,
        "emission_type": emission_type,
        "created": _datetime(row.get("created")) or timezone.now(),
    }


def _course_key(value) -> CourseKey:
    try:
        return CourseKey.from_string(str(value or "").strip())
    except InvalidKeyError as error:
        raise ValueError("course id is not a course key") from error


def _text(value) -> str:
    return "" if value is None else str(value)


def _json(value):
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _datetime(value) -> datetime | None:
    """The databases hand datetimes back as text (SQLite) or naive UTC (MySQL with USE_TZ)."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _emission_type(value) -> str:
    value = _text(value).strip()
    return value if value in EMISSION_TYPES else ""


def _mode_from_tags(tags: list[str]) -> str:
    """The existing plugin tagged each credential ``Mode:<mode>``, the only place it kept the mode."""
    for tag in tags:
        if tag.startswith("Mode:") and tag[5:] not in ("", "None"):
            return tag[5:][:MODE_LENGTH]
    return ""


# -- migration 0003 and the report ----------------------------------------------------------------


def adopt(connection, *, credential_model, template_model, user_model) -> AdoptionReport:
    """Copy what maps from the set-aside tables into ours, all or nothing; returns what happened."""
    report = AdoptionReport(tables=legacy_tables(connection))
    if not report.tables:
        return report
    alias = connection.alias
    now = timezone.now()
    with transaction.atomic(using=alias):
        if "certificates" in report.tables:
            _adopt_certificates(connection, report, credential_model, user_model, now)
        if "templates" in report.tables:
            _adopt_templates(connection, report, template_model)
        _reset_sequences(connection, [credential_model, template_model])
    return report


def _adopt_certificates(connection, report, credential_model, user_model, now) -> None:
    table = report.tables["certificates"]
    alias = connection.alias
    seen_pok_ids: dict[str, int] = {}
    batch = []
    for row, fields, left_out in _mapped_certificates(connection, report, user_model, seen_pok_ids, now):
        batch.append(credential_model(**fields))
        report.credentials_by_state[fields["state"]] += 1
        report.left_out.extend(LeftOut(table, row["id"], name, reason) for name, reason in left_out)
        if len(batch) >= BATCH_SIZE:
            _save_keeping_dates(credential_model, batch, alias)
            batch = []
    _save_keeping_dates(credential_model, batch, alias)


def _mapped_certificates(connection, report, user_model, seen_pok_ids, now):
    """Yield (row, fields, left_out) for each adoptable row; record the others in ``report``."""
    table = report.tables["certificates"]
    alias = connection.alias
    rows = iter_legacy_rows(connection, table)
    while chunk := list(islice(rows, BATCH_SIZE)):
        user_ids = {row["user_id"] for row in chunk}
        known_users = set(
            user_model.objects.using(alias).filter(pk__in=user_ids).values_list("pk", flat=True)
        )
        for row in chunk:
            what = _describe_certificate(row)
            try:
                fields, left_out = credential_fields(row, now=now)
                if row["user_id"] not in known_users:
                    raise ValueError("user does not exist")
                first = seen_pok_ids.setdefault(fields["pok_credential_id"], row["id"])
                if first != row["id"]:
                    what += f", POK id also on row {first}"
                    raise ValueError("same POK id as an earlier row")
            except ValueError as error:
                report.not_adopted.append(NotAdopted(table, row["id"], what, str(error)))
                continue
            yield row, fields, left_out


def _describe_certificate(row: dict) -> str:
    return f"user {row['user_id']}, course {row.get('course_id')!r}, state {row.get('state') or 'none'}"


def _describe_template(row: dict) -> str:
    return f"course {row.get('course_id', row.get('course_id_id'))!r}, template {row.get('template_id')!r}"


def _mapped_templates(connection, report):
    """Yield (row, fields) for each adoptable template row; record the others in ``report``."""
    table = report.tables["templates"]
    for row in iter_legacy_rows(connection, table):
        try:
            fields = template_fields(row)
        except ValueError as error:
            report.not_adopted.append(NotAdopted(table, row["id"], _describe_template(row), str(error)))
            continue
        yield row, fields


def _adopt_templates(connection, report, template_model) -> None:
    batch = [template_model(**fields) for _row, fields in _mapped_templates(connection, report)]
    report.templates += len(batch)
    _save_keeping_dates(template_model, batch, connection.alias)


def _save_keeping_dates(model, instances, alias) -> None:
    """bulk_create stamps auto_now_add fields; the existing plugin's creation dates are put back after."""
    if not instances:
        return
    created = [instance.created for instance in instances]
    model.objects.using(alias).bulk_create(instances)
    for instance, moment in zip(instances, created, strict=True):
        instance.created = moment
    model.objects.using(alias).bulk_update(instances, ["created"])


def _reset_sequences(connection, models) -> None:
    """Rows keep their ids; where ids come from a sequence (PostgreSQL), it must move past them."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def report_adoption(connection, *, credential_model, template_model, user_model) -> AdoptionReport:
    """
    What the migration adopted, read again from the set-aside tables and ours: a row counts as
    adopted when ours holds the learner's credential for that course (in whatever state it is now).
    """
    report = AdoptionReport(tables=legacy_tables(connection))
    now = timezone.now()
    alias = connection.alias
    if "certificates" in report.tables:
        table = report.tables["certificates"]
        mapped = _mapped_certificates(connection, report, user_model, {}, now)
        while chunk := list(islice(mapped, BATCH_SIZE)):
            # Adopted rows kept their ids; the learner and course say it is still the same credential.
            held = {
                pk: (user_id, str(course_key), state)
                for pk, user_id, course_key, state in credential_model.objects.using(alias)
                .filter(pk__in=[row["id"] for row, _fields, _left_out in chunk])
                .values_list("pk", "user_id", "course_key", "state")
            }
            for row, fields, left_out in chunk:
                user_id, course_key, state = held.get(row["id"], (None, None, None))
                if (user_id, course_key) != (fields["user_id"], str(fields["course_key"])):
                    report.not_adopted.append(NotAdopted(table, row["id"], _describe_certificate(row), GONE))
                    continue
                report.credentials_by_state[state] += 1
                report.left_out.extend(LeftOut(table, row["id"], name, reason) for name, reason in left_out)
    if "templates" in report.tables:
        table = report.tables["templates"]
        mapped = _mapped_templates(connection, report)
        while chunk := list(islice(mapped, BATCH_SIZE)):
            held = dict(
                template_model.objects.using(alias)
                .filter(pk__in=[row["id"] for row, _fields in chunk])
                .values_list("pk", "course_key")
            )
            for row, fields in chunk:
                if row["id"] in held and str(held[row["id"]]) == str(fields["course_key"]):
                    report.templates += 1
                else:
                    report.not_adopted.append(NotAdopted(table, row["id"], _describe_template(row), GONE))
    return report
