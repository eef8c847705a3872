"""
Applying the credential lifecycle: :func:`apply` moves a row along a transition of
:mod:`~openedx_pok.services.transitions` (the table, declared once there) and does what its row
says: the row's fields, the history, the log line, the tracking event and the task that follows.

Every change of a credential's state goes through :func:`apply`; the issuing, status, sweep,
operator and retirement services only decide *which* transition happens. The admin, ``pok_retry``,
``openedx_pok.api`` and the pages ask this module what is allowed (:func:`refusal`) and what the
public sees of a state (:func:`public_state`).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from openedx_pok import client, monitoring, platform_adapter
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import queueing
from openedx_pok.services.policy import DUE_TOLERANCE, MAX_COUNTDOWN, Policy
from openedx_pok.services.transitions import NEW, TRANSITIONS, Attempts, NextCheck, Text, Transition

log = logging.getLogger(__name__)

S = CredentialState
HISTORY_LIMIT = 50
NOTE_LENGTH = 500

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
    if transition.event is not None:
        track(transition.event, credential)
    _follow_up(credential, transition, delay)


def _follow_up(credential: PokCertificate, transition: Transition, delay: float | None) -> None:
    """
    Queue the task that takes the credential on, once the change commits: at once when nothing
    waits, after the delay otherwise, or, when the delay is longer than a task may sleep in the
    broker, through the sweep (scheduled for that).
    """
    if transition.follow_up is None:
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


def _apply_attempts(credential: PokCertificate, effect: Attempts | None) -> None:
    if effect is Attempts.COUNT:
        credential.attempts += 1
    elif effect is Attempts.REFUND:
        credential.attempts = max(0, credential.attempts - 1)
    elif effect is Attempts.RESET:
        credential.attempts = 0


def _next_check(
    credential, effect: NextCheck | None, policy: Policy, now, retry_after, not_before
) -> float | None:
    """Set ``next_attempt_at`` as the transition declares; returns the delay, or None when nothing waits."""
    if effect is None:
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
    "attach": OperatorAction(
        "attached",
        _("%(state)s, only an unknown outcome can be attached"),
        needs_pok_id=False,
        pok_id_refusal=_("already attached to a POK credential"),
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
