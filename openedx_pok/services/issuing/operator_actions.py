"""
What operators (the admin, ``pok_retry``) and other apps (``openedx_pok.api``) may do to a
credential, and the platform's revocation. The lifecycle says what each action may touch.
"""

import logging

from django.db import transaction

from openedx_pok import client
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import status
from openedx_pok.services.issuing.creation import as_course_key
from openedx_pok.services.lifecycle import DuplicateRisk, NoPokCredential, WrongState

log = logging.getLogger(__name__)

S = CredentialState

REVOKED_BY_PLATFORM_NOTE = "certificate revoked in Open edX"


def retry_now(credential: PokCertificate, *, accept_duplicate_risk: bool = False) -> None:
    """
    Send a credential that has not reached POK as soon as a worker is free.

    An unknown outcome may already exist in POK: it is only re-sent with ``accept_duplicate_risk``.
    """
    with transaction.atomic():
        locked = _locked(credential)
        lifecycle.require(locked, "retry")
        if locked.state == S.OUTCOME_UNKNOWN and not accept_duplicate_risk:
            raise DuplicateRisk(
                "POK may already hold this credential; re-sending could issue and charge a duplicate"
            )
        lifecycle.apply(locked, "retried_by_operator", reason="retry requested by an operator")
    credential.refresh_from_db()


def resync_from_pok(credential: PokCertificate) -> None:
    """Read the credential back from POK now and apply what POK says."""
    refused = lifecycle.refusal(credential, "resync")
    if refused:
        raise NoPokCredential(refused)
    pok_credential = client.get_client(credential.account).get_credential(credential.pok_credential_id)
    with transaction.atomic():
        locked = _locked(credential)
        if not locked.pok_credential_id:
            raise NoPokCredential(f"credential {credential.pk} has no POK id to read back")
        status.apply_pok_answer(locked, pok_credential)
    status.fetch_image_if_emitted(locked)
    credential.refresh_from_db()


def reissue(credential: PokCertificate) -> None:
    """
    Issue a brand-new POK credential for the learner (an explicit action: it costs a credit). The
    previous POK id, if any, is kept in the history.
    """
    with transaction.atomic():
        locked = _locked(credential)
        lifecycle.require(locked, "reissue")
        previous = locked.pok_credential_id or "none"
        lifecycle.apply(locked, "reissued", reason=f"re-issue requested; previous POK id {previous}")
    credential.refresh_from_db()


def revoke(credential: PokCertificate, reason: str) -> None:
    """
    Revoke the credential here: the certificate page no longer shows it. POK has no revoke
    endpoint, so a credential already in POK must also be revoked in POK's dashboard.
    """
    _revoke(credential, "revoked_by_operator", reason or "revoked")


def revoke_for_platform(*, user_id: int, course_key) -> None:
    """The platform revoked the learner's certificate: a pending credential is never sent."""
    course_key = as_course_key(course_key)
    if course_key is None:
        return
    for credential in PokCertificate.objects.filter(user_id=user_id, course_key=course_key).exclude(
        state=S.REVOKED
    ):
        _revoke(credential, "revoked_by_platform", REVOKED_BY_PLATFORM_NOTE)


def _revoke(credential: PokCertificate, name: str, reason: str) -> None:
    with transaction.atomic():
        locked = lifecycle.lock(credential.pk, skip_locked=False)
        if locked is None or not lifecycle.allows(locked, name):
            return
        lifecycle.apply(locked, name, reason=reason)
    credential.refresh_from_db()


def _locked(credential: PokCertificate) -> PokCertificate:
    locked = lifecycle.lock(credential.pk, skip_locked=False)
    if locked is None:
        raise WrongState(f"credential {credential.pk} no longer exists")
    return locked
