"""What the tests see of the self-scheduled chains (the sweep, the reconciliation) in the queued tasks."""

from django.core.cache import cache

from openedx_pok.services import queueing

SWEEP = queueing.SWEEP_CREDENTIALS
RECONCILE = queueing.RECONCILE_CERTIFICATES


def live_runs(queued_tasks, task_name):
    """
    The queued runs of a chain that would run, as (args, kwargs, options): those carrying the
    chain's current token. A run whose token was replaced since does nothing when delivered.
    """
    current = cache.get(queueing.SCHEDULED_KEY.format(task_name))
    return [
        (args, kwargs, options)
        for args, kwargs, options in queued_tasks.named(task_name)
        if kwargs.get("scheduled") and kwargs.get("run_token") == current
    ]
