"""
Beat schedule for the plugin's periodic tasks, for operators to merge into LMS's Celery settings.

In LMS settings (for example a Tutor ``openedx-lms-common-settings`` patch)::

    from openedx_pok.celery_schedule import beat_schedule
    CELERYBEAT_SCHEDULE = {**globals().get("CELERYBEAT_SCHEDULE", {}), **beat_schedule()}

The platform's Celery app reads Celery's old-style setting names, so the schedule goes in
``CELERYBEAT_SCHEDULE``; ``CELERY_BEAT_SCHEDULE`` would be ignored there.

``beat_schedule(queue)`` routes the tasks to a queue (default: POK_CELERY_QUEUE, else Celery's
default queue). Without beat, run ``manage.py lms pok_sync`` from cron instead: it does the same work.
"""

from openedx_pok.conf import setting

SWEEP_EVERY_SECONDS = 60
SYNC_EVERY_SECONDS = 60


def beat_schedule(queue: str | None = None) -> dict:
    queue = queue or setting("POK_CELERY_QUEUE")
    options = {"queue": queue} if queue else {}
    return {
        "openedx-pok-sweep-credentials": {
            "task": "openedx_pok.tasks.sweep_credentials",
            "schedule": SWEEP_EVERY_SECONDS,
            "options": dict(options),
        },
        "openedx-pok-sync-credential-statuses": {
            "task": "openedx_pok.tasks.sync_credential_statuses",
            "schedule": SYNC_EVERY_SECONDS,
            "options": dict(options),
        },
    }
