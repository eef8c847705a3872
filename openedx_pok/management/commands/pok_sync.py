"""
``pok_sync``: run the safety net now: the sweep and the status sync.

Credentials drive themselves (each schedules its own next attempt or status check), so this only
catches what fell through: the sweep re-queues work whose task was lost, settles requests that
never got an answer, and gives failed ones another round; the status sync asks POK about
credentials whose check is due (by hand, not only those whose task looks lost). The same work as
the two periodic tasks, one batch each; then the self-scheduled sweep and reconciliation are
scheduled again, should the broker have lost them. Run it from cron if you like, or after an
incident to move things along at once.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from openedx_pok.monitoring import counts_by_state, format_counts
from openedx_pok.services.issuing import liveness, sweep


class Command(BaseCommand):
    help = "Run the POK sweep (re-queue due credentials) and status sync (poll POK) once, now."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Show what is due; change nothing.")

    def handle(self, *args, dry_run, **options):
        self.stdout.write(f"POK credentials: {format_counts(counts_by_state())}")
        if dry_run:
            self.show_due()
            return
        swept = sweep.sweep()
        self.stdout.write(f"Sweep: {describe(swept)}")
        # By hand, every check that is due runs now, not only those whose task looks lost.
        sync = sweep.sync_statuses(check_overdue_after=timedelta(0))
        self.stdout.write(f"Status sync: {describe(sync)}")
        if sync.get("polled", 0) >= sweep.BATCH_SIZE:
            self.stdout.write("More credentials are due for a status poll: run pok_sync again.")
        for task_name in liveness.restore_chains():
            self.stdout.write(f"Scheduled again: {task_name}")
        self.stdout.write(f"POK credentials now: {format_counts(counts_by_state())}")
        if sync.get("errors"):
            raise CommandError(
                f"{sync['errors']} status poll(s) failed (POK unreachable or refused?): run pok_check."
            )

    def show_due(self) -> None:
        """What a run would pick up now, by the sweep's and the sync's own selections (read-only)."""
        due = sweep.due_work(check_overdue_after=timedelta(0))
        for label, queryset in (
            ("retries due", due.retries),
            ("pending with a lost task", due.lost_pending),
            ("requests with no answer (to become outcome unknown)", due.unanswered_requests),
            ("failed, due for another round", due.failed_rounds),
            ("unknown outcomes to re-send (POK_UNKNOWN_OUTCOME_RETRY_AFTER)", due.unknown_outcomes_to_resend),
            ("status checks due", due.status_checks),
        ):
            self.stdout.write(f"  {label}: {queryset.count()}")
        self.stdout.write("Dry run: nothing was changed or queued.")


def describe(counts: dict) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.items())
