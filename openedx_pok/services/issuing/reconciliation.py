"""
Reconciliation: downloadable Open edX certificates in POK courses that have no credential.

The creation step can miss a certificate: the filter was not configured, the database failed
under it, a worker died between the platform's write and ours. A periodic, bounded pass over the
certificates the platform changed recently requests each missing credential exactly as the
creation step would have (the same rules: status, the course switch, the certificate date, and a
revoked credential stays revoked since its row exists). Certificates older than the window are a
backfill's business (``pok_backfill``), which an operator starts on purpose: each costs a credit.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from openedx_pok import platform_adapter
from openedx_pok.conf import setting
from openedx_pok.models import PokCertificate
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import creation, sweep
from openedx_pok.services.policy import MAX_COUNTDOWN

log = logging.getLogger(__name__)

GENERATION_MODE = "reconciliation"
# Certificates read from the platform per query.
PAGE_SIZE = 500
# Credentials one run requests at most; the next run takes the rest.
MAX_REQUESTS_PER_RUN = 500


def reconcile(
    *, since: datetime | None = None, limit: int = MAX_REQUESTS_PER_RUN, dry_run: bool = False
) -> dict:
    """
    Request the missing credentials of certificates changed since ``since`` (default: the last
    POK_RECONCILE_DAYS days); returns counts. ``dry_run`` only counts.
    """
    since = since or timezone.now() - timedelta(days=float(setting("POK_RECONCILE_DAYS")))
    if not dry_run:
        queueing.record_run(queueing.RECONCILE_CERTIFICATES)
    counts = Counter(scanned=0, missing=0, requested=0, not_wanted=0, left_for_next_run=0, errors=0)
    course_enabled: dict = {}
    after_id = 0
    while page := platform_adapter.downloadable_certificates_since(since, after_id=after_id, limit=PAGE_SIZE):
        after_id = page[-1].certificate_id
        counts["scanned"] += len(page)
        missing = _without_credential(page)
        counts["missing"] += len(missing)
        if dry_run:
            continue
        learners = get_user_model().objects.in_bulk({certificate.user_id for certificate in missing})
        for certificate in missing:
            if counts["requested"] >= limit:
                counts["left_for_next_run"] += 1
                continue
            if not _enabled(course_enabled, certificate.course_key):
                counts["not_wanted"] += 1
                continue
            with lifecycle.isolated("reconciliation", counts=counts):
                credential = creation.record_certificate_request(
                    user=learners.get(certificate.user_id),
                    course_key=certificate.course_key,
                    mode=certificate.mode,
                    status=certificate.status,
                    course_grade=certificate.grade,
                    generation_mode=GENERATION_MODE,
                )
                counts["requested" if credential is not None else "not_wanted"] += 1
    if counts["requested"]:
        log.warning(
            "POK reconciliation requested %s credential(s) the creation step missed", counts["requested"]
        )
    return dict(counts)


def _without_credential(page: list) -> list:
    held = set(
        PokCertificate.objects.filter(
            user_id__in={certificate.user_id for certificate in page},
            course_key__in={certificate.course_key for certificate in page},
        ).values_list("user_id", "course_key")
    )
    return [certificate for certificate in page if (certificate.user_id, certificate.course_key) not in held]


def _enabled(known: dict, course_key) -> bool:
    """Whether POK issues in the course, asked once per course and run."""
    if course_key not in known:
        known[course_key] = platform_adapter.is_pok_enabled_for_course(course_key)
    return known[course_key]


def schedule_next_run(run_token: str) -> None:
    """
    After a self-scheduled run (even one that failed): the next one, as long as the site runs (the
    platform may have no beat), and the sweep when a credential waits and none is scheduled
    (adopted ones, say).
    """
    queueing.schedule_next_run(queueing.RECONCILE_CERTIFICATES, run_token, MAX_COUNTDOWN)
    countdown = sweep.next_run_in()
    if countdown is not None:
        queueing.ensure_scheduled(queueing.SWEEP_CREDENTIALS, countdown=countdown)
