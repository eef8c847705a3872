"""
``pok_backfill --course ID``: request POK credentials for a course's existing certificates.

For every learner with a downloadable Open edX certificate and no POK credential yet, records the
request exactly as the creation step does and queues the issuing task; the Celery workers do the
POSTs, at the pace POK allows. The command itself never calls POK, so it finishes in seconds.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import platform_adapter
from openedx_pok.models import PokCertificate
from openedx_pok.monitoring import counts_by_state, format_counts
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import creation
from openedx_pok.services.policy import BACKFILL_GENERATION_MODE


class Command(BaseCommand):
    help = (
        "Queue POK credentials for the learners of a course who have a downloadable certificate "
        "and no POK credential yet."
    )

    def add_arguments(self, parser):
        parser.add_argument("--course", required=True, help="Course key, e.g. course-v1:Org+Number+Run.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be queued; change nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Certificates read per database query."
        )

    def handle(self, *args, course, dry_run, batch_size, **options):
        try:
            course_key = CourseKey.from_string(course)
        except InvalidKeyError as error:
            raise CommandError(f"{course} is not a course key (course-v1:Org+Number+Run).") from error
        if not platform_adapter.is_pok_enabled_for_course(course_key):
            raise CommandError(
                f"POK is off for {course_key}: switch it on first (course or organisation waffle override "
                "openedx_pok.enable_pok_certificates, or POK_ENABLED_FOR_ALL_COURSES)."
            )
        self.totals = {"read": 0, "queued": 0, "existing": 0, "errors": 0}
        verb = "would queue" if dry_run else "queued"
        self.stdout.write(f"Backfilling {course_key}{' (dry run: nothing is changed)' if dry_run else ''}")

        batch = []
        for certificate in platform_adapter.iter_downloadable_certificates(course_key):
            batch.append(certificate)
            if len(batch) >= batch_size:
                self.backfill(course_key, batch, dry_run)
                self.progress(verb)
                batch = []
        if batch:
            self.backfill(course_key, batch, dry_run)
            self.progress(verb)

        self.stdout.write(
            f"Done: {self.totals['read']} certificates, {verb} {self.totals['queued']}, "
            f"{self.totals['existing']} already had a POK credential, {self.totals['errors']} errors."
        )
        course_credentials = PokCertificate.objects.filter(course_key=course_key)
        self.stdout.write(
            f"POK credentials in {course_key}: {format_counts(counts_by_state(course_credentials))}"
        )
        if self.totals["errors"]:
            raise CommandError(
                f"{self.totals['errors']} certificate(s) could not be queued; see the lines above."
            )

    def backfill(self, course_key, certificates, dry_run) -> None:
        user_ids = [certificate.user_id for certificate in certificates]
        has_credential = set(
            PokCertificate.objects.filter(course_key=course_key, user_id__in=user_ids).values_list(
                "user_id", flat=True
            )
        )
        users = get_user_model().objects.in_bulk(user_ids)
        self.totals["read"] += len(certificates)
        for certificate in certificates:
            if certificate.user_id in has_credential:
                self.totals["existing"] += 1
                continue
            user = users.get(certificate.user_id)
            if user is None:
                self.stderr.write(f"error: user {certificate.user_id} no longer exists")
                self.totals["errors"] += 1
                continue
            if dry_run:
                self.totals["queued"] += 1
                continue
            credential = None
            with lifecycle.isolated("backfill"):  # counted below, with the rows that were not recorded
                credential = creation.record_certificate_request(
                    user=user,
                    course_key=course_key,
                    mode=certificate.mode,
                    status=certificate.status,
                    course_grade=certificate.grade,  # the stored 0..1 string, read as a percent
                    generation_mode=BACKFILL_GENERATION_MODE,
                )
            if credential is None:
                self.stderr.write(f"error: the credential of user {certificate.user_id} was not recorded")
                self.totals["errors"] += 1
            else:
                self.totals["queued"] += 1

    def progress(self, verb: str) -> None:
        self.stdout.write(
            f"  {self.totals['read']} certificates read, {verb} {self.totals['queued']}, "
            f"{self.totals['existing']} already had one"
        )
