"""
Sending the plugin's Celery tasks by their registered names, so that no service imports tasks.py
(which imports the services).

Two rules hold for every task sent from here: a task waits in the broker at most
``policy.MAX_COUNTDOWN`` (the lifecycle leaves longer waits to the sweep), and under Celery's eager
mode (devstack's ``CELERY_ALWAYS_EAGER``) a delayed task is not run at all, since eager mode would
run it at once, inside the caller, and a self-scheduling chain would never end.

The self-scheduled periodic tasks (the sweep, the reconciliation) keep one chain each, whatever a
broker delivers twice: each run carries a token, the shared cache holds the current one, and only
the first delivery carrying it runs and schedules the next. The database notes when each chain is
next due (:class:`~openedx_pok.models.PeriodicRun`), which ``issuing/liveness`` judges.
"""

import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from openedx_pok.conf import setting
from openedx_pok.models import PeriodicRun
from openedx_pok.services.policy import MAX_COUNTDOWN

log = logging.getLogger(__name__)

ISSUE_CREDENTIAL = "openedx_pok.tasks.issue_credential"
CHECK_CREDENTIAL_STATUS = "openedx_pok.tasks.check_credential_status"
REFRESH_CREDENTIAL_IMAGE = "openedx_pok.tasks.refresh_credential_image"
SWEEP_CREDENTIALS = "openedx_pok.tasks.sweep_credentials"
SYNC_CREDENTIAL_STATUSES = "openedx_pok.tasks.sync_credential_statuses"
RECONCILE_CERTIFICATES = "openedx_pok.tasks.reconcile_certificates"
RECORD_CREATED_CREDENTIAL = "openedx_pok.tasks.record_created_credential"

# The token of a self-scheduled periodic task's next run, held while that run waits in the broker.
SCHEDULED_KEY = "openedx_pok.scheduled.{}"
# Taken by the first delivery of a run: a broker may deliver one message twice.
STARTED_KEY = "openedx_pok.scheduled.{}.started.{}"
# How long past its countdown a scheduled run may take to start before another may be scheduled.
SCHEDULED_START_MARGIN = 5 * 60
# A started run hands over to the next within this (the single-flight lock's lifetime), or died.
LONGEST_RUN = timedelta(minutes=5)


def is_eager() -> bool:
    """Whether Celery runs tasks inside the caller instead of on a worker."""
    return bool(current_app.conf.task_always_eager)


def queue(task_name: str, *args, countdown: float = 0.0, **kwargs) -> bool:
    """
    Send a task; False when it was not sent. A broker outage is logged, not raised: the row keeps
    its state and the sweep sends the work again.
    """
    if countdown and is_eager():
        log.debug(
            "Eager Celery: %s%r in %.1f s is left to the next page view or sweep", task_name, args, countdown
        )
        return False
    options = {"args": list(args), "kwargs": kwargs}
    queue_name = setting("POK_CELERY_QUEUE")
    if queue_name:
        options["queue"] = queue_name
    if countdown:
        options["countdown"] = countdown
    try:
        current_app.tasks[task_name].apply_async(**options)
    except Exception:  # brokers raise many unrelated types; the sweep recovers
        log.warning("Could not queue %s%r; the sweep will retry it", task_name, args, exc_info=True)
        return False
    return True


def queue_on_commit(task_name: str, *args, countdown: float = 0.0) -> None:
    """Send the task once the caller's transaction commits, so the worker reads what was written."""
    transaction.on_commit(lambda: queue(task_name, *args, countdown=countdown), robust=True)


def ensure_scheduled(task_name: str, countdown: float) -> bool:
    """
    Schedule a periodic task (the sweep, the reconciliation) in ``countdown`` seconds unless a run
    is already scheduled: the platform may run no Celery beat. The shared cache's add() is atomic,
    so whoever calls this, one chain of runs exists.
    """
    run_token = uuid.uuid4().hex
    if is_eager() or not cache.add(SCHEDULED_KEY.format(task_name), run_token, _marker_lifetime(countdown)):
        return False
    return _send_run(task_name, run_token, countdown)


def reschedule(task_name: str, countdown: float) -> bool:
    """
    Schedule the chain's next run in ``countdown`` seconds whatever the cache says, since its
    marker outlives a run the broker lost: a run still queued finds its token replaced and does
    nothing, so the chain stays one.
    """
    if is_eager():
        return False
    run_token = uuid.uuid4().hex
    cache.set(SCHEDULED_KEY.format(task_name), run_token, _marker_lifetime(countdown))
    return _send_run(task_name, run_token, countdown)


def start_scheduled_run(task_name: str, run_token: str) -> bool:
    """
    Whether this delivery is its chain's run: it carries the token the cache holds (or the cache
    lost it), and no other delivery of the same message has started. Any other delivery (a
    duplicate, a run of a chain since replaced) must do nothing and schedule nothing.
    """
    current = cache.get(SCHEDULED_KEY.format(task_name))
    if current is not None and current != run_token:
        return False
    if not cache.add(STARTED_KEY.format(task_name, run_token), True, _marker_lifetime(MAX_COUNTDOWN)):
        return False
    # Until it hands over, the chain lives in this run: the database expects it done by then.
    record_next_run(task_name, timezone.now() + LONGEST_RUN)
    return True


def schedule_next_run(task_name: str, run_token: str, countdown: float | None) -> None:
    """A chain's run hands over to the next, ``countdown`` seconds later; None ends the chain."""
    if countdown is not None:
        reschedule(task_name, countdown)
        return
    key = SCHEDULED_KEY.format(task_name)
    if cache.get(key) in (run_token, None):  # not when someone re-armed the chain meanwhile
        cache.delete(key)
        record_next_run(task_name, None)


def record_next_run(task_name: str, at) -> None:
    """
    Note when the chain should next show life (None: no run is wanted). A note the database
    refuses only costs a re-arm later, so it never fails the caller.
    """
    try:
        with transaction.atomic():
            PeriodicRun.objects.update_or_create(task_name=task_name, defaults={"next_run_at": at})
    except DatabaseError:
        log.warning("Could not note the next run of %s; it may be re-armed once more", task_name)


def record_run(task_name: str) -> None:
    """Note that the periodic task runs now (scheduled, from beat or by hand)."""
    PeriodicRun.objects.update_or_create(task_name=task_name, defaults={"last_run_at": timezone.now()})


def _send_run(task_name: str, run_token: str, countdown: float) -> bool:
    countdown = _bounded(countdown)
    if not queue(task_name, countdown=countdown, scheduled=True, run_token=run_token):
        key = SCHEDULED_KEY.format(task_name)
        if cache.get(key) == run_token:
            cache.delete(key)
        return False
    record_next_run(task_name, timezone.now() + timedelta(seconds=countdown))
    return True


def _marker_lifetime(countdown: float) -> float:
    return _bounded(countdown) + SCHEDULED_START_MARGIN


def _bounded(countdown: float) -> float:
    """No run waits in the broker longer than MAX_COUNTDOWN (the visibility timeout's half)."""
    return min(max(0.0, countdown), MAX_COUNTDOWN)
