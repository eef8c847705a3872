"""
``pok_reconcile [--days N] [--dry-run]``: request the credentials the creation step missed.

Looks at the downloadable certificates the platform changed in the last N days (default
POK_RECONCILE_DAYS) and requests, exactly as the creation step does, a credential for each one in a
POK course that has none (the filter was not configured, the database failed under it, or the
plugin was installed meanwhile). The workers do the POSTs. It also runs by itself every half hour.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from openedx_pok.services.issuing import reconciliation


class Command(BaseCommand):
    help = "Request POK credentials for recent downloadable certificates that have none."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, help="How far back to look (default: POK_RECONCILE_DAYS).")
        parser.add_argument(
            "--limit",
            type=int,
            default=reconciliation.MAX_REQUESTS_PER_RUN,
            help="Most credentials to request in this run.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what is missing; request nothing.")

    def handle(self, *args, days, limit, dry_run, **options):
        if days is not None and days <= 0:
            raise CommandError("--days must be a positive number of days.")
        since = timezone.now() - timedelta(days=days) if days is not None else None
        counts = reconciliation.reconcile(since=since, limit=limit, dry_run=dry_run)
        self.stdout.write(
            f"Certificates looked at: {counts['scanned']}; without a POK credential: {counts['missing']}."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was requested.")
            return
        self.stdout.write(
            f"Requested: {counts['requested']}; not wanted (POK off for the course, or not downloadable): "
            f"{counts['not_wanted']}; left for the next run: {counts['left_for_next_run']}."
        )
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} certificate(s) could not be handled: see the log.")
