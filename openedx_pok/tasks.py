"""
Celery tasks (LMS autodiscovers this module). Thin: JSON arguments in, a service call, nothing out.

The services queue them by their registered names (``services/queueing.py``); the beat schedule in
:mod:`openedx_pok.celery_schedule` runs the periodic ones where the platform runs Celery beat.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from celery.signals import task_prerun, worker_ready
from django.core.cache import cache

from openedx_pok.services import policy, queueing
from openedx_pok.services.issuing import liveness, reconciliation, sending, status, sweep

log = logging.getLogger(__name__)

# How long a periodic run keeps others out if its worker dies before releasing the lock.
SINGLE_FLIGHT_TIMEOUT = 5 * 60

# A task the database refused (an outage, a restart) is sent again after a growing, jittered delay
# instead of being dropped: its work is still in the rows, and a worker takes it up on the
# database's return. Bounded, and far below policy.MAX_COUNTDOWN.
RETRIED_WHEN_THE_DATABASE_REFUSES = {
    "autoretry_for": policy.DATABASE_UNAVAILABLE,
    "retry_backoff": True,
    "retry_backoff_max": policy.DATABASE_RETRY_MAX_DELAY,
    "retry_jitter": True,
    "max_retries": policy.DATABASE_RETRIES,
}


@shared_task(
    name="openedx_pok.tasks.issue_credential", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
def issue_credential(pok_certificate_id: int) -> None:
    """Issue one credential in POK (one POST at most)."""
    sending.issue(int(pok_certificate_id))


@shared_task(
    name="openedx_pok.tasks.record_created_credential",
    ignore_result=True,
    **{**RETRIED_WHEN_THE_DATABASE_REFUSES, "max_retries": policy.RECORD_ANSWER_RETRIES},
)
def record_created_credential(
    pok_certificate_id: int, requesting_since: str, account: str, answer: dict
) -> None:
    """Record POK's answer to a POST the database refused to record, if the row still waits for it."""
    sending.record_created_later(int(pok_certificate_id), requesting_since, account, answer)


@shared_task(
    name="openedx_pok.tasks.check_credential_status", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
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


def _run_chained(task_name: str, run_token: str, name: str, work, schedule_next) -> dict:
    """
    A run of a self-scheduled chain: only its first delivery carrying the chain's current token
    runs, and it schedules the next whatever happens to the work (skipped, failed), so the chain
    stays one. Any other delivery does nothing.
    """
    if not queueing.start_scheduled_run(task_name, run_token):
        log.debug("POK %s not run: a copy of a run already going, or of a chain since replaced", name)
        return {}
    try:
        return _run_periodic(name, work)
    finally:
        schedule_next(run_token)


@shared_task(
    name="openedx_pok.tasks.sweep_credentials", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
def sweep_credentials(scheduled: bool = False, run_token: str = "") -> dict:
    """
    Re-queue credentials whose task was lost and settle the ones stuck mid-request. ``scheduled``:
    a run of the sweep's own chain (no beat), ``run_token`` its token; it schedules the next run
    while credentials still wait.
    """
    if not scheduled:
        return _run_periodic("sweep", sweep.sweep)
    return _run_chained(queueing.SWEEP_CREDENTIALS, run_token, "sweep", sweep.sweep, sweep.schedule_next_run)


@shared_task(
    name="openedx_pok.tasks.sync_credential_statuses", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
def sync_credential_statuses() -> dict:
    """Check the credentials whose own status check is long overdue."""
    return _run_periodic("status sync", sweep.sync_statuses)


@shared_task(
    name="openedx_pok.tasks.reconcile_certificates", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
def reconcile_certificates(scheduled: bool = False, run_token: str = "") -> dict:
    """
    Request the credentials of recent downloadable certificates the creation step missed.
    ``scheduled``, ``run_token``: a run of its own chain, as for the sweep.
    """
    if not scheduled:
        return _run_periodic("reconciliation", reconciliation.reconcile)
    return _run_chained(
        queueing.RECONCILE_CERTIFICATES,
        run_token,
        "reconciliation",
        reconciliation.reconcile,
        reconciliation.schedule_next_run,
    )


@shared_task(
    name="openedx_pok.tasks.refresh_credential_image", ignore_result=True, **RETRIED_WHEN_THE_DATABASE_REFUSES
)
def refresh_credential_image(pok_certificate_id: int) -> None:
    """Fetch a fresh image URL for an emitted credential (they expire)."""
    status.refresh_image_of(int(pok_certificate_id))


# -- chains that outlive the broker (services/issuing/liveness.py) -----------------------------------

# Their own runs schedule the next: they do not judge themselves.
SELF_SCHEDULED = frozenset({queueing.SWEEP_CREDENTIALS, queueing.RECONCILE_CERTIFICATES})


@worker_ready.connect(dispatch_uid="openedx_pok.tasks.restore_chains_on_worker_start")
def restore_chains_on_worker_start(**kwargs) -> None:
    """A worker starting: a broker restart may have lost every waiting run."""
    liveness.restore_chains()


@task_prerun.connect(dispatch_uid="openedx_pok.tasks.rearm_overdue_chains")
def rearm_overdue_chains(sender=None, **kwargs) -> None:
    """Any of the plugin's tasks, as it starts, re-arms a chain the database finds overdue."""
    name = getattr(sender, "name", "") or ""
    if name.startswith("openedx_pok.") and name not in SELF_SCHEDULED:
        liveness.rearm_overdue()
