"""
``pok_adoption_report [--summary]``: what this plugin adopted from the existing POK plugin's tables.

Migration 0003 adopts the rows; this command reads the set-aside ``openedx_pok_legacy_*`` tables and
ours again and says what became of each row: adopted (with the credential's state now), or not, and
why. It changes nothing; docs/operations.md says what to do about each reason.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection

from openedx_pok.models import CertificateTemplate, PokCertificate
from openedx_pok.services.adoption import copying


class Command(BaseCommand):
    help = "Report what was adopted from the existing POK plugin's tables, and what was not and why."

    def add_arguments(self, parser):
        parser.add_argument("--summary", action="store_true", help="Counts only, no line per row.")

    def handle(self, *args, summary, **options):
        report = copying.report_adoption(
            connection,
            credential_model=PokCertificate,
            template_model=CertificateTemplate,
            user_model=get_user_model(),
        )
        for line in report.summary_lines():
            self.stdout.write(line)
        if summary or not report.tables:
            return
        for table in sorted(set(report.tables.values())):
            rows = sorted(
                (row for row in report.not_adopted if row.table == table), key=lambda row: row.row_id
            )
            if rows:
                self.stdout.write(f"Not adopted, kept in {table}:")
            for row in rows:
                self.stdout.write(f"  row {row.row_id} ({row.what}): {row.reason}")
        if report.left_out:
            self.stdout.write("Adopted without these values, kept in the set-aside tables:")
        for value in report.left_out:
            self.stdout.write(f"  {value.table} row {value.row_id}, {value.field}: {value.reason}")
        self.stdout.write(
            "The set-aside tables stay until you drop them; see docs/operations.md, "
            "'Switching from the existing POK plugin'."
        )
