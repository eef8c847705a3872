"""
Celery tasks (LMS autodiscovers this module). Thin: JSON arguments in, a service call, nothing out.

The services queue them by their registered names (``services/queueing.py``); the beat schedule in
:mod:`openedx_pok.celery_schedule` runs the periodic ones where the platform runs Celery beat.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache

from openedx_pok.services.issuing import reconciliation, sending, status, sweep

log = logging.getLogger(__name__)

# How long a periodic run keeps others out if its worker dies before releasing the lock.
SINGLE_FLIGHT_TIMEOUT = 5 * 60


@shared_task(name="openedx_pok.tasks.issue_credential", ignore_result=True)
def issue_credential(pok_certificate_id: int) -> None:
    """Issue one credential in POK (one POST at most)."""
    sending.issue(int(pok_certificate_id))


@shared_task(name="openedx_pok.tasks.check_credential_status", ignore_result=True)
def check_credential_status(pok_certificate_id: int, early: bool = False) -> None:
    """Ask POK where one credential stands; a due check schedules the next one itself."""
    status.check(int(pok_certificate_id), early=bool(early))


@contextmanager
def _single_flight(name: str) -> Iterator[bool]:
    """
    Whether this run may go ahead: a slow POK must not make periodic runs overlap and pile up on
    the workers. The shared cache's add() is atomic, so only one run holds the lock.
    """
    key = f"openedx_pok.single_flight.{name.replace(' ', '_')}"
    acquired = cache.add(key, "running", SINGLE_FLIGHT_TIMEOUT)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def _run_periodic(name: str, work) -> dict:
    with _single_flight(name) as acquired:
        if not acquired:
            log.info("POK %s skipped: the previous run is still going", name)
            return {}
        counts = work()
    log.info("POK %s: %s", name, counts)
    return counts


@shared_task(name="openedx_pok.tasks.sweep_credentials", ignore_result=True)
def sweep_credentials(scheduled: bool = False) -> dict:
    """
    Re-queue credentials whose task was lost and settle the ones stuck mid-request. ``scheduled``:
    the sweep scheduled itself (no beat) and schedules its next run while credentials still wait.
    """
    counts = _run_periodic("sweep", sweep.sweep)
    if scheduled:
        sweep.schedule_next_run()
    return counts


@shared_task(name="openedx_pok.tasks.sync_credential_statuses", ignore_result=True)
def sync_credential_statuses() -> dict:
    """Check the credentials whose own status check is long overdue."""
    return _run_periodic("status sync", sweep.sync_statuses)


@shared_task(name="openedx_pok.tasks.reconcile_certificates", ignore_result=True)
def reconcile_certificates(scheduled: bool = False) -> dict:
    """Request the credentials of recent downloadable certificates the creation step missed."""
    counts = _run_periodic("reconciliation", reconciliation.reconcile)
    if scheduled:
        reconciliation.schedule_next_run()
    return counts


@shared_task(name="openedx_pok.tasks.refresh_credential_image", ignore_result=True)
def refresh_credential_image(pok_certificate_id: int) -> None:
    """Fetch a fresh image URL for an emitted credential (they expire)."""
    status.refresh_image_of(int(pok_certificate_id))
