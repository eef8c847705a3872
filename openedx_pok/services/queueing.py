"""
Sending the plugin's Celery tasks by their registered names, so that no service imports tasks.py
(which imports the services).

Two rules hold for every task sent from here: a task waits in the broker at most
``policy.MAX_COUNTDOWN`` (the lifecycle leaves longer waits to the sweep), and under Celery's eager
mode (devstack's ``CELERY_ALWAYS_EAGER``) a delayed task is not run at all, since eager mode would
run it at once, inside the caller, and a self-scheduling chain would never end.
"""

import logging

from celery import current_app
from django.core.cache import cache
from django.db import transaction

from openedx_pok.conf import setting

log = logging.getLogger(__name__)

ISSUE_CREDENTIAL = "openedx_pok.tasks.issue_credential"
CHECK_CREDENTIAL_STATUS = "openedx_pok.tasks.check_credential_status"
REFRESH_CREDENTIAL_IMAGE = "openedx_pok.tasks.refresh_credential_image"
SWEEP_CREDENTIALS = "openedx_pok.tasks.sweep_credentials"
SYNC_CREDENTIAL_STATUSES = "openedx_pok.tasks.sync_credential_statuses"
RECONCILE_CERTIFICATES = "openedx_pok.tasks.reconcile_certificates"

# Held while a self-scheduled periodic task waits in the broker, so that one chain of it exists at most.
SCHEDULED_KEY = "openedx_pok.scheduled.{}"
# How long past its countdown a scheduled run may take to start before another may be scheduled.
SCHEDULED_START_MARGIN = 5 * 60


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
    key = SCHEDULED_KEY.format(task_name)
    if is_eager() or not cache.add(key, True, countdown + SCHEDULED_START_MARGIN):
        return False
    if not queue(task_name, countdown=countdown, scheduled=True):
        cache.delete(key)
        return False
    return True


def scheduled_run_started(task_name: str) -> None:
    """A scheduled run is going: the next one may be scheduled."""
    cache.delete(SCHEDULED_KEY.format(task_name))
