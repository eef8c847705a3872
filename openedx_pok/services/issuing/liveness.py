"""
Chains that outlive the broker.

Each credential schedules its own next step, and the sweep and the reconciliation schedule
themselves (ADR 0005): all of it waits in the broker, and a broker restart loses it. Whether that
work is alive is judged from the database, since the broker cannot say and the cache's marker
outlives a lost run (ADR 0012): a periodic task's chain is overdue when the run the database
expects (:class:`~openedx_pok.models.PeriodicRun`) is late, and the sweep also when a credential
has waited for it past its moment with no sweep since (the credential's own task was lost).

Whatever runs anyway re-arms what it finds overdue, at most once per SWEEP_INTERVAL across the
processes (an atomic cache add keyed on the interval): any of the plugin's tasks, a learner's page
and the status endpoint (:func:`rearm_overdue`). A worker starting and a certificate request do
more (:func:`restore_chains`): the broker may have just lost a run the database expects later, so
every chain that has work is scheduled again. A re-armed sweep re-queues every credential whose
own step was lost. None of this runs under eager mode (nothing waits in a broker there) nor in
Studio, whose workers do not run the plugin's tasks.
"""

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from openedx_pok import platform_adapter
from openedx_pok.models import PeriodicRun, PokCertificate
from openedx_pok.services import queueing
from openedx_pok.services.issuing import sweep
from openedx_pok.services.policy import MAX_COUNTDOWN, SWEEP_INTERVAL

log = logging.getLogger(__name__)

SWEEP = queueing.SWEEP_CREDENTIALS
RECONCILIATION = queueing.RECONCILE_CERTIFICATES
# A run this late, or a credential's work waiting this long past its moment with no sweep since,
# was lost with the broker.
OVERDUE_AFTER = timedelta(seconds=SWEEP_INTERVAL)
# One judgement, and one restoration, per SWEEP_INTERVAL across processes (the interval's number).
JUDGED_KEY = "openedx_pok.liveness.judged.{}"
RESTORED_KEY = "openedx_pok.liveness.restored.{}"


def rearm_overdue(now: datetime | None = None) -> list[str]:
    """
    Re-arm, at once, each chain the database finds overdue; what runs anyway calls this, and at
    most one call per interval asks the database. Returns the task names re-armed.
    """
    return _rearm(JUDGED_KEY, now, restore=False)


def restore_chains(now: datetime | None = None) -> list[str]:
    """
    A worker starting, or a certificate being requested: the broker may have lost every waiting
    run, and a lost run due later looks alive in the database until then. So each chain that has
    work is scheduled again, when the database expects its run (at once when overdue, sooner when
    a credential needs the sweep sooner), at most once per interval; a run still queued finds its
    token replaced and does nothing. Returns the task names scheduled.
    """
    return _rearm(RESTORED_KEY, now, restore=True)


def _rearm(gate: str, now: datetime | None, *, restore: bool) -> list[str]:
    """
    A judgement takes the interval's turn before it asks the database (tasks and page views call it
    often). A restoration takes it only once it has something to schedule: a worker starting on a
    quiet site must not use up the turn of the first certificate request after it. Once the turn is
    taken, neither asks the database again in that interval (a backfill requests thousands).
    """
    now = now or timezone.now()
    turn = gate.format(int(now.timestamp() // SWEEP_INTERVAL))
    if queueing.is_eager() or platform_adapter.is_studio():
        return []  # nothing waits in a broker; Studio's workers run none of these tasks
    if cache.get(turn) is not None:
        return []
    if not restore and not cache.add(turn, True, 2 * SWEEP_INTERVAL):
        return []
    try:
        with transaction.atomic():  # a refused query must not spoil the caller's transaction
            chains = _chains_to_schedule(now, restore=restore)
    except DatabaseError:
        log.warning("POK could not judge its periodic tasks from the database", exc_info=True)
        return []
    if restore and (not chains or not cache.add(turn, True, 2 * SWEEP_INTERVAL)):
        return []
    scheduled = []
    for task_name, (countdown, overdue) in chains.items():
        if not queueing.reschedule(task_name, countdown):
            continue
        scheduled.append(task_name)
        if overdue:
            log.warning("POK re-armed %s: overdue in the database (the broker lost its run?)", task_name)
        else:
            log.debug("POK scheduled %s again in %.0f s, in case the broker lost it", task_name, countdown)
    return scheduled


def _chains_to_schedule(now: datetime, *, restore: bool) -> dict[str, tuple[float, bool]]:
    """The chains to schedule again: their countdown, and whether they were overdue."""
    runs = {run.task_name: run for run in PeriodicRun.objects.filter(task_name__in=[SWEEP, RECONCILIATION])}
    sweep_run = runs.get(SWEEP) or PeriodicRun(task_name=SWEEP)
    reconciliation_run = runs.get(RECONCILIATION) or PeriodicRun(task_name=RECONCILIATION)
    chains = {}
    if _sweep_overdue(sweep_run, now):
        chains[SWEEP] = (0.0, True)
    elif restore and (waiting_since := sweep.next_moment()) is not None:
        needed_in = sweep.countdown_until(waiting_since, now)
        chains[SWEEP] = (_restored_countdown(sweep_run, now, needed_in=needed_in), False)
    if _late(reconciliation_run.next_run_at, now):
        chains[RECONCILIATION] = (0.0, True)
    elif restore and PokCertificate.objects.exists():
        # A site that issues credentials keeps one reconciliation chain alive.
        countdown = _restored_countdown(reconciliation_run, now, needed_in=MAX_COUNTDOWN)
        chains[RECONCILIATION] = (countdown, False)
    return chains


def _sweep_overdue(run: PeriodicRun, now: datetime) -> bool:
    """
    The sweep should have come by now: its chain's run is late, or a credential has waited for it
    past OVERDUE_AFTER and no sweep ran since (its own task was lost, and no chain comes for it).
    """
    return _late(run.next_run_at, now) or _late(sweep.next_moment(after=run.last_run_at), now)


def _late(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment < now - OVERDUE_AFTER


def _restored_countdown(run: PeriodicRun, now: datetime, *, needed_in: float) -> float:
    """When the database expects the chain's run, or sooner when its work needs it sooner."""
    if run.next_run_at is None:
        return needed_in
    return min(needed_in, max(0.0, (run.next_run_at - now).total_seconds()))
