"""
Following a credential POK accepted until POK emits it (or reaches another final state).

Each credential drives its own status checks: POK's acceptance schedules the first one a few
seconds later, and every check that finds it still processing schedules the next, later each time
(``policy``). The row says when the next check is due, so a duplicated or redelivered task finds
the row not due and stands back. A learner waiting on the "being issued" page may ask for an early
check, through a task and at most every few seconds: no POK call ever happens inside a request.
"""

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from openedx_pok import client
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.policy import EARLY_CHECK_INTERVAL

log = logging.getLogger(__name__)

S = CredentialState

POK_EMITTED = "emitted"
POK_REVOKED = "revoked"
# POK states after which a credential will never be emitted.
POK_FINAL_FAILURES = frozenset({"aborted", "signatureRejected"})

CHECKED_RECENTLY_KEY = "openedx_pok.checked_recently.{}"
IMAGE_REFRESH_KEY = "openedx_pok.image_refresh.{}"
# A credential's image is asked for again at most this often, however many pages show it.
IMAGE_REFRESH_GUARD_SECONDS = 300
# What check() answers when POK could not be asked.
POK_NOT_ASKED = "not_asked"


def check(pok_certificate_id: int, *, early: bool = False, now: datetime | None = None) -> str | None:
    """
    One status check; returns the credential's state afterwards, POK_NOT_ASKED when POK could not
    be reached, or None when there was nothing to check.

    A due check continues the credential's chain: it takes the row's lease while it asks POK, then
    records the answer and schedules the next. Copies of one check wait for the row's lock instead
    of skipping it, so each judges the row as committed: one takes the lease, the others find the
    row not due and leave it to that one, which always gets the row back to record its answer.
    An early check, asked for by a waiting learner, only records what POK says; it never moves the
    chain's schedule, so checks never multiply.
    """
    now = now or timezone.now()
    lease = None
    with transaction.atomic():
        locked = lifecycle.lock(pok_certificate_id, skip_locked=False)
        if locked is None or locked.state != S.PROCESSING or not locked.pok_credential_id:
            return None
        chained = lifecycle.is_due(locked, now)
        if not chained and not early:
            return None  # a copy, or superseded: whoever set the row's next check continues it
        if chained:
            lifecycle.apply(locked, "check_started", now=now)
            lease = locked.next_attempt_at
    cache.set(CHECKED_RECENTLY_KEY.format(locked.pk), True, EARLY_CHECK_INTERVAL)
    try:
        pok_credential = client.get_client(locked.account).get_credential(locked.pok_credential_id)
    except client.PokNotFound as error:
        _settle(locked.pk, "failed_in_pok", error, reason="POK does not know this credential: ", now=now)
        return S.FAILED
    except client.PokError as error:
        log.warning(
            "POK status check of credential %s failed: %s", locked.pk, lifecycle.summarize_error(error)
        )
        if chained:
            _settle(locked.pk, "check_failed", error, reason="status check: ", now=now, lease=lease)
        return POK_NOT_ASKED
    with transaction.atomic():
        locked = lifecycle.lock(pok_certificate_id, skip_locked=False)
        if locked is None or locked.state != S.PROCESSING:
            return None if locked is None else locked.state
        apply_pok_answer(locked, pok_credential, now=now, continue_chain=_holds_lease(locked, lease))
    fetch_image_if_emitted(locked)
    return locked.state


def _holds_lease(locked: PokCertificate, lease: datetime | None) -> bool:
    """
    Whether this check still holds the row's lease, so continues the chain: one that outlived its
    lease (a stalled worker) may find that another check took the row over since.
    """
    return lease is not None and locked.next_attempt_at == lease


def _settle(
    pok_certificate_id: int,
    name: str,
    error: client.PokError,
    *,
    reason: str,
    now,
    lease: datetime | None = None,
) -> None:
    """Apply a failure to a row still processing; given the check's ``lease``, only while it holds it."""
    with transaction.atomic():
        locked = lifecycle.lock(pok_certificate_id, skip_locked=False)
        if locked is None or locked.state != S.PROCESSING:
            return
        if lease is not None and not _holds_lease(locked, lease):
            return  # another check took the chain over
        lifecycle.apply(
            locked,
            name,
            reason=reason + lifecycle.describe_error(error),
            summary=reason + lifecycle.summarize_error(error),
            now=now,
            retry_after=getattr(error, "retry_after", None),
        )


def apply_pok_answer(
    locked: PokCertificate, pok_credential: client.PokCredential, *, now=None, continue_chain: bool = True
) -> None:
    """
    Bring a locked row in line with what POK reports. POK is the truth about its credential, but
    never a reason to crash: an answer the row's state cannot take is recorded as POK's state only.
    """
    fields = {}
    if pok_credential.view_url:
        fields["view_url"] = PokCertificate.fit("view_url", pok_credential.view_url)
    state = pok_credential.state
    reason = ""
    if state == POK_EMITTED:
        name = "emitted"
        reason = "emitted by POK"
        if pok_credential.emission_date:
            fields["emission_date"] = pok_credential.emission_date
    elif state == POK_REVOKED:
        name, reason = "revoked_in_pok", "revoked in POK"
    elif state in POK_FINAL_FAILURES:
        name, reason = "failed_in_pok", f"POK reports the credential as {state}"
    elif locked.state == S.PROCESSING:
        name = "still_processing" if continue_chain else "pok_state_seen"
    else:
        # Pending in POK, including states this code does not know: follow it until it settles.
        name, reason = "accepted", f"POK state {state or 'unknown'}"
    if not lifecycle.allows(locked, name):
        name = "pok_state_seen"
    if pok_credential.problems:  # values POK sent that could not be kept: say so where operators look
        reason = "; ".join(filter(None, [reason, "POK's answer: " + "; ".join(pok_credential.problems)]))
    lifecycle.apply(locked, name, reason=reason, pok_state=state, now=now, **fields)


def learner_is_waiting(credential: PokCertificate) -> bool:
    """
    A learner is looking at the "being issued" page (or its status endpoint): ask for an early
    check of a credential POK is processing (one that is overdue takes its chain up again). A row
    whose own task was lost is the sweep's, which the caller re-arms (``liveness``). Returns
    whether a task was queued; in eager mode it has already run.
    """
    now = timezone.now()
    if credential.state == S.PROCESSING and credential.pok_credential_id:
        due = credential.next_attempt_at
        soon = due is not None and timedelta(0) <= due - now <= timedelta(seconds=EARLY_CHECK_INTERVAL)
        if soon and not queueing.is_eager():  # eager mode runs no delayed check
            return False  # the credential's own check is about to run
        if not cache.add(CHECKED_RECENTLY_KEY.format(credential.pk), True, EARLY_CHECK_INTERVAL):
            return False  # a check ran, or was asked for, a moment ago
        return queueing.queue(queueing.CHECK_CREDENTIAL_STATUS, credential.pk, early=True)
    return False


# -- images ----------------------------------------------------------------------------------------


def image_needs_refresh(credential: PokCertificate, now: datetime | None = None) -> bool:
    """The stored image location is missing or past the lifetime we trust it for."""
    if not credential.image_url:
        return True
    expires_at = credential.image_url_expires_at
    return expires_at is not None and expires_at <= (now or timezone.now())


def queue_image_refresh(credential: PokCertificate) -> None:
    """Ask the background task for a fresh image location, at most once per few minutes per credential."""
    key = IMAGE_REFRESH_KEY.format(credential.pk)
    if not cache.add(key, True, IMAGE_REFRESH_GUARD_SECONDS):
        return
    if not queueing.queue(queueing.REFRESH_CREDENTIAL_IMAGE, credential.pk):
        cache.delete(key)


def refresh_image(credential: PokCertificate) -> str:
    """Fetch the emitted credential's image location from POK and keep it for POK_IMAGE_URL_LIFETIME."""
    if not credential.pok_credential_id:
        raise lifecycle.NoPokCredential(f"credential {credential.pk} has no POK id")
    location = client.get_client(credential.account).get_credential_image(credential.pok_credential_id)
    image_url = PokCertificate.fit("image_url", location)
    expires_at = timezone.now() + timedelta(seconds=float(setting("POK_IMAGE_URL_LIFETIME")))
    PokCertificate.objects.filter(pk=credential.pk).update(
        image_url=image_url, image_url_expires_at=expires_at, modified=timezone.now()
    )
    credential.image_url, credential.image_url_expires_at = image_url, expires_at
    return location


def refresh_image_of(pok_certificate_id: int) -> None:
    """The image task's work: a fresh image URL for an emitted credential (they expire)."""
    credential = PokCertificate.objects.filter(pk=pok_certificate_id).first()
    if credential is not None and credential.pok_credential_id:
        _refresh_image_quietly(credential)


def fetch_image_if_emitted(credential: PokCertificate) -> None:
    if credential.state == S.EMITTED:
        _refresh_image_quietly(credential)


def _refresh_image_quietly(credential: PokCertificate) -> None:
    """The image is a nicety of the certificate page: failing to fetch it changes no state."""
    try:
        refresh_image(credential)
    except client.PokError as error:
        log.warning(
            "POK image of credential %s not fetched: %s", credential.pk, lifecycle.summarize_error(error)
        )
