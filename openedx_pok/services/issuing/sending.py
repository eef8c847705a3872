"""
The issuing task's work: build the payload, claim the row, send the single ``POST credential``,
record what POK answered.

A row is locked and marked *requesting* (committed) before its POST, so a crash in between is
visible, and a POST whose answer was lost is never repeated unless an operator or
POK_UNKNOWN_OUTCOME_RETRY_AFTER says so. An answer the database refuses to take is carried by a
task (``record_created_credential``) until it does.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from openedx_pok import client
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState, PokCertificate, RevokedBy
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import status
from openedx_pok.services.policy import DATABASE_UNAVAILABLE, Policy
from openedx_pok.services.templates.payload import Payload, PayloadError, credential_payload

log = logging.getLogger(__name__)

S = CredentialState
SENDABLE_STATES = frozenset({S.PENDING, S.RETRYING})
# How the row's last error begins when the payload could not be built (a PayloadError follows).
PAYLOAD_FAILURE = "payload: "


@dataclass(frozen=True)
class _Claim:
    """What the issuing task committed before its POST."""

    credential_id: int
    requesting_since: datetime
    account: str


def issue(pok_certificate_id: int) -> None:
    """
    Issue one credential: build its payload, claim the row, POST once, record the outcome.

    A failed credential due for another round (or an unknown outcome due for its automatic
    re-send) is first reopened; its follow-up task sends it. Exits quietly when the row is gone,
    revoked, already claimed by another worker, or not due.
    """
    credential = PokCertificate.objects.select_related("user").filter(pk=pok_certificate_id).first()
    if credential is None:
        log.info("POK credential %s no longer exists; nothing to issue", pok_certificate_id)
        return
    reopening = REOPENED_WHEN_DUE.get(credential.state)
    if reopening and credential.next_attempt_at is not None and lifecycle.is_due(credential):
        reopen_for_sending(credential.pk, reopening)
        return
    if credential.state not in SENDABLE_STATES or not lifecycle.is_due(credential):
        log.debug("POK credential %s is %s and not due; skipped", credential.pk, credential.state)
        return
    prepared = _prepare(credential)
    if prepared is None:
        return
    claim, payload = prepared
    try:
        pok_credential = client.get_client(payload.template.account).create_credential(payload.body)
    except client.PokError as error:
        _settle_sent(claim, error)
    else:
        _record_created(claim, pok_credential)


# States a due row leaves by itself before it is sent again, and the transition that reopens it.
REOPENED_WHEN_DUE = {S.FAILED: "another_round", S.OUTCOME_UNKNOWN: "resent_after_unknown"}
REOPEN_NOTES = {
    "another_round": "another round of attempts after POK was unavailable",
    "resent_after_unknown": (
        "re-sent after an unknown outcome (POK_UNKNOWN_OUTCOME_RETRY_AFTER; duplicate risk)"
    ),
}


def reopen_for_sending(credential_id: int, name: str, *, now: datetime | None = None) -> bool:
    """Apply ``another_round`` or ``resent_after_unknown``, unless the row moved on or POK holds it."""
    with transaction.atomic():
        locked = lifecycle.lock(credential_id)
        if locked is None or not lifecycle.allows(locked, name) or locked.pok_credential_id:
            return False
        lifecycle.apply(locked, name, reason=REOPEN_NOTES[name], now=now)
    if name == "resent_after_unknown":
        log.warning("POK credential %s re-sent after an unknown outcome", credential_id)
    return True


def _transition_after(error: client.PokError, locked: PokCertificate, may_have_created: bool) -> str:
    """How a POST that produced no credential settles the row."""
    if isinstance(error, client.PokOutcomeUnknown) or may_have_created:
        return "answer_lost"
    if isinstance(error, client.PokRateLimited) and error.retry_after:
        return "rate_limited"
    if isinstance(error, client.PokUnavailable | client.PokRateLimited):
        return "round_failed" if Policy.current().round_is_over(locked.attempts) else "retry_scheduled"
    return "refused"


def _prepare(credential: PokCertificate) -> tuple[_Claim, Payload] | None:
    """Build the payload and claim the row; None when this worker is not to send it (settled or taken)."""
    try:
        payload = credential_payload(credential)
        claim = _claim(credential, payload)
    except DATABASE_UNAVAILABLE:
        raise  # not the credential's fault: the task is retried, no attempt is spent
    except PayloadError as error:
        _settle_unsent(credential, False, f"{PAYLOAD_FAILURE}{error}", summary="payload could not be built")
    except (client.PokUnavailable, client.PokRateLimited) as error:
        _settle_unsent(
            credential,
            True,
            f"template definition: {lifecycle.describe_error(error)}",
            summary=f"template definition: {lifecycle.summarize_error(error)}",
            retry_after=getattr(error, "retry_after", None),
        )
    except client.PokError as error:
        _settle_unsent(
            credential,
            False,
            f"template definition: {lifecycle.describe_error(error)}",
            summary=f"template definition: {lifecycle.summarize_error(error)}",
        )
    except Exception as error:  # a bug or a platform hiccup: count it as an attempt, never loop unseen
        log.exception("POK credential %s could not be prepared for sending", credential.pk)
        reason = f"unexpected error before sending: {type(error).__name__}"
        _settle_unsent(credential, True, reason, summary=reason)
    else:
        return None if claim is None else (claim, payload)
    return None


def _claim(credential: PokCertificate, payload: Payload) -> _Claim | None:
    """Mark the row *requesting* and commit, unless another worker got there first."""
    with transaction.atomic():
        locked = lifecycle.lock(credential.pk)
        if not _unchanged(locked, credential) or not lifecycle.is_due(locked):
            log.info("POK credential %s is being handled elsewhere; skipped", credential.pk)
            return None
        lifecycle.apply(
            locked,
            "claimed",
            reason=f"attempt {locked.attempts + 1}",
            account=payload.template.account,
            template_id=payload.template.template_id,
            page_id=payload.template.page_id,
            emission_type=payload.template.emission_type,
            emission_date=payload.emission_date,
            title=PokCertificate.fit("title", payload.title),
            emitter=PokCertificate.fit("emitter", payload.emitter),
            tags=payload.tags,
            language_tag=payload.learner.language_tag,
            receiver_name=PokCertificate.fit("receiver_name", payload.learner.name),
            receiver_email=payload.learner.email,
        )
    return _Claim(credential_id=locked.pk, requesting_since=locked.requesting_since, account=locked.account)


def _unchanged(locked: PokCertificate | None, credential: PokCertificate) -> bool:
    return locked is not None and locked.state == credential.state and locked.attempts == credential.attempts


def _settle_unsent(
    credential: PokCertificate, passing: bool, reason: str, *, summary: str, retry_after: float | None = None
) -> None:
    """The payload could not be built: nothing reached POK, so retrying is always safe."""
    with transaction.atomic():
        locked = lifecycle.lock(credential.pk)
        if not _unchanged(locked, credential):
            return
        if not passing:
            name = "refused"
        elif Policy.current().round_is_over(locked.attempts + 1):
            name = "preparation_round_failed"
            reason, summary = (
                _after_attempts(reason, locked.attempts + 1),
                _after_attempts(summary, locked.attempts + 1),
            )
        else:
            name = "preparation_retry"
        lifecycle.apply(locked, name, reason=reason, summary=summary, retry_after=retry_after)


def _after_attempts(text: str, attempts: int) -> str:
    return f"{text} (after {attempts} attempts)"


def _settle_sent(claim: _Claim, error: client.PokError) -> None:
    """Record a POST that did not produce a credential."""
    reason, summary = lifecycle.describe_error(error), lifecycle.summarize_error(error)
    may_have_created, pok_is_up = _judge_server_error(error, claim.account)
    if pok_is_up is not None:
        verdict = (
            "answers otherwise, so it may have created it" if pok_is_up else "is down, so it created nothing"
        )
        reason, summary = f"{reason}; POK {verdict}", f"{summary}; POK {verdict}"
    with transaction.atomic():
        locked = lifecycle.lock(claim.credential_id, skip_locked=False)
        if not _still_ours(locked, claim):
            return
        if locked.state == S.REVOKED:
            if locked.revoked_by != RevokedBy.RETIREMENT:  # POK's words may quote the retired learner
                locked.last_error = PokCertificate.fit("last_error", reason)
                locked.save(update_fields=["last_error", "modified"])
            return
        name = _transition_after(error, locked, may_have_created)
        if name == "round_failed":
            reason, summary = (
                _after_attempts(reason, locked.attempts),
                _after_attempts(summary, locked.attempts),
            )
        lifecycle.apply(
            locked, name, reason=reason, summary=summary, retry_after=getattr(error, "retry_after", None)
        )


# -- a server error in answer to the POST (ADR 0002) ----------------------------------------------------

# A 503 says the server refused the request before doing anything: an outage, never a credential.
REFUSED_BEFORE_WORK = frozenset({503})


def _judge_server_error(error: client.PokError, account: str) -> tuple[bool, bool | None]:
    """
    POK answered the POST with a 5xx: did it create (and charge for) the credential first? Returns
    that, and whether POK answered the probe (None when it was not asked).
    ``probe`` (the default) asks POK a free question: if POK answers it, POK is up and failed after,
    or while, doing the work, so the credential may exist (an unknown outcome, never paid twice);
    if POK does not, POK is down and created nothing (retried, so an outage heals by itself).
    """
    if not isinstance(error, client.PokCreationServerError) or error.status_code in REFUSED_BEFORE_WORK:
        return False, None
    policy = setting("POK_POST_SERVER_ERROR_POLICY")
    if policy == "retry":
        return False, None
    if policy == "probe":
        pok_is_up = _probe_pok(account)
        return pok_is_up, pok_is_up
    return True, None


def _probe_pok(account: str) -> bool:
    """Whether the account's POK answers a free request (organization/me) now."""
    try:
        client.get_client(account).get_organization()
    except client.PokError:
        return False
    return True


def _still_ours(locked: PokCertificate | None, claim: _Claim) -> bool:
    """The row still describes our POST (the sweep may have called it unknown, or it was revoked)."""
    return (
        locked is not None
        and locked.requesting_since == claim.requesting_since
        and locked.state in (S.REQUESTING, S.OUTCOME_UNKNOWN, S.REVOKED)
    )


# The first try of the recording task waits this long: the database has just refused the write.
RECORD_CREATED_FIRST_DELAY = 1.0


def _record_created(claim: _Claim, pok_credential: client.PokCredential) -> None:
    """
    POK accepted the POST, and charged for it: keep its id. When the database refuses the write,
    the answer leaves this worker in a task's arguments, retried until the database takes it.
    """
    try:
        recorded = _write_created(claim, pok_credential)
    except DATABASE_UNAVAILABLE:
        log.warning(
            "POK credential %s created for row %s, which the database refused to record; a task retries it",
            pok_credential.id,
            claim.credential_id,
            exc_info=True,
        )
        queued = queueing.queue(
            queueing.RECORD_CREATED_CREDENTIAL,
            claim.credential_id,
            claim.requesting_since.isoformat(),
            claim.account,
            _answer_as_json(pok_credential),
            countdown=RECORD_CREATED_FIRST_DELAY,
        )
        if not queued:
            log.error(
                "POK credential %s created for row %s could not be recorded nor queued; attach it to the row",
                pok_credential.id,
                claim.credential_id,
            )
        return
    if recorded is not None:
        status.fetch_image_if_emitted(recorded)


def record_created_later(pok_certificate_id: int, requesting_since: str, account: str, answer: dict) -> None:
    """
    The recording task's work: POK's answer to an earlier POST, kept if the row still waits for it
    (the claim's ``requesting_since`` matches), so a late answer never overwrites a newer state.
    A database error is the task's to retry.
    """
    claim = _Claim(pok_certificate_id, datetime.fromisoformat(requesting_since), account)
    recorded = _write_created(claim, _answer_from_json(answer))
    if recorded is not None:
        status.fetch_image_if_emitted(recorded)


def _answer_as_json(pok_credential: client.PokCredential) -> dict:
    """POK's answer as a task's JSON argument; :func:`_answer_from_json` reads it back as it was."""
    emission_date = pok_credential.emission_date
    return {
        "id": pok_credential.id,
        "state": pok_credential.state,
        "view_url": pok_credential.view_url,
        "emission_date": emission_date.isoformat() if emission_date else None,
        "problems": list(pok_credential.problems),
    }


def _answer_from_json(answer: dict) -> client.PokCredential:
    emission_date = answer.get("emission_date")
    return client.PokCredential(
        id=answer["id"],
        state=answer["state"],
        view_url=answer["view_url"],
        emission_date=datetime.fromisoformat(emission_date) if emission_date else None,
        problems=tuple(answer.get("problems") or ()),
    )


def _write_created(claim: _Claim, pok_credential: client.PokCredential) -> PokCertificate | None:
    """
    Keep POK's id whatever happened to the row meanwhile. Returns the row when its state now
    follows POK's credential (its image may be fetched), None otherwise.
    """
    with transaction.atomic():
        locked = lifecycle.lock(claim.credential_id, skip_locked=False)
        if locked is None:
            log.error("POK credential %s was created in POK but its row is gone", pok_credential.id)
            return None
        if locked.pok_credential_id == pok_credential.id:
            return None  # recorded already: the recording task was delivered twice
        if not _still_ours(locked, claim):
            log.error(
                "POK credential %s created for row %s, which is now %s; kept as it is",
                pok_credential.id,
                locked.pk,
                locked.state,
            )
            return None
        if PokCertificate.objects.filter(pok_credential_id=pok_credential.id).exclude(pk=locked.pk).exists():
            # POK gave an id another row holds: keep both rows as they are; a person must look.
            lifecycle.apply(
                locked,
                "answer_lost",
                reason=f"POK answered with the credential id {pok_credential.id}, which another credential "
                "already holds; POK may or may not have created this one",
            )
            return None
        locked.pok_credential_id = pok_credential.id
        if locked.state == S.REVOKED:
            lifecycle.apply(
                locked,
                "pok_state_seen",
                reason="created in POK after it was revoked here",
                pok_state=pok_credential.state,
            )
            log.info("POK credential %s (%s) was revoked while being issued", locked.pk, locked.course_key)
            return None
        status.apply_pok_answer(locked, pok_credential)
    return locked
