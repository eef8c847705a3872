"""
Migration 0003's copy of the existing plugin's rows into our tables, all or nothing, and the report
of what it adopted (the migration's summary, ``pok_adoption_report`` and ``pok_check``).
"""

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

from django.core.management.color import no_style
from django.db import transaction
from django.utils import timezone

from openedx_pok.services.adoption.rows import PROCESSING, credential_fields, template_fields
from openedx_pok.services.adoption.tables import BATCH_SIZE, iter_legacy_rows, legacy_tables

# The report's word for an adoptable row that this plugin's tables do not hold (deleted since).
GONE = "not in this plugin's tables (any more)"


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
