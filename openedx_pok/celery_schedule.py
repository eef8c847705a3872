"""
Beat schedule entries for the plugin's safety-net tasks (the sweep, the status sync and the
reconciliation).

``plugin_settings`` adds them to ``CELERYBEAT_SCHEDULE`` (the old-style name the platform's Celery
app reads) unless ``POK_ADD_BEAT_SCHEDULE`` is False, keeping the operator's own entries. Beat is
optional: credentials schedule their own retries and status checks, and the sweep schedules
itself when something waits longer than a task may sleep. Where beat runs, these entries catch
what fell through sooner; ``manage.py lms pok_sync`` does the same work from cron.
"""

SWEEP_EVERY_SECONDS = 60
SYNC_EVERY_SECONDS = 60
RECONCILE_EVERY_SECONDS = 3600
SWEEP_ENTRY = "openedx-pok-sweep-credentials"
SYNC_ENTRY = "openedx-pok-sync-credential-statuses"
RECONCILE_ENTRY = "openedx-pok-reconcile-certificates"


def beat_schedule(queue: str | None = None) -> dict:
    """The two entries, routed to ``queue`` when given (else Celery's default queue)."""
    options = {"queue": queue} if queue else {}
    return {
        SWEEP_ENTRY: {
            "task": "openedx_pok.tasks.sweep_credentials",
            "schedule": SWEEP_EVERY_SECONDS,
            "options": dict(options),
        },
        SYNC_ENTRY: {
            "task": "openedx_pok.tasks.sync_credential_statuses",
            "schedule": SYNC_EVERY_SECONDS,
            "options": dict(options),
        },
        RECONCILE_ENTRY: {
            "task": "openedx_pok.tasks.reconcile_certificates",
            "schedule": RECONCILE_EVERY_SECONDS,
            "options": dict(options),
        },
    }
