"""
Reconciliation benchmark: what one pass over 10,000 recent downloadable certificates costs.

Two passes, on SQLite: every certificate already has its credential (the steady state, paid every
half hour), then 1 % lack one (the pass requests them; the issuing tasks are not run). Prints the
seconds and database queries of each pass, per 10,000 certificates.

    .venv-django5.2/bin/python bench/reconciliation.py [--certificates 10000]
"""

import argparse
import sys
import time

from _common import create_certified_learners, create_python_course  # _common also sets the path

MISSING_FRACTION = 0.01


def create_certificates(course_key, count: int) -> None:
    """``count`` downloadable certificates, each with its credential already."""
    from openedx_pok.models import PokCertificate

    learners = create_certified_learners(course_key, count)
    PokCertificate.objects.bulk_create(
        [PokCertificate(user=user, course_key=course_key, state="emitted") for user, _ in learners],
        batch_size=1000,
    )


def timed_pass() -> tuple[float, int, dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from openedx_pok.services.issuing import reconciliation

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        counts = reconciliation.reconcile(limit=10**9)
        elapsed = time.perf_counter() - started
    return elapsed, len(queries), counts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--certificates", type=int, default=10_000)
    options = parser.parse_args()

    import django

    import tests.settings as host_settings

    host_settings.POK_ENABLED_FOR_ALL_COURSES = True
    django.setup()
    from celery.app.task import Task
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    Task.apply_async = lambda *args, **kwargs: None  # the issuing tasks are not what is measured
    course_key = create_python_course()
    scale = 10_000 / options.certificates

    create_certificates(course_key, options.certificates)
    elapsed, queries, counts = timed_pass()
    print(f"{options.certificates} recent downloadable certificates, every one with its credential:")
    print(
        f"  one pass: {elapsed:.2f} s, {queries} queries; per 10,000 certificates: {elapsed * scale:.2f} s, "
        f"{queries * scale:.0f} queries ({counts['missing']} missing)"
    )

    from openedx_pok.models import PokCertificate

    missing = int(options.certificates * MISSING_FRACTION)
    PokCertificate.objects.filter(
        pk__in=list(PokCertificate.objects.values_list("pk", flat=True)[:missing])
    ).delete()
    elapsed, queries, counts = timed_pass()
    print(f"the same with {missing} credentials missing ({MISSING_FRACTION:.0%}):")
    print(
        f"  one pass: {elapsed:.2f} s, {queries} queries, {counts['requested']} requested; per 10,000 "
        f"certificates: {elapsed * scale:.2f} s"
    )
    return 0 if counts["requested"] == missing else 1


if __name__ == "__main__":
    sys.exit(main())
