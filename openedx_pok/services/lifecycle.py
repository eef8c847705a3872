"""
The credential lifecycle, declared once: every named transition, the states it leaves from, the
state it reaches and what it does to the row (attempts, next check, last error, POK's state, who
revoked), the tracking event it emits and the task that follows it.

Every change of a credential's state goes through :func:`apply`; the issuing, status, sweep,
operator and retirement services only decide *which* transition happens. The admin, ``pok_retry``,
``openedx_pok.api`` and the pages ask this module what is allowed (:func:`refusal`) and what the
public sees of a state (:func:`public_state`). docs/states.md describes the same table; a test
keeps them equal.
"""

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openedx_pok import client, monitoring, platform_adapter
from openedx_pok.models import CredentialState, PokCertificate, RevokedBy
from openedx_pok.services import queueing
from openedx_pok.services.policy import DUE_TOLERANCE, MAX_COUNTDOWN, Policy

log = logging.getLogger(__name__)

S = CredentialState
# The source of the transition that creates a row; not a state a row can be in.
NEW = "new"
HISTORY_LIMIT = 50
NOTE_LENGTH = 500

EVENT_REQUESTED = "edx.pok.credential.requested"
EVENT_EMITTED = "edx.pok.credential.emitted"
EVENT_FAILED = "edx.pok.credential.failed"
EVENT_REVOKED = "edx.pok.credential.revoked"

# What the public sees of a state: the page and the status endpoint know only these four.
PUBLIC_ISSUING, PUBLIC_EMITTED, PUBLIC_DELAYED, PUBLIC_REVOKED = "issuing", "emitted", "delayed", "revoked"
PUBLIC_STATES = {
    S.PENDING: PUBLIC_ISSUING,
    S.REQUESTING: PUBLIC_ISSUING,
    S.RETRYING: PUBLIC_ISSUING,
    S.PROCESSING: PUBLIC_ISSUING,
    S.OUTCOME_UNKNOWN: PUBLIC_ISSUING,
    S.EMITTED: PUBLIC_EMITTED,
    S.FAILED: PUBLIC_DELAYED,
    S.REVOKED: PUBLIC_REVOKED,
}
# States in which the learner is still waiting for POK (the "being issued" page).
IN_FLIGHT_STATES = frozenset(state for state, public in PUBLIC_STATES.items() if public == PUBLIC_ISSUING)


class InvalidTransition(Exception):
    """A transition was applied to a credential in a state it does not leave from: a bug."""


class IssuanceError(Exception):
    """An operation on a credential was refused; the message says why."""


class WrongState(IssuanceError):
    """The credential's state does not allow the operation."""


class DuplicateRisk(IssuanceError):
    """Re-sending would risk a second, paid credential; the caller must accept that risk explicitly."""


class NoPokCredential(IssuanceError):
    """POK never confirmed a credential for this row, so there is nothing to read back."""


class Attempts(enum.Enum):
    KEEP = "kept"
    COUNT = "one more"
    REFUND = "one less (POK only slowed us down)"
    RESET = "back to zero"


class NextCheck(enum.Enum):
    """When the lifecycle acts on the row next by itself (``next_attempt_at``), as the policy computes it."""

    KEEP = "kept"
    CLEAR = "none"
    NOW = "now"
    NOT_BEFORE = "when the course shows its certificates (now if it does)"
    RETRY = "exponential backoff"
    RATE_LIMIT = "POK's Retry-After"
    NEXT_ROUND = "another round later, while rounds are left"
    RESEND_UNKNOWN = "re-sent after POK_UNKNOWN_OUTCOME_RETRY_AFTER, when it is set"
    FIRST_CHECK = "first status check"
    NEXT_CHECK = "next status check, later as the credential ages"
    CHECK_AFTER_ERROR = "next status check, not before POK's Retry-After"
    LEASE = "held while this check runs"


class FollowUp(enum.Enum):
    NONE = ""
    ISSUE = queueing.ISSUE_CREDENTIAL
    CHECK = queueing.CHECK_CREDENTIAL_STATUS


class Text(enum.Enum):
    KEEP = "kept"
    SET = "set"
    CLEAR = "cleared"


# Every field a re-issue clears: what described the previous POK credential.
PREVIOUS_CREDENTIAL_FIELDS = (
    "pok_credential_id",
    "pok_state",
    "view_url",
    "image_url",
    "image_url_expires_at",
    "emission_date",
    "requesting_since",
)


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    # None: the credential stays in its state (only fields change, nothing enters the history).
    target: str | None
    description: str
    attempts: Attempts = Attempts.KEEP
    next_check: NextCheck = NextCheck.KEEP
    last_error: Text = Text.KEEP
    pok_state: Text = Text.KEEP
    revoked_by: str = ""
    event: str = ""
    follow_up: FollowUp = FollowUp.NONE
    clears: tuple[str, ...] = ()
    starts_request: bool = False

    def target_from(self, state: str) -> str:
        return state if self.target is None else self.target


_NOT_REVOKED = frozenset(S.values) - {S.REVOKED}
_NOT_HELD_BY_POK = frozenset({S.PENDING, S.REQUESTING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN})

TRANSITIONS: tuple[Transition, ...] = (
    # -- the platform asks ------------------------------------------------------------------------
    Transition(
        "requested",
        frozenset({NEW}),
        S.PENDING,
        "Open edX created the certificate: the credential is recorded and its sending queued.",
        next_check=NextCheck.NOT_BEFORE,
        event=EVENT_REQUESTED,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "reopened",
        frozenset({S.REVOKED, S.FAILED}),
        S.PENDING,
        "Open edX asked again for a credential POK never held (revoked by Open edX or POK, or refused): "
        "issued afresh.",
        attempts=Attempts.RESET,
        next_check=NextCheck.NOT_BEFORE,
        last_error=Text.CLEAR,
        event=EVENT_REQUESTED,
        follow_up=FollowUp.ISSUE,
        clears=("requesting_since", "emission_date"),
    ),
    Transition(
        "reopened_to_recheck",
        frozenset({S.REVOKED}),
        S.PROCESSING,
        "Open edX asked again for a revoked credential POK holds: POK's own state is read again.",
        next_check=NextCheck.NOW,
        event=EVENT_REQUESTED,
        follow_up=FollowUp.CHECK,
    ),
    Transition(
        "reopened_as_unknown",
        frozenset({S.REVOKED}),
        S.OUTCOME_UNKNOWN,
        "Open edX asked again for a credential revoked while its request was unanswered: POK may hold it.",
        next_check=NextCheck.CLEAR,
        last_error=Text.SET,
        event=EVENT_REQUESTED,
    ),
    # -- sending ----------------------------------------------------------------------------------
    Transition(
        "claimed",
        frozenset({S.PENDING, S.RETRYING}),
        S.REQUESTING,
        "A worker marks the credential as being sent, and commits, before its single POST.",
        attempts=Attempts.COUNT,
        next_check=NextCheck.CLEAR,
        starts_request=True,
    ),
    Transition(
        "accepted",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN, S.FAILED}),
        S.PROCESSING,
        "POK holds the credential and is producing it; its status checks begin.",
        next_check=NextCheck.FIRST_CHECK,
        last_error=Text.CLEAR,
        pok_state=Text.SET,
        follow_up=FollowUp.CHECK,
    ),
    Transition(
        "emitted",
        frozenset({S.REQUESTING, S.PROCESSING, S.OUTCOME_UNKNOWN, S.FAILED}),
        S.EMITTED,
        "POK emitted the credential.",
        next_check=NextCheck.CLEAR,
        last_error=Text.CLEAR,
        pok_state=Text.SET,
        event=EVENT_EMITTED,
    ),
    Transition(
        "rate_limited",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN}),
        S.RETRYING,
        "POK answered 429 with Retry-After: nothing was created; sent again when POK said, without "
        "spending an attempt.",
        attempts=Attempts.REFUND,
        next_check=NextCheck.RATE_LIMIT,
        last_error=Text.SET,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "retry_scheduled",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN}),
        S.RETRYING,
        "POK was unreachable or failing and created nothing: sent again after a growing delay.",
        next_check=NextCheck.RETRY,
        last_error=Text.SET,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "round_failed",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN}),
        S.FAILED,
        "POK stayed unavailable for a whole round of attempts: another round later, while rounds are left.",
        next_check=NextCheck.NEXT_ROUND,
        last_error=Text.SET,
        event=EVENT_FAILED,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "preparation_retry",
        frozenset({S.PENDING, S.RETRYING}),
        S.RETRYING,
        "The request could not be prepared for a passing reason (POK's template unavailable, a platform "
        "error); nothing was sent. Counts as an attempt.",
        attempts=Attempts.COUNT,
        next_check=NextCheck.RETRY,
        last_error=Text.SET,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "preparation_round_failed",
        frozenset({S.PENDING, S.RETRYING}),
        S.FAILED,
        "The request could not be prepared for a whole round of attempts; nothing was sent.",
        attempts=Attempts.COUNT,
        next_check=NextCheck.NEXT_ROUND,
        last_error=Text.SET,
        event=EVENT_FAILED,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "refused",
        frozenset({S.PENDING, S.RETRYING, S.REQUESTING, S.OUTCOME_UNKNOWN}),
        S.FAILED,
        "POK refused the credential (400, 401, 403, 404, 422), or the plugin cannot describe it (no "
        "template, a parameter without value): waits for a person.",
        next_check=NextCheck.CLEAR,
        last_error=Text.SET,
        event=EVENT_FAILED,
    ),
    Transition(
        "answer_lost",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN}),
        S.OUTCOME_UNKNOWN,
        "The POST was sent but no answer was recorded: POK may or may not hold the credential. Never "
        "sent again without an operator (or POK_UNKNOWN_OUTCOME_RETRY_AFTER).",
        next_check=NextCheck.RESEND_UNKNOWN,
        last_error=Text.SET,
        follow_up=FollowUp.ISSUE,
    ),
    # -- status checks ----------------------------------------------------------------------------
    Transition(
        "check_started",
        frozenset({S.PROCESSING}),
        None,
        "A status check holds the row while it asks POK, so a duplicate task stands back.",
        next_check=NextCheck.LEASE,
    ),
    Transition(
        "still_processing",
        frozenset({S.PROCESSING}),
        None,
        "POK is still producing the credential: the next check is scheduled, later each time.",
        next_check=NextCheck.NEXT_CHECK,
        last_error=Text.CLEAR,
        pok_state=Text.SET,
        follow_up=FollowUp.CHECK,
    ),
    Transition(
        "check_failed",
        frozenset({S.PROCESSING}),
        None,
        "POK could not be asked (unreachable, key refused): asked again later.",
        next_check=NextCheck.CHECK_AFTER_ERROR,
        last_error=Text.SET,
        follow_up=FollowUp.CHECK,
    ),
    Transition(
        "pok_state_seen",
        frozenset({S.PROCESSING, S.EMITTED, S.FAILED, S.REVOKED}),
        None,
        "What POK says is recorded without changing the state: an early check of a credential still "
        "processing, a re-read of an emitted one, or POK's answer for a credential revoked here.",
        pok_state=Text.SET,
    ),
    Transition(
        "failed_in_pok",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN, S.PROCESSING}),
        S.FAILED,
        "POK reports the credential aborted or its signature rejected, or no longer knows it.",
        next_check=NextCheck.CLEAR,
        last_error=Text.SET,
        pok_state=Text.SET,
        event=EVENT_FAILED,
    ),
    # -- revocations ------------------------------------------------------------------------------
    Transition(
        "revoked_by_platform",
        _NOT_REVOKED,
        S.REVOKED,
        "Open edX revoked the certificate (CERTIFICATE_REVOKED): a credential not sent yet never is.",
        next_check=NextCheck.CLEAR,
        revoked_by=RevokedBy.PLATFORM,
        event=EVENT_REVOKED,
    ),
    Transition(
        "revoked_in_pok",
        frozenset({S.REQUESTING, S.OUTCOME_UNKNOWN, S.PROCESSING, S.EMITTED, S.FAILED}),
        S.REVOKED,
        "POK reports the credential revoked.",
        next_check=NextCheck.CLEAR,
        pok_state=Text.SET,
        revoked_by=RevokedBy.POK,
        event=EVENT_REVOKED,
    ),
    Transition(
        "revoked_by_operator",
        _NOT_REVOKED,
        S.REVOKED,
        "An operator revoked it (admin, openedx_pok.api): a new request from Open edX does not undo it.",
        next_check=NextCheck.CLEAR,
        revoked_by=RevokedBy.OPERATOR,
        event=EVENT_REVOKED,
    ),
    Transition(
        "retired",
        _NOT_HELD_BY_POK,
        S.REVOKED,
        "The learner was retired before POK held the credential: it is never sent.",
        next_check=NextCheck.CLEAR,
        revoked_by=RevokedBy.RETIREMENT,
        event=EVENT_REVOKED,
    ),
    # -- operators and the sweep ------------------------------------------------------------------
    Transition(
        "retried_by_operator",
        frozenset({S.PENDING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN}),
        S.PENDING,
        "An operator sends it now (admin, pok_retry); an unknown outcome only when they accept the "
        "duplicate risk.",
        next_check=NextCheck.CLEAR,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "reissued",
        frozenset({S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN, S.REVOKED}),
        S.PENDING,
        "An operator asks for a brand-new POK credential (it costs a credit); the previous POK id stays "
        "in the history.",
        attempts=Attempts.RESET,
        next_check=NextCheck.CLEAR,
        last_error=Text.CLEAR,
        event=EVENT_REQUESTED,
        follow_up=FollowUp.ISSUE,
        clears=PREVIOUS_CREDENTIAL_FIELDS,
    ),
    Transition(
        "another_round",
        frozenset({S.FAILED}),
        S.PENDING,
        "The sweep gives a credential that failed during an outage another round of attempts.",
        next_check=NextCheck.CLEAR,
        follow_up=FollowUp.ISSUE,
    ),
    Transition(
        "resent_after_unknown",
        frozenset({S.OUTCOME_UNKNOWN}),
        S.PENDING,
        "POK_UNKNOWN_OUTCOME_RETRY_AFTER is set and has passed: sent again, at the risk of a duplicate.",
        next_check=NextCheck.CLEAR,
        follow_up=FollowUp.ISSUE,
    ),
)

TRANSITIONS_BY_NAME = {transition.name: transition for transition in TRANSITIONS}


def _allowed_transitions() -> dict[str, frozenset[str]]:
    allowed: dict[str, set[str]] = {state: set() for state in S.values}
    for transition in TRANSITIONS:
        for source in transition.sources - {NEW}:
            allowed[source].add(transition.target_from(source))
    return {state: frozenset(targets) for state, targets in allowed.items()}


# Derived from TRANSITIONS: the moves the code can make, and nothing else.
ALLOWED_TRANSITIONS = _allowed_transitions()


def allows(credential: PokCertificate, name: str) -> bool:
    return _current_state(credential) in TRANSITIONS_BY_NAME[name].sources


def _current_state(credential: PokCertificate) -> str:
    return NEW if credential.pk is None else credential.state


def apply(
    credential: PokCertificate,
    name: str,
    *,
    reason: str = "",
    summary: str | None = None,
    now: datetime | None = None,
    retry_after: float | None = None,
    not_before: datetime | None = None,
    pok_state: str = "",
    **fields,
) -> None:
    """
    Apply a transition to a row the caller holds (locked, or new) and save it; its tracking event
    and follow-up task leave when the caller's transaction commits.

    ``reason`` goes to the history (and ``last_error`` where the transition sets it); ``summary``
    replaces it in the log when the reason quotes POK, whose words may carry the learner's data.
    ``fields`` are the transition's own data (the POK id, the payload snapshot, the view URL...).
    """
    transition = TRANSITIONS_BY_NAME[name]
    source = _current_state(credential)
    if source not in transition.sources:
        raise InvalidTransition(f"{name}: {source} -> {transition.target}")
    now = now or timezone.now()
    policy = Policy.current()
    target = transition.target_from(source)
    previous_pok_state = credential.pok_state

    _apply_attempts(credential, transition.attempts)
    for field_name in transition.clears:
        setattr(credential, field_name, credential._meta.get_field(field_name).get_default())
    if transition.starts_request:
        credential.requesting_since = now
    for field_name, value in fields.items():
        setattr(credential, field_name, value)
    if transition.pok_state is Text.SET:
        credential.pok_state = PokCertificate.fit("pok_state", pok_state)
    if transition.last_error is Text.SET:
        credential.last_error = PokCertificate.fit("last_error", reason)
    elif transition.last_error is Text.CLEAR:
        credential.last_error = ""
    if target != source:
        credential.revoked_by = transition.revoked_by if target == S.REVOKED else ""
    delay = _next_check(credential, transition.next_check, policy, now, retry_after, not_before)
    note = (
        reason
        if delay is None or transition.next_check in _SILENT_DELAYS
        else f"{reason}; next in {delay:.1f}s"
    )
    if target != source:
        credential.history = [
            *(credential.history or [])[-(HISTORY_LIMIT - 1) :],
            {
                "at": now.isoformat(),
                "from": source,
                "to": target,
                "transition": name,
                "note": note[:NOTE_LENGTH],
            },
        ]
    credential.state = target
    credential.save()

    changed = target != source or credential.pok_state != previous_pok_state
    _log(credential, transition, source, summary if summary is not None else note, changed=changed)
    if transition.event:
        track(transition.event, credential)
    _follow_up(credential, transition, delay)


def _follow_up(credential: PokCertificate, transition: Transition, delay: float | None) -> None:
    """
    Queue the task that takes the credential on, once the change commits: at once when nothing
    waits, after the delay otherwise, or, when the delay is longer than a task may sleep in the
    broker, through the sweep (scheduled for that).
    """
    if transition.follow_up is FollowUp.NONE:
        return
    if delay is None:
        if transition.next_check not in _AT_ONCE_WITHOUT_DELAY:
            return  # nothing is scheduled: no round left, or no automatic re-send
        delay = 0.0
    countdown = Policy.countdown(delay)
    if countdown is None:
        transaction.on_commit(
            lambda: queueing.ensure_scheduled(queueing.SWEEP_CREDENTIALS, countdown=MAX_COUNTDOWN),
            robust=True,
        )
    else:
        queueing.queue_on_commit(transition.follow_up.value, credential.pk, countdown=countdown)


# A follow-up of these goes at once when they leave no next check.
_AT_ONCE_WITHOUT_DELAY = frozenset({NextCheck.CLEAR, NextCheck.NOT_BEFORE})
# Delays not worth a word in the history: they are not what the operator reads a row for.
_SILENT_DELAYS = frozenset({NextCheck.NOW, NextCheck.LEASE, NextCheck.NOT_BEFORE})


def _apply_attempts(credential: PokCertificate, effect: Attempts) -> None:
    if effect is Attempts.COUNT:
        credential.attempts += 1
    elif effect is Attempts.REFUND:
        credential.attempts = max(0, credential.attempts - 1)
    elif effect is Attempts.RESET:
        credential.attempts = 0


def _next_check(credential, effect: NextCheck, policy: Policy, now, retry_after, not_before) -> float | None:
    """Set ``next_attempt_at`` as the transition declares; returns the delay, or None when nothing waits."""
    if effect is NextCheck.KEEP:
        due = credential.next_attempt_at
        return None if due is None else max(0.0, (due - now).total_seconds())
    delays = {
        NextCheck.CLEAR: lambda: None,
        NextCheck.NOW: lambda: 0.0,
        NextCheck.NOT_BEFORE: lambda: (
            None if not_before is None else max(0.0, (not_before - now).total_seconds())
        ),
        NextCheck.RETRY: lambda: policy.retry_delay(credential.attempts, retry_after),
        NextCheck.RATE_LIMIT: lambda: policy.rate_limit_delay(retry_after),
        NextCheck.NEXT_ROUND: lambda: policy.next_round_delay(credential.attempts),
        NextCheck.RESEND_UNKNOWN: lambda: policy.unknown_outcome_resend_after,
        NextCheck.FIRST_CHECK: lambda: policy.first_check_delay(credential.generation_mode),
        NextCheck.NEXT_CHECK: lambda: policy.next_check_delay(_age(credential, now)),
        NextCheck.CHECK_AFTER_ERROR: lambda: policy.next_check_delay(_age(credential, now), retry_after),
        NextCheck.LEASE: policy.check_lease,
    }
    delay = delays[effect]()
    credential.next_attempt_at = None if delay is None else now + timedelta(seconds=delay)
    return delay


def _age(credential: PokCertificate, now: datetime) -> float:
    since = credential.requesting_since or credential.created or now
    return (now - since).total_seconds()


def _log(credential, transition: Transition, source: str, note: str, *, changed: bool) -> None:
    """One INFO line per change of state or of POK's state (DEBUG for the rest), and the same on the APM."""
    if changed:
        monitoring.set_custom_attribute("credential_state", credential.state)
        monitoring.set_custom_attribute("course_key", str(credential.course_key))
    log.log(
        logging.INFO if changed else logging.DEBUG,
        "POK credential %s (%s, POK id %s): %s -> %s [%s] (%s)",
        credential.pk,
        credential.course_key,
        credential.pok_credential_id or "none",
        source,
        credential.state,
        transition.name,
        note,
    )


def track(name: str, credential: PokCertificate) -> None:
    """Analytics events carry ids and states, never names or emails; sent once the change commits."""
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


# -- rows ------------------------------------------------------------------------------------------


@contextmanager
def isolated(what: str, *, credential_id: int | None = None, counts: dict | None = None) -> Iterator[None]:
    """
    One row of a batch (the sweep, the sync, a backfill, a retry): whatever it raises is logged once
    and written on the row, ``counts["errors"]`` grows, and the batch goes on with the next row.
    """
    try:
        yield
    except Exception as error:  # one poisoned row must not stall every other learner's credential
        log.exception("POK %s failed for credential %s; the batch goes on", what, credential_id or "(new)")
        if counts is not None:
            counts["errors"] = counts.get("errors", 0) + 1
        if credential_id is not None:
            _record_failure(credential_id, what, error)


def _record_failure(credential_id: int, what: str, error: Exception) -> None:
    reason = f"{what}: unexpected {type(error).__name__}: {str(error)[:300]}"
    try:
        last_error = PokCertificate.fit("last_error", reason)
        PokCertificate.objects.filter(pk=credential_id).update(last_error=last_error)
    except Exception:  # the database may be what failed; the log already has it
        log.warning("Could not record the failure on POK credential %s", credential_id, exc_info=True)


def lock(pok_certificate_id: int, *, skip_locked: bool = True) -> PokCertificate | None:
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


def is_due(credential: PokCertificate, now: datetime | None = None) -> bool:
    """Whether the row's next check time has come (a missing one is always due)."""
    due = credential.next_attempt_at
    return due is None or due <= (now or timezone.now()) + DUE_TOLERANCE


def public_state(credential: PokCertificate) -> str:
    """What the pages and the status endpoint say; a state this version does not know reads as issuing."""
    return PUBLIC_STATES.get(credential.state, PUBLIC_ISSUING)


def retries_by_itself(credential: PokCertificate) -> bool:
    """A failed credential that will be sent again by itself (another round after an outage)."""
    return credential.state == S.FAILED and credential.next_attempt_at is not None


# -- what operators may do -------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorAction:
    """An operator's action, the transition it applies and why it may be refused."""

    transition: str | None
    state_refusal: str
    # True: only with a POK id (POK must hold it); False: only without one (POK must not hold it).
    needs_pok_id: bool | None = None
    pok_id_refusal: str = ""


OPERATOR_ACTIONS = {
    "retry": OperatorAction(
        "retried_by_operator",
        _("%(state)s, nothing to retry"),
        needs_pok_id=False,
        pok_id_refusal=_("POK already holds this credential; resync it, or re-issue it explicitly"),
    ),
    "reissue": OperatorAction("reissued", _("%(state)s, still being issued")),
    "revoke": OperatorAction("revoked_by_operator", _("already revoked")),
    "resync": OperatorAction(
        None,
        "",
        needs_pok_id=True,
        pok_id_refusal=_("not created in POK yet (no POK id)"),
    ),
}


def refusal(credential: PokCertificate, action: str) -> str | None:
    """Why ``action`` cannot be applied to the credential now, or None when it can."""
    rule = OPERATOR_ACTIONS[action]
    if rule.transition is not None and not allows(credential, rule.transition):
        return str(rule.state_refusal) % {"state": credential.get_state_display()}
    if rule.needs_pok_id is not None and bool(credential.pok_credential_id) != rule.needs_pok_id:
        return str(rule.pok_id_refusal)
    return None


def require(credential: PokCertificate, action: str) -> None:
    """Raise WrongState when the action is refused (the services' guard; the admin asks refusal first)."""
    reason = refusal(credential, action)
    if reason is not None:
        raise WrongState(reason)


# -- describing POK's errors -------------------------------------------------------------------------


def describe_error(error: client.PokError) -> str:
    """The error with POK's own message: for the row, which operators read."""
    status = f"HTTP {error.status_code}: " if error.status_code else ""
    return f"{type(error).__name__}: {status}{error.message or error}"


def summarize_error(error: client.PokError) -> str:
    """The error's kind and HTTP status, without POK's message (which may quote the learner): for logs."""
    status = f", HTTP {error.status_code}" if error.status_code else ""
    return f"{type(error).__name__}{status}"
