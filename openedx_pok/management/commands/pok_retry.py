"""
``pok_retry --state failed|unknown [--course ID]``: send credentials to POK again, through the queue.
``pok_retry --unfilled-parameters``: only those that failed, unsent, for a template parameter without
a value, once the mapping, template or course is fixed (docs/templates.md).

Each credential is handed to the operator service's retry, which queues the issuing task; Celery
workers do the POSTs. Credentials whose outcome is unknown may already exist in POK, so re-sending
them may create duplicates and spend credits twice: that needs ``--accept-duplicate-risk``.
"""

from django.core.management.base import BaseCommand, CommandError
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions
from openedx_pok.services.issuing.unfilled_parameters import never_sent_for_unfilled_parameters

STATES = {"failed": CredentialState.FAILED, "unknown": CredentialState.OUTCOME_UNKNOWN}
PROGRESS_EVERY = 100
DRY_RUN_LISTED = 100


class Command(BaseCommand):
    help = "Queue failed credentials, or those whose outcome is unknown, to be sent to POK again."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--state", choices=sorted(STATES), help="Which credentials to retry.")
        which.add_argument(
            "--unfilled-parameters",
            action="store_true",
            help="Only failed credentials never sent because a template parameter had no value "
            "(no duplicate risk).",
        )
        parser.add_argument("--course", help="Only this course (course-v1:Org+Number+Run).")
        parser.add_argument(
            "--accept-duplicate-risk",
            action="store_true",
            help="Required with --state unknown: POK may already hold these credentials, and a re-send "
            "may issue and charge a duplicate.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be retried; change nothing."
        )

    def handle(self, *args, state, unfilled_parameters, course, accept_duplicate_risk, dry_run, **options):
        state = CredentialState.FAILED if unfilled_parameters else STATES[state]
        if state == CredentialState.OUTCOME_UNKNOWN and not (accept_duplicate_risk or dry_run):
            raise CommandError(
                "These credentials may already exist in POK: re-sending may create duplicates and spend a "
                "second credit each. Check POK's dashboard, then run again with --accept-duplicate-risk."
            )
        credential_ids = self.selected(state, course, unfilled_parameters=unfilled_parameters)
        scope = f" in {course}" if course else ""
        reason = " never sent for want of a template parameter value" if unfilled_parameters else ""
        self.stdout.write(f"{len(credential_ids)} {state.label.lower()} credential(s){reason}{scope}.")
        if dry_run:
            listed = PokCertificate.objects.filter(pk__in=credential_ids[:DRY_RUN_LISTED]).order_by("pk")
            for credential in listed:
                refused = lifecycle.refusal(credential, "retry")
                verdict = f"would skip ({refused})" if refused else "would retry"
                self.stdout.write(
                    f"  {verdict} {credential.pk}: {credential.course_key}, user {credential.user_id}, "
                    f"attempts {credential.attempts}, last error: {credential.last_error[:120] or '-'}"
                )
            if len(credential_ids) > DRY_RUN_LISTED:
                self.stdout.write(f"  ... and {len(credential_ids) - DRY_RUN_LISTED} more")
            self.stdout.write("Dry run: nothing was queued.")
            return

        counts = {"queued": 0, "skipped": 0, "errors": 0}
        for position, credential_id in enumerate(credential_ids, start=1):
            with lifecycle.isolated("retry", credential_id=credential_id, counts=counts):
                self.retry(credential_id, accept_duplicate_risk, counts)
            if position % PROGRESS_EVERY == 0:
                self.stdout.write(f"  {position}/{len(credential_ids)} handled, {counts['queued']} queued")
        self.stdout.write(
            f"Done: {counts['queued']} queued for another attempt, {counts['skipped']} skipped, "
            f"{counts['errors']} errors."
        )
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} credential(s) could not be retried: see the log.")

    def retry(self, credential_id: int, accept_duplicate_risk: bool, counts: dict) -> None:
        credential = PokCertificate.objects.filter(pk=credential_id).first()
        if credential is None:
            counts["skipped"] += 1
            return
        try:
            operator_actions.retry_now(credential, accept_duplicate_risk=accept_duplicate_risk)
        except lifecycle.IssuanceError as error:
            counts["skipped"] += 1
            self.stdout.write(f"  skipped {credential_id}: {error}")
        else:
            counts["queued"] += 1

    def selected(self, state, course, *, unfilled_parameters) -> list[int]:
        """The ids of the credentials to retry, in order."""
        credentials = PokCertificate.objects.filter(state=state).order_by("pk")
        if course:
            try:
                credentials = credentials.filter(course_key=CourseKey.from_string(course))
            except InvalidKeyError as error:
                raise CommandError(f"{course} is not a course key (course-v1:Org+Number+Run).") from error
        if unfilled_parameters:
            return [credential.pk for credential in never_sent_for_unfilled_parameters(credentials)]
        return list(credentials.values_list("pk", flat=True))
