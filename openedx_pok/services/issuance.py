"""
Issuing POK credentials: recording the platform's request, the single POST, and what happens to a
credential afterwards (retries, status polls, revocation, retirement).

Rules that keep learners whole and credits unspent:
- the creation step only writes a row and queues a task on commit; it never talks to POK;
- a row is locked and marked *requesting* (committed) before its POST, so a crash in between is
  visible, and a POST whose answer was lost is never repeated unless an operator or
  POK_UNKNOWN_OUTCOME_RETRY_AFTER says so;
- every state change goes through ``PokCertificate.move_to`` and logs one line without PII.
"""

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import client, monitoring, platform_adapter
from openedx_pok.conf import setting
from openedx_pok.models import ALLOWED_TRANSITIONS, CredentialState, PokCertificate
from openedx_pok.services.payload import Payload, PayloadError, build_payload

log = logging.getLogger(__name__)

S = CredentialState

# A task delivered by Celery slightly before its countdown (clock skew between hosts) is still due.
DUE_TOLERANCE = timedelta(seconds=1)
# A pending row whose task has not started after this long was probably lost with its message (or
# the workers are busy with a backfill: the sweep then re-queues it once per period, not every run).
LOST_TASK_AFTER = timedelta(minutes=10)
# Upper bound for an honoured Retry-After, so that a strange header cannot park a credential for ever.
MAX_RETRY_AFTER = 24 * 3600
# Seconds of spread added to POK's Retry-After (at least; a tenth of a long Retry-After otherwise).
RATE_LIMIT_JITTER = 0.5
# How many rows one sweep or sync run handles; the next run takes the rest.
BATCH_SIZE = 500
# POK states after which a credential will never be emitted.
POK_EMITTED = "emitted"
POK_REVOKED = "revoked"
POK_FINAL_FAILURES = frozenset({"aborted", "signatureRejected"})

EVENT_REQUESTED = "edx.pok.credential.requested"
EVENT_EMITTED = "edx.pok.credential.emitted"
EVENT_FAILED = "edx.pok.credential.failed"
EVENT_REVOKED = "edx.pok.credential.revoked"

# History notes of the revocations a new request from the platform may undo; an operator's may not.
REVOKED_BY_PLATFORM = "certificate revoked in Open edX"
REVOKED_IN_POK = "revoked in POK"
RETIRED = "learner retired"


class IssuanceError(Exception):
    """An operation on a credential was refused; the message says why."""


class WrongState(IssuanceError):
    """The credential's state does not allow the operation."""


class DuplicateRisk(IssuanceError):
    """Re-sending would risk a second, paid credential; the caller must accept that risk explicitly."""


class NoPokCredential(IssuanceError):
    """POK never confirmed a credential for this row, so there is nothing to read back."""


@dataclass(frozen=True)
class _Claim:
    """What the issuing task committed before its POST."""

    credential_id: int
    requesting_since: datetime


# --- the creation step ------------------------------------------------------------------------


def record_certificate_request(
    *, user, course_key, mode, status, course_grade, generation_mode
) -> PokCertificate | None:
    """
    The platform is creating a learner's certificate: record it and queue its POK credential.

    No network I/O: a row write and a task queued on commit. Expected problems (a malformed key,
    an anonymous user, a certificate that will not be downloadable, POK off for the course) are
    logged and answered with None; the platform's own certificate is never affected.
    """
    course_key = _as_course_key(course_key)
    if course_key is None or not _wants_credential(user, course_key, status):
        return None

    snapshot = {
        "grade_percent": platform_adapter.grade_percent(course_grade),
        "letter_grade": platform_adapter.letter_grade(course_grade)[:64],
        "mode": (mode or "")[:100],
        "generation_mode": (generation_mode or "")[:32],
    }
    with transaction.atomic():
        credential, created = _get_or_create(user, course_key, snapshot)
        if created:
            _log_change(credential, None, note="requested by the platform")
        elif not _reopen(credential, snapshot):
            log.debug(
                "POK credential %s for %s is %s; nothing to do", credential.pk, course_key, credential.state
            )
            return credential
        if credential.state == S.PENDING:
            _queue_when_viewable(credential)
        _track(EVENT_REQUESTED, credential)
    return credential


def _queue_when_viewable(credential: PokCertificate) -> None:
    """
    POK publishes a credential at once, so it is not sent before the platform shows the course's
    certificates (an instructor-paced course's end or certificate available date): until then it
    waits, pending, for the sweep.
    """
    available_at = platform_adapter.certificate_available_date(credential.course_key)
    if available_at is None:
        _queue_issue_on_commit(credential.pk)
        return
    PokCertificate.objects.filter(pk=credential.pk).update(next_attempt_at=available_at)
    credential.next_attempt_at = available_at
    log.info(
        "POK credential %s (%s) waits until %s, when the course's certificates become visible",
        credential.pk,
        credential.course_key,
        available_at.isoformat(),
    )


def _wants_credential(user, course_key: CourseKey, status) -> bool:
    """Whether this certificate should become a POK credential; says why not in the log."""
    if status not in (None, platform_adapter.DOWNLOADABLE):
        log.info("POK credential not requested for %s: certificate status is %s", course_key, status)
        return False
    if user is None or getattr(user, "pk", None) is None:
        log.warning("POK credential not requested for %s: no saved user was given", course_key)
        return False
    if not platform_adapter.is_pok_enabled_for_course(course_key):
        log.debug("POK is off for %s; the standard certificate is issued", course_key)
        return False
    if not setting("POK_API_KEY"):
        log.warning("POK is on for %s but POK_API_KEY is empty: no credential requested", course_key)
        return False
    return True


def _as_course_key(course_key) -> CourseKey | None:
    if isinstance(course_key, CourseKey):
        return course_key
    try:
        return CourseKey.from_string(str(course_key))
    except InvalidKeyError:
        log.warning("POK credential not requested: malformed course key %r", course_key)
        return None


def _get_or_create(user, course_key, snapshot) -> tuple[PokCertificate, bool]:
    """
    One row per learner and course, even when two processes request it at the same moment (inside
    the caller's transaction). After losing the race, a locking read sees the winner's row, where a
    plain read under MySQL's REPEATABLE READ would still see the snapshot without it.
    """
    existing = PokCertificate.objects.filter(user=user, course_key=course_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return PokCertificate.objects.create(user=user, course_key=course_key, **snapshot), True
    except IntegrityError:
        return PokCertificate.objects.select_for_update().get(user=user, course_key=course_key), False


def _reopen(credential: PokCertificate, snapshot: dict) -> bool:
    """
    A new request from the platform for a row that is not going anywhere.

    - revoked by an operator (or at retirement): stays revoked, a person decided;
    - revoked, with a POK credential: back to *processing*, so the status sync re-reads POK's own
      state instead of paying for a second credential;
    - revoked while its POST was on the wire or its outcome unknown: *outcome unknown*, since POK
      may hold it and only an operator may risk a duplicate;
    - revoked, never sent: issued afresh (nothing was paid);
    - failed, never confirmed by POK (a configuration or validation problem): issued afresh;
    everything else (emitted, in flight, unknown outcome, failed inside POK) is left alone.
    """
    locked = PokCertificate.objects.select_for_update().get(pk=credential.pk)
    if locked.state == S.REVOKED and not _revoked_by_platform_or_pok(locked):
        log.info(
            "POK credential %s (%s) was revoked here, not by the platform; its new request is ignored",
            locked.pk,
            locked.course_key,
        )
        return False
    if locked.state == S.REVOKED and not locked.pok_credential_id and _revoked_mid_request(locked):
        reason = "requested again by the platform; POK may already hold the credential sent before"
        _move(locked, S.OUTCOME_UNKNOWN, reason)
        locked.last_error = reason
        locked.next_attempt_at = None
        locked.save()
    elif locked.state == S.REVOKED and locked.pok_credential_id:
        _move(locked, S.PROCESSING, "requested again by the platform; re-reading POK's state")
        locked.next_attempt_at = timezone.now()
        locked.save()
    elif locked.state in (S.REVOKED, S.FAILED) and not locked.pok_credential_id:
        _move(locked, S.PENDING, "requested again by the platform")
        for name, value in snapshot.items():
            setattr(locked, name, value)
        locked.attempts = 0
        locked.last_error = ""
        locked.next_attempt_at = None
        locked.requesting_since = None
        locked.emission_date = None
        locked.save()
    else:
        return False
    credential.refresh_from_db()
    return True


def _revocation(credential: PokCertificate) -> dict:
    """The history entry of a revoked row's revocation (its last move)."""
    return credential.history[-1] if credential.history else {}


def _revoked_by_platform_or_pok(credential: PokCertificate) -> bool:
    return _revocation(credential).get("note") in (REVOKED_BY_PLATFORM, REVOKED_IN_POK)


def _revoked_mid_request(credential: PokCertificate) -> bool:
    """Revoked while its POST was unanswered: the answer, lost or still coming, may have created it."""
    return _revocation(credential).get("from") in (S.REQUESTING, S.OUTCOME_UNKNOWN)


# --- queueing -------------------------------------------------------------------------------------


def _queue(task_name: str, *args, countdown: float | None = None) -> None:
    """Send a task to the broker; a broker outage is logged, and the sweep re-queues the work later."""
    from openedx_pok import tasks  # noqa: PLC0415  (tasks import this module)

    options = {"args": list(args)}
    queue = setting("POK_CELERY_QUEUE")
    if queue:
        options["queue"] = queue
    if countdown:
        options["countdown"] = countdown
    try:
        getattr(tasks, task_name).apply_async(**options)
    except Exception:  # brokers raise many unrelated types; the sweep recovers
        log.warning("Could not queue %s%r; the sweep will retry it", task_name, tuple(args), exc_info=True)


def _queue_issue_on_commit(credential_id: int, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _queue("issue_credential", credential_id, countdown=countdown), robust=True)


# --- the issuing task -----------------------------------------------------------------------------


def issue(pok_certificate_id: int) -> None:
    """
    Issue one credential: build its payload, claim the row, POST once, record the outcome.

    Exits quietly when the row is gone, revoked, already claimed by another worker, or not due.
    """
    credential = PokCertificate.objects.select_related("user").filter(pk=pok_certificate_id).first()
    if credential is None:
        log.info("POK credential %s no longer exists; nothing to issue", pok_certificate_id)
        return
    if not _is_due(credential):
        log.debug("POK credential %s is %s and not due; skipped", credential.pk, credential.state)
        return
    prepared = _prepare(credential)
    if prepared is None:
        return
    claim, payload = prepared
    try:
        pok_credential = client.get_client().create_credential(payload.body)
    except client.PokOutcomeUnknown as error:
        _settle_sent(claim, S.OUTCOME_UNKNOWN, error)
    except (client.PokUnavailable, client.PokRateLimited) as error:
        _settle_sent(claim, S.RETRYING, error)
    except client.PokError as error:
        _settle_sent(claim, S.FAILED, error)
    else:
        _record_created(claim, pok_credential)


def _prepare(credential: PokCertificate) -> tuple[_Claim, Payload] | None:
    """Build the payload and claim the row; None when this worker is not to send it (settled or taken)."""
    try:
        payload = build_payload(credential)
        claim = _claim(credential, payload)
    except PayloadError as error:
        _settle_unsent(credential, S.FAILED, f"payload: {error}", summary="payload could not be built")
    except (client.PokUnavailable, client.PokRateLimited) as error:
        _settle_unsent(
            credential,
            S.RETRYING,
            f"template definition: {_describe(error)}",
            summary=f"template definition: {_summary(error)}",
            error=error,
        )
    except client.PokError as error:
        _settle_unsent(
            credential,
            S.FAILED,
            f"template definition: {_describe(error)}",
            summary=f"template definition: {_summary(error)}",
        )
    except Exception as error:  # a bug or a platform hiccup: count it as an attempt, never loop unseen
        log.exception("POK credential %s could not be prepared for sending", credential.pk)
        reason = f"unexpected error before sending: {type(error).__name__}"
        _settle_unsent(credential, S.RETRYING, reason, summary=reason)
    else:
        return None if claim is None else (claim, payload)
    return None


def _is_due(credential: PokCertificate, now: datetime | None = None) -> bool:
    """Pending rows may wait for the course's certificate date, retrying rows for their backoff."""
    if credential.state in (S.PENDING, S.RETRYING):
        now = now or timezone.now()
        return credential.next_attempt_at is None or credential.next_attempt_at <= now + DUE_TOLERANCE
    return False


def _lock(pok_certificate_id: int, *, skip_locked: bool = True) -> PokCertificate | None:
    """
    Lock a row for this transaction; None when another worker holds it (where the database can
    tell without waiting) or when it is gone.
    """
    queryset = PokCertificate.objects.select_related("user")
    if skip_locked and connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    else:
        queryset = queryset.select_for_update()
    return queryset.filter(pk=pok_certificate_id).first()


def _claim(credential: PokCertificate, payload: Payload) -> _Claim | None:
    """Mark the row *requesting* and commit, unless another worker got there first."""
    with transaction.atomic():
        locked = _lock(credential.pk)
        if locked is None or locked.state != credential.state or locked.attempts != credential.attempts:
            log.info("POK credential %s is being handled elsewhere; skipped", credential.pk)
            return None
        if not _is_due(locked):
            return None
        now = timezone.now()
        _move(locked, S.REQUESTING, f"attempt {locked.attempts + 1}")
        locked.attempts += 1
        locked.requesting_since = now
        locked.next_attempt_at = None
        locked.template_id = payload.template.template_id
        locked.page_id = payload.template.page_id
        locked.emission_type = payload.template.emission_type
        locked.emission_date = payload.emission_date
        locked.title = payload.title[:255]
        locked.emitter = payload.emitter[:255]
        locked.tags = payload.tags
        locked.language_tag = payload.language_tag
        locked.receiver_name = payload.receiver_name[:255]
        locked.receiver_email = payload.receiver_email
        locked.save()
    return _Claim(credential_id=locked.pk, requesting_since=now)


def _settle_unsent(credential: PokCertificate, state: str, reason: str, *, summary: str, error=None) -> None:
    """The payload could not be built: nothing reached POK, so retrying is always safe."""
    with transaction.atomic():
        locked = _lock(credential.pk)
        if locked is None or locked.state != credential.state or locked.attempts != credential.attempts:
            return
        if state == S.RETRYING:
            locked.attempts += 1
            _schedule_retry(locked, reason, error, summary=summary)
        else:
            _fail(locked, reason, retry_later=False, summary=summary)
        locked.save()


def _settle_sent(claim: _Claim, state: str, error: client.PokError) -> None:
    """Record a POST that did not produce a credential."""
    reason, summary = _describe(error), _summary(error)
    with transaction.atomic():
        locked = _lock(claim.credential_id, skip_locked=False)
        if locked is None or not _still_ours(locked, claim):
            return
        if locked.state == S.REVOKED:
            if _revocation(locked).get("note") != RETIRED:  # POK's words may quote the retired learner
                locked.last_error = reason[:2000]
                locked.save()
            return
        if state == S.OUTCOME_UNKNOWN:
            if locked.state != S.OUTCOME_UNKNOWN:
                _move(locked, S.OUTCOME_UNKNOWN, reason, summary=summary)
            locked.last_error = reason[:2000]
        elif isinstance(error, client.PokRateLimited):
            _reschedule_after_rate_limit(locked, reason, error, summary=summary)
        elif state == S.RETRYING:
            _schedule_retry(locked, reason, error, summary=summary)
        else:
            _fail(locked, reason, retry_later=False, summary=summary)
        locked.save()


def _still_ours(locked: PokCertificate, claim: _Claim) -> bool:
    """The row still describes our POST (the sweep may have called it unknown, or it was revoked)."""
    return locked.requesting_since == claim.requesting_since and locked.state in (
        S.REQUESTING,
        S.OUTCOME_UNKNOWN,
        S.REVOKED,
    )


def _schedule_retry(locked: PokCertificate, reason: str, error, *, summary: str) -> None:
    """Back off, or give up for this round when the attempts are spent."""
    max_attempts = max(1, int(setting("POK_MAX_ATTEMPTS")))
    if locked.attempts % max_attempts == 0:
        _fail(
            locked,
            f"{reason} (after {locked.attempts} attempts)",
            retry_later=True,
            summary=f"{summary} (after {locked.attempts} attempts)",
        )
        return
    delay = retry_delay(locked.attempts, getattr(error, "retry_after", None))
    locked.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    locked.last_error = reason[:2000]
    _move(locked, S.RETRYING, f"{reason}; retry in {delay:.0f}s", summary=f"{summary}; retry in {delay:.0f}s")
    _queue_issue_on_commit(locked.pk, countdown=delay)


def _reschedule_after_rate_limit(
    locked: PokCertificate, reason: str, error: client.PokRateLimited, *, summary: str
):
    """
    POK refused the POST only to slow us down, so nothing was created and POK is healthy: come
    back when it says, without doubling the delay or spending one of the credential's attempts.
    Doubling here would leave POK idle while a backfill's learners wait out long backoffs.
    """
    if not error.retry_after:
        _schedule_retry(locked, reason, error, summary=summary)
        return
    locked.attempts -= 1
    delay = rate_limit_delay(error.retry_after)
    locked.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    locked.last_error = reason[:2000]
    _move(locked, S.RETRYING, f"{reason}; retry in {delay:.1f}s", summary=f"{summary}; retry in {delay:.1f}s")
    _queue_issue_on_commit(locked.pk, countdown=delay)


def rate_limit_delay(retry_after: float) -> float:
    """POK's Retry-After plus a little jitter, so the learners it turned away do not return as one herd."""
    wait = min(float(retry_after), MAX_RETRY_AFTER)
    return wait + random.uniform(0, max(RATE_LIMIT_JITTER, wait / 10))  # noqa: S311  (jitter, not security)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """
    Exponential backoff with jitter: base·2^(n-1) capped, then a random point in its upper half,
    never sooner than POK's own Retry-After.
    """
    max_attempts = max(1, int(setting("POK_MAX_ATTEMPTS")))
    attempt_in_round = (attempts - 1) % max_attempts + 1
    ceiling = min(
        float(setting("POK_RETRY_MAX_DELAY")),
        float(setting("POK_RETRY_BASE_DELAY")) * 2 ** (attempt_in_round - 1),
    )
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not security)
    if retry_after:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return delay


def _fail(locked: PokCertificate, reason: str, *, retry_later: bool, summary: str | None = None) -> None:
    """
    Mark the credential failed. Transient failures (POK down for a whole round of attempts) are
    given further rounds by the sweep, POK_RETRY_MAX_DELAY apart, up to POK_FAILED_RETRY_ROUNDS;
    definite failures (POK refused the credential, a configuration problem) wait for a person.
    """
    max_attempts = max(1, int(setting("POK_MAX_ATTEMPTS")))
    rounds = 1 + max(0, int(setting("POK_FAILED_RETRY_ROUNDS")))
    if retry_later and locked.attempts < max_attempts * rounds:
        locked.next_attempt_at = timezone.now() + timedelta(seconds=float(setting("POK_RETRY_MAX_DELAY")))
    else:
        locked.next_attempt_at = None
    locked.last_error = reason[:2000]
    _move(locked, S.FAILED, reason, summary=summary)
    _track(EVENT_FAILED, locked)


def _record_created(claim: _Claim, pok_credential: client.PokCredential) -> None:
    """POK accepted the POST: keep its id whatever happened to the row meanwhile."""
    with transaction.atomic():
        locked = _lock(claim.credential_id, skip_locked=False)
        if locked is None:
            log.error("POK credential %s was created in POK but its row is gone", pok_credential.id)
            return
        if not _still_ours(locked, claim):
            log.error(
                "POK credential %s created for row %s, which is now %s; kept as it is",
                pok_credential.id,
                locked.pk,
                locked.state,
            )
            return
        locked.pok_credential_id = pok_credential.id
        locked.last_error = ""
        if locked.state == S.REVOKED:
            locked.pok_state = pok_credential.state
            locked.save()
            log.info("POK credential %s (%s) was revoked while being issued", locked.pk, locked.course_key)
            return
        _apply_pok_state(locked, pok_credential, now=timezone.now())
        locked.save()
    if locked.state == S.EMITTED:
        _refresh_image_quietly(locked)


# --- POK's view of a credential ---------------------------------------------------------------------


def _apply_pok_state(locked: PokCertificate, pok_credential: client.PokCredential, *, now: datetime) -> None:
    """Bring a locked row in line with what POK reports; the caller saves it."""
    previous_pok_state = locked.pok_state
    locked.pok_state = (pok_credential.state or "")[:64]
    if pok_credential.view_url:
        locked.view_url = pok_credential.view_url[:500]
    state = pok_credential.state
    if state == POK_EMITTED:
        if pok_credential.emission_date:
            locked.emission_date = pok_credential.emission_date
        locked.next_attempt_at = None
        if locked.state != S.EMITTED:
            _move(locked, S.EMITTED, "emitted by POK")
            _track(EVENT_EMITTED, locked)
    elif state == POK_REVOKED:
        locked.next_attempt_at = None
        if locked.state != S.REVOKED:
            _move(locked, S.REVOKED, REVOKED_IN_POK)
            _track(EVENT_REVOKED, locked)
    elif state in POK_FINAL_FAILURES:
        if locked.state != S.FAILED:
            _fail(locked, f"POK reports the credential as {state}", retry_later=False)
    else:
        # Pending in POK, including states this code does not know: keep polling.
        locked.next_attempt_at = now + timedelta(seconds=_poll_delay(locked, now))
        if locked.state != S.PROCESSING and S.PROCESSING in ALLOWED_TRANSITIONS[locked.state]:
            _move(locked, S.PROCESSING, f"POK state {state or 'unknown'}")
        elif previous_pok_state != locked.pok_state:
            log.info(
                "POK credential %s (%s, POK id %s): POK state %s",
                locked.pk,
                locked.course_key,
                locked.pok_credential_id,
                locked.pok_state,
            )


def _poll_delay(credential: PokCertificate, now: datetime) -> float:
    """Polls get rarer as a credential stays in POK: roughly its age, within the configured bounds."""
    initial = float(setting("POK_STATUS_POLL_INITIAL_DELAY"))
    ceiling = float(setting("POK_STATUS_POLL_MAX_DELAY"))
    since = credential.requesting_since or credential.created or now
    age = max(0.0, (now - since).total_seconds())
    return max(initial, min(ceiling, age))


def sync_statuses(now: datetime | None = None) -> dict:
    """Poll POK for the credentials it is still processing and that are due; returns counts."""
    now = now or timezone.now()
    counts = {"polled": 0, "emitted": 0, "failed": 0, "revoked": 0, "processing": 0, "errors": 0}
    due_ids = list(
        due_work(now).status_polls.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:BATCH_SIZE]
    )
    for credential_id in due_ids:
        state = _sync_one(credential_id, now=now)
        counts["polled"] += 1
        counts[state if state in counts else "errors"] += 1
    return counts


def _sync_one(credential_id: int, *, now: datetime) -> str:
    credential = PokCertificate.objects.filter(pk=credential_id).first()
    if credential is None or not credential.pok_credential_id:
        return "errors"
    try:
        pok_credential = client.get_client().get_credential(credential.pok_credential_id)
    except client.PokNotFound as error:
        with transaction.atomic():
            locked = _lock(credential_id)
            if locked is not None and locked.state == S.PROCESSING:
                _fail(
                    locked,
                    f"POK does not know this credential: {_describe(error)}",
                    retry_later=False,
                    summary=f"POK does not know this credential: {_summary(error)}",
                )
                locked.save()
        return "failed"
    except client.PokError as error:
        # POK unreachable or our key refused: not the credential's fault; poll again later.
        with transaction.atomic():
            locked = _lock(credential_id)
            if locked is not None and locked.state == S.PROCESSING:
                locked.last_error = f"status poll: {_describe(error)}"[:2000]
                delay = max(_poll_delay(locked, now), float(getattr(error, "retry_after", None) or 0))
                locked.next_attempt_at = now + timedelta(seconds=delay)
                locked.save()
        log.warning("POK status poll of credential %s failed: %s", credential_id, _summary(error))
        return "errors"
    with transaction.atomic():
        locked = _lock(credential_id)
        if locked is None or locked.state != S.PROCESSING:
            return "errors"
        _apply_pok_state(locked, pok_credential, now=now)
        locked.save()
    if locked.state == S.EMITTED:
        _refresh_image_quietly(locked)
    return locked.state


def refresh_image(credential: PokCertificate) -> str:
    """Fetch the emitted credential's image location from POK and keep it for POK_IMAGE_URL_LIFETIME."""
    if not credential.pok_credential_id:
        raise NoPokCredential(f"credential {credential.pk} has no POK id")
    location = client.get_client().get_credential_image(credential.pok_credential_id)
    expires_at = timezone.now() + timedelta(seconds=float(setting("POK_IMAGE_URL_LIFETIME")))
    PokCertificate.objects.filter(pk=credential.pk).update(
        image_url=location[:1000], image_url_expires_at=expires_at, modified=timezone.now()
    )
    credential.image_url, credential.image_url_expires_at = location[:1000], expires_at
    return location


def _refresh_image_quietly(credential: PokCertificate) -> None:
    """The image is a nicety of the certificate page: failing to fetch it changes no state."""
    try:
        refresh_image(credential)
    except client.PokError as error:
        log.warning("POK image of credential %s not fetched: %s", credential.pk, _summary(error))


# --- the sweep --------------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> dict:
    """
    Put stuck credentials back on track; returns counts per action.

    - retrying rows that are due, and pending rows whose task seems lost: re-queued;
    - requesting rows older than POK_REQUESTING_TIMEOUT (the worker died during its POST): *outcome
      unknown*, never re-sent by the sweep;
    - failed rows with rounds left (POK was down for a whole round): issued again;
    - unknown outcomes older than POK_UNKNOWN_OUTCOME_RETRY_AFTER, only when that setting is set.
    """
    now = now or timezone.now()
    due = due_work(now)
    counts = {"requeued": 0, "outcome_unknown": 0, "reopened_failed": 0, "resent_unknown": 0}

    lost_ids = list(due.lost_pending.values_list("pk", flat=True)[:BATCH_SIZE])
    # Their clock restarts: a task still waiting behind busy workers is not queued again every run.
    PokCertificate.objects.filter(pk__in=lost_ids, state=S.PENDING).update(modified=now)
    for credential_id in [*due.retries.values_list("pk", flat=True)[:BATCH_SIZE], *lost_ids]:
        _queue("issue_credential", credential_id)
        counts["requeued"] += 1

    for credential_id in due.unanswered_requests.values_list("pk", flat=True)[:BATCH_SIZE]:
        with transaction.atomic():
            locked = _lock(credential_id)
            if locked is None or not due.unanswered_requests.filter(pk=locked.pk).exists():
                continue
            reason = "no answer recorded for the POST; POK may or may not have created the credential"
            _move(locked, S.OUTCOME_UNKNOWN, reason)
            locked.last_error = reason
            locked.save()
        counts["outcome_unknown"] += 1

    for credential_id in due.failed_rounds.values_list("pk", flat=True)[:BATCH_SIZE]:
        if _reopen_for_sending(
            credential_id, S.FAILED, "another round of attempts after POK was unavailable"
        ):
            counts["reopened_failed"] += 1

    for credential_id in due.unknown_outcomes_to_resend.values_list("pk", flat=True)[:BATCH_SIZE]:
        note = "re-sent after an unknown outcome (POK_UNKNOWN_OUTCOME_RETRY_AFTER; duplicate risk)"
        if _reopen_for_sending(credential_id, S.OUTCOME_UNKNOWN, note):
            log.warning("POK credential %s re-sent after an unknown outcome", credential_id)
            counts["resent_unknown"] += 1
    return counts


@dataclass(frozen=True)
class DueWork:
    """What the sweep and the status sync pick up at one moment; ``pok_sync --dry-run`` counts it."""

    retries: QuerySet
    lost_pending: QuerySet
    unanswered_requests: QuerySet
    failed_rounds: QuerySet
    unknown_outcomes_to_resend: QuerySet
    status_polls: QuerySet


def due_work(now: datetime | None = None) -> DueWork:
    now = now or timezone.now()
    rows = PokCertificate.objects
    stuck_before = now - timedelta(seconds=float(setting("POK_REQUESTING_TIMEOUT")))
    resend_after = setting("POK_UNKNOWN_OUTCOME_RETRY_AFTER")
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
                requesting_since__lt=now - timedelta(seconds=float(resend_after)),
            )
        ),
        status_polls=rows.filter(state=S.PROCESSING, pok_credential_id__isnull=False).exclude(
            next_attempt_at__gt=now
        ),
    )


def _reopen_for_sending(credential_id: int, expected_state: str, note: str) -> bool:
    with transaction.atomic():
        locked = _lock(credential_id)
        if locked is None or locked.state != expected_state:
            return False
        _move(locked, S.PENDING, note)
        locked.next_attempt_at = None
        locked.save()
        _queue_issue_on_commit(locked.pk)
    return True


# --- operator and API actions ---------------------------------------------------------------------


def retry_now(credential: PokCertificate, *, accept_duplicate_risk: bool = False) -> None:
    """
    Send a credential that has not reached POK as soon as a worker is free.

    An unknown outcome may already exist in POK: it is only re-sent with ``accept_duplicate_risk``.
    """
    with transaction.atomic():
        locked = _lock(credential.pk, skip_locked=False)
        if locked is None:
            raise WrongState(f"credential {credential.pk} no longer exists")
        if locked.state == S.OUTCOME_UNKNOWN and not accept_duplicate_risk:
            raise DuplicateRisk(
                "POK may already hold this credential; re-sending could issue and charge a duplicate"
            )
        if locked.state in (S.FAILED, S.OUTCOME_UNKNOWN) and locked.pok_credential_id:
            raise WrongState("POK already holds this credential; resync it, or re-issue it explicitly")
        if locked.state in (S.FAILED, S.OUTCOME_UNKNOWN):
            _move(locked, S.PENDING, "retry requested by an operator")
        elif locked.state not in (S.PENDING, S.RETRYING):
            raise WrongState(f"a {locked.state} credential cannot be retried")
        locked.next_attempt_at = None
        locked.save()
        _queue_issue_on_commit(locked.pk)
    credential.refresh_from_db()


def resync_from_pok(credential: PokCertificate) -> None:
    """Read the credential back from POK now and apply what POK says."""
    if not credential.pok_credential_id:
        raise NoPokCredential(f"credential {credential.pk} has no POK id to read back")
    pok_credential = client.get_client().get_credential(credential.pok_credential_id)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(credential.pk, skip_locked=False)
        if locked.state == S.REVOKED and pok_credential.state != POK_REVOKED:
            # Revoked in Open edX: POK's copy stays valid there, but not here.
            locked.pok_state = pok_credential.state[:64]
        else:
            _apply_pok_state(locked, pok_credential, now=now)
        locked.save()
    if locked.state == S.EMITTED:
        _refresh_image_quietly(locked)
    credential.refresh_from_db()


def reissue(credential: PokCertificate) -> None:
    """
    Issue a brand-new POK credential for the learner (an explicit action: it costs a credit). The
    previous POK id, if any, is kept in the history.
    """
    with transaction.atomic():
        locked = _lock(credential.pk, skip_locked=False)
        if locked is None:
            raise WrongState(f"credential {credential.pk} no longer exists")
        if locked.state not in (S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN, S.REVOKED):
            raise WrongState(f"a {locked.state} credential is still being issued; it cannot be re-issued")
        previous = locked.pok_credential_id or "none"
        _move(locked, S.PENDING, f"re-issue requested; previous POK id {previous}")
        locked.pok_credential_id = None
        locked.pok_state = ""
        locked.view_url = ""
        locked.image_url = ""
        locked.image_url_expires_at = None
        locked.emission_date = None
        locked.attempts = 0
        locked.last_error = ""
        locked.next_attempt_at = None
        locked.requesting_since = None
        locked.save()
        _queue_issue_on_commit(locked.pk)
        _track(EVENT_REQUESTED, locked)
    credential.refresh_from_db()


def revoke(credential: PokCertificate, reason: str) -> None:
    """
    Revoke the credential here: the certificate page shows the platform's invalid page. POK has no
    revoke endpoint, so a credential already in POK must also be revoked in POK's dashboard.
    """
    with transaction.atomic():
        locked = _lock(credential.pk, skip_locked=False)
        if locked is None or locked.state == S.REVOKED:
            return
        _move(locked, S.REVOKED, reason or "revoked")
        locked.next_attempt_at = None
        locked.save()
        _track(EVENT_REVOKED, locked)
    credential.refresh_from_db()


def revoke_for_platform(*, user_id: int, course_key) -> None:
    """The platform revoked the learner's certificate: a pending credential is never sent."""
    course_key = _as_course_key(course_key)
    if course_key is None:
        return
    for credential in PokCertificate.objects.filter(user_id=user_id, course_key=course_key).exclude(
        state=S.REVOKED
    ):
        revoke(credential, REVOKED_BY_PLATFORM)


def scrub_learner_pii(user) -> int:
    """
    Retirement: forget the names and emails copied from the learner, and POK's error texts and
    history notes that may quote them; returns the rows scrubbed. A credential POK does not hold
    is revoked, so the retired placeholder identity is never sent. One POK holds stays as it is:
    POK has no revoke endpoint.
    """
    scrubbed = 0
    for credential_id in PokCertificate.objects.filter(user=user).values_list("pk", flat=True):
        with transaction.atomic():
            locked = _lock(credential_id, skip_locked=False)
            if locked is None:
                continue
            locked.receiver_name = ""
            locked.receiver_email = ""
            locked.last_error = ""
            locked.history = [{**entry, "note": ""} for entry in locked.history]
            if not locked.pok_credential_id and locked.state != S.REVOKED:
                _move(locked, S.REVOKED, RETIRED)
                locked.next_attempt_at = None
            locked.save()
        scrubbed += 1
    log.info("Scrubbed learner data from %s POK credential(s) of user %s", scrubbed, user.pk)
    return scrubbed


# --- helpers --------------------------------------------------------------------------------------


def _move(credential: PokCertificate, new_state: str, note: str, *, summary: str | None = None) -> None:
    """
    Change state, with the full ``note`` in the row's history; the log line gets ``summary`` when
    the note carries POK's own words, which may quote the learner's data.
    """
    previous = credential.state
    credential.move_to(new_state, note=note)
    _log_change(credential, previous, note=summary if summary is not None else note)


def _log_change(credential: PokCertificate, previous: str | None, *, note: str) -> None:
    """One INFO line per state change, and the same facts on the task's APM transaction."""
    monitoring.set_custom_attribute("credential_state", credential.state)
    monitoring.set_custom_attribute("course_key", str(credential.course_key))
    log.info(
        "POK credential %s (%s, POK id %s): %s -> %s (%s)",
        credential.pk,
        credential.course_key,
        credential.pok_credential_id or "none",
        previous or "new",
        credential.state,
        note,
    )


def _summary(error: client.PokError) -> str:
    """The error's kind and HTTP status, without POK's message: safe for INFO logs."""
    status = f", HTTP {error.status_code}" if error.status_code else ""
    return f"{type(error).__name__}{status}"


def _describe(error: client.PokError) -> str:
    status = f"HTTP {error.status_code}: " if error.status_code else ""
    return f"{type(error).__name__}: {status}{error.message or error}"


def _track(name: str, credential: PokCertificate) -> None:
    """Analytics events carry ids and states, never names or emails."""
    data = {
        "course_id": str(credential.course_key),
        "user_id": credential.user_id,
        "credential_id": str(credential.public_id),
        "pok_credential_id": credential.pok_credential_id or "",
        "state": credential.state,
        "mode": credential.mode,
    }
    transaction.on_commit(lambda: _emit_quietly(name, data), robust=True)


def _emit_quietly(name: str, data: dict) -> None:
    try:
        platform_adapter.emit_tracking_event(name, data)
    except Exception:  # analytics must never affect issuing
        log.warning("Tracking event %s not emitted", name, exc_info=True)
