"""
The safety net: work whose own task was lost, waits longer than a task may sleep, or needs a clock.

Every credential schedules its own next step (``lifecycle``), so none of this is on the normal
path. The sweep and the status sync run from Celery beat when the platform has one (the plugin adds
them to ``CELERYBEAT_SCHEDULE``), from ``pok_sync`` in cron, and otherwise schedule themselves:
a wait too long for a task's countdown starts the sweep, which runs again while anything waits.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import sending, status
from openedx_pok.services.policy import (
    DUE_TOLERANCE,
    LOST_TASK_AFTER,
    MAX_COUNTDOWN,
    OVERDUE_CHECK_AFTER,
    SWEEP_INTERVAL,
    Policy,
)

log = logging.getLogger(__name__)

S = CredentialState

# How many rows one sweep or sync run handles; the next run takes the rest.
BATCH_SIZE = 500


@dataclass(frozen=True)
class DueWork:
    """What the sweep and the status sync pick up at one moment; ``pok_sync --dry-run`` counts it."""

    retries: QuerySet
    lost_pending: QuerySet
    unanswered_requests: QuerySet
    failed_rounds: QuerySet
    unknown_outcomes_to_resend: QuerySet
    status_checks: QuerySet


def due_work(now: datetime | None = None, *, check_overdue_after: timedelta = OVERDUE_CHECK_AFTER) -> DueWork:
    """
    ``check_overdue_after``: how long past its time a credential's own status check must be before
    the safety net checks it instead (its task was lost); ``pok_sync`` by hand passes zero.
    """
    now = now or timezone.now()
    policy = Policy.current()
    rows = PokCertificate.objects
    stuck_before = now - timedelta(seconds=policy.requesting_timeout)
    resend_after = policy.unknown_outcome_resend_after
    return DueWork(
        retries=rows.filter(state=S.RETRYING).exclude(next_attempt_at__gt=now),
        # A task not run for LOST_TASK_AFTER, or never queued yet for a certificate date now passed.
        lost_pending=rows.filter(state=S.PENDING)
        .exclude(next_attempt_at__gt=now)
        .filter(Q(modified__lt=now - LOST_TASK_AFTER) | Q(modified__lt=F("next_attempt_at"))),
        unanswered_requests=rows.filter(state=S.REQUESTING, requesting_since__lt=stuck_before),
        failed_rounds=rows.filter(state=S.FAILED, next_attempt_at__lte=now),
        unknown_outcomes_to_resend=(
            rows.none()
            if resend_after is None
            else rows.filter(
                state=S.OUTCOME_UNKNOWN,
                pok_credential_id__isnull=True,
                requesting_since__lt=now - timedelta(seconds=resend_after),
            )
        ),
        # The credential's own check should have run a while ago: its task was lost.
        status_checks=rows.filter(state=S.PROCESSING, pok_credential_id__isnull=False).exclude(
            next_attempt_at__gt=now - check_overdue_after
        ),
    )


def sweep(now: datetime | None = None) -> dict:
    """
    Put stuck credentials back on track; returns counts per action.

    - retrying rows that are due, and pending rows whose task seems lost: re-queued;
    - status checks long overdue: re-queued, which restarts the credential's chain of checks;
    - requesting rows older than POK_REQUESTING_TIMEOUT (the worker died during its POST): *outcome
      unknown*, never re-sent by the sweep;
    - failed rows with rounds left (POK was down for a whole round): issued again;
    - unknown outcomes older than POK_UNKNOWN_OUTCOME_RETRY_AFTER, only when that setting is set.
    """
    now = now or timezone.now()
    queueing.record_run(queueing.SWEEP_CREDENTIALS)
    due = due_work(now)
    counts = {
        "requeued": 0,
        "checks_requeued": 0,
        "outcome_unknown": 0,
        "reopened_failed": 0,
        "resent_unknown": 0,
        "errors": 0,
    }

    lost_ids = list(due.lost_pending.values_list("pk", flat=True)[:BATCH_SIZE])
    # Their clock restarts: a task still waiting behind busy workers is not queued again every run.
    PokCertificate.objects.filter(pk__in=lost_ids, state=S.PENDING).update(modified=now)
    for credential_id in [*due.retries.values_list("pk", flat=True)[:BATCH_SIZE], *lost_ids]:
        queueing.queue(queueing.ISSUE_CREDENTIAL, credential_id)
        counts["requeued"] += 1
    for credential_id in due.status_checks.values_list("pk", flat=True)[:BATCH_SIZE]:
        queueing.queue(queueing.CHECK_CREDENTIAL_STATUS, credential_id)
        counts["checks_requeued"] += 1

    for credential_id in due.unanswered_requests.values_list("pk", flat=True)[:BATCH_SIZE]:
        with lifecycle.isolated("sweep", credential_id=credential_id, counts=counts):
            if _settle_unanswered(credential_id, due, now):
                counts["outcome_unknown"] += 1
    for credential_id in due.failed_rounds.values_list("pk", flat=True)[:BATCH_SIZE]:
        with lifecycle.isolated("sweep", credential_id=credential_id, counts=counts):
            if sending.reopen_for_sending(credential_id, "another_round", now=now):
                counts["reopened_failed"] += 1
    for credential_id in due.unknown_outcomes_to_resend.values_list("pk", flat=True)[:BATCH_SIZE]:
        with lifecycle.isolated("sweep", credential_id=credential_id, counts=counts):
            if sending.reopen_for_sending(credential_id, "resent_after_unknown", now=now):
                counts["resent_unknown"] += 1
    return counts


def _settle_unanswered(credential_id: int, due: DueWork, now: datetime) -> bool:
    with transaction.atomic():
        locked = lifecycle.lock(credential_id)
        if locked is None or not due.unanswered_requests.filter(pk=locked.pk).exists():
            return False
        lifecycle.apply(
            locked,
            "answer_lost",
            reason="no answer recorded for the POST; POK may or may not have created the credential",
            now=now,
        )
    return True


def sync_statuses(
    now: datetime | None = None, *, check_overdue_after: timedelta = OVERDUE_CHECK_AFTER
) -> dict:
    """Check, here and now, the credentials whose own status check is long overdue; returns counts."""
    now = now or timezone.now()
    counts = {
        "polled": 0,
        "emitted": 0,
        "failed": 0,
        "revoked": 0,
        "processing": 0,
        "errors": 0,
        "skipped": 0,
    }
    due = due_work(now, check_overdue_after=check_overdue_after).status_checks
    due_ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:BATCH_SIZE])
    for credential_id in due_ids:
        state = "errors"
        with lifecycle.isolated("status check", credential_id=credential_id):
            state = status.check(credential_id, now=now)
        if state is None:  # another worker's check got there first
            counts["skipped"] += 1
            continue
        counts["polled"] += 1
        counts[state if state in counts else "errors"] += 1
    return counts


def next_run_in(now: datetime | None = None) -> float | None:
    """
    Seconds until the sweep may have something to do (between SWEEP_INTERVAL and MAX_COUNTDOWN),
    or None when no credential waits for anything.
    """
    return countdown_until(next_moment(), now or timezone.now())


def countdown_until(moment: datetime | None, now: datetime) -> float | None:
    """
    The sweep's countdown to act at ``moment``, between SWEEP_INTERVAL and MAX_COUNTDOWN; a
    little after it, so that a run Celery delivers a hair early still finds the work due.
    """
    if moment is None:
        return None
    delay = (moment + DUE_TOLERANCE - now).total_seconds()
    return min(MAX_COUNTDOWN, max(SWEEP_INTERVAL, delay))


def next_moment(after: datetime | None = None) -> datetime | None:
    """
    The earliest moment at which the sweep would act on a credential (its retry or certificate
    date, its status check long overdue, its request unanswered...), past or future; None when no
    credential waits for anything. ``after``: only the moments later than it.
    """
    policy = Policy.current()
    rows = PokCertificate.objects
    # What waits, the field that says since when, and how long after that the sweep acts.
    waits = [
        (
            rows.filter(
                state__in=[S.PENDING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN], next_attempt_at__isnull=False
            ),
            "next_attempt_at",
            timedelta(0),
        ),
        (rows.filter(state=S.PROCESSING), "next_attempt_at", OVERDUE_CHECK_AFTER),
        (rows.filter(state=S.REQUESTING), "requesting_since", timedelta(seconds=policy.requesting_timeout)),
        (rows.filter(state=S.PENDING, next_attempt_at__isnull=True), "modified", LOST_TASK_AFTER),
    ]
    if policy.unknown_outcome_resend_after is not None:
        waits.append(
            (
                rows.filter(state=S.OUTCOME_UNKNOWN, pok_credential_id__isnull=True),
                "requesting_since",
                timedelta(seconds=policy.unknown_outcome_resend_after),
            )
        )
    moments = []
    for waiting, field, delay in waits:
        not_met_yet = waiting if after is None else waiting.filter(**{f"{field}__gt": after - delay})
        since = not_met_yet.aggregate(at=Min(field))["at"]
        if since is not None:
            moments.append(since + delay)
    return min(moments, default=None)


def schedule_next_run(run_token: str) -> None:
    """
    After a self-scheduled sweep (even one that failed): come back while any credential still
    waits for something; while the database refuses to say, come back in a minute and look again.
    """
    try:
        countdown = next_run_in()
    except DatabaseError:
        log.warning("POK sweep: the database refused to say what waits; looking again in a minute")
        countdown = SWEEP_INTERVAL
    queueing.schedule_next_run(queueing.SWEEP_CREDENTIALS, run_token, countdown)
