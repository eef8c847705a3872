"""
What operators (the admin, ``pok_retry``, ``pok_attach``) and other apps (``openedx_pok.api``) may
do to a credential, and the platform's revocation. The lifecycle says what each action may touch.
"""

import logging
import unicodedata

from django.db import IntegrityError, transaction

from openedx_pok import client, platform_adapter
from openedx_pok.client import values
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import status
from openedx_pok.services.issuing.creation import as_course_key
from openedx_pok.services.lifecycle import DuplicateRisk, IssuanceError, NoPokCredential, WrongState
from openedx_pok.services.templates.payload import COURSE_TAG, LEARNER_TAG

log = logging.getLogger(__name__)

S = CredentialState

REVOKED_BY_PLATFORM_NOTE = "certificate revoked in Open edX"


class PokCredentialNotFound(IssuanceError):
    """POK does not know the credential id an operator gave (or it is not an id at all)."""


class PokCredentialMismatch(IssuanceError):
    """The POK credential an operator gave is not this row's: another learner's or another course's."""


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


def attach_pok_credential(credential: PokCertificate, pok_credential_id: str, *, actor: str) -> None:
    """
    Settle an unknown outcome with the credential an operator found in POK's dashboard, without
    sending anything: POK is asked for that credential (a GET, which costs nothing), its receiver
    and course are checked against the row, and the row takes its id and goes to *processing*,
    whose status check follows at once and takes it on (to *emitted*, usually).

    Refused with :class:`~openedx_pok.services.lifecycle.WrongState` when the row is not an unknown
    outcome (or the id is another row's), :class:`PokCredentialNotFound` when POK does not know the
    id, :class:`PokCredentialMismatch` when the credential is another learner's or course's. POK
    being unreachable raises the client's ``PokError``. ``actor`` (who did it) goes to the history.
    """
    pok_id = _pok_id_given(pok_credential_id)
    lifecycle.require(credential, "attach")
    _require_unattached(credential, pok_id)
    try:
        pok_credential = client.get_client(credential.account).get_credential(pok_id)
    except client.PokNotFound as error:
        raise PokCredentialNotFound(
            f"POK has no credential {pok_id} for this credential's POK account ({credential.account})"
        ) from error
    try:
        with transaction.atomic():
            locked = _locked(credential)
            lifecycle.require(locked, "attach")
            _require_unattached(locked, pok_credential.id)
            mismatch = _receiver_mismatch(locked, pok_credential) or _course_mismatch(locked, pok_credential)
            if mismatch:
                raise PokCredentialMismatch(f"POK credential {pok_credential.id}: {mismatch}")
            reason = (
                f"POK credential {pok_credential.id} (POK state {pok_credential.state or 'unknown'}) "
                f"attached by {actor or 'an operator'}: receiver and course checked with POK"
            )
            fields = {"pok_credential_id": pok_credential.id}
            if pok_credential.view_url:
                fields["view_url"] = PokCertificate.fit("view_url", pok_credential.view_url)
            lifecycle.apply(locked, "attached", reason=reason, pok_state=pok_credential.state, **fields)
    except IntegrityError as error:  # another row took the id meanwhile
        raise WrongState(
            f"POK credential {pok_credential.id} is already attached to another credential"
        ) from error
    credential.refresh_from_db()


def _pok_id_given(pok_credential_id) -> str:
    """The id as the operator typed it, trimmed, when it can be one of POK's ids."""
    given = str(pok_credential_id or "").strip()
    pok_id, problem = values.pok_id(given)
    if not pok_id:
        raise PokCredentialNotFound(
            f"{values.log_safe(given) or 'an empty value'} is not a POK credential id"
            + (f" ({problem})" if problem else "")
        )
    return pok_id


def _require_unattached(credential: PokCertificate, pok_id: str) -> None:
    holder = PokCertificate.objects.filter(pok_credential_id=pok_id).exclude(pk=credential.pk).first()
    if holder is not None:
        raise WrongState(f"POK credential {pok_id} is already attached to credential {holder.pk}")


def _receiver_mismatch(credential: PokCertificate, pok_credential: client.PokCredential) -> str | None:
    """
    Why POK's credential is not this learner's, or None when it is: the ``StudentId`` tag, when
    POK echoes the tags, must be the learner's; then the receiver's email must be the one the row
    was sent with or the learner's current one, or, when POK gives no email, the receiver's name
    the one sent or the learner's current one. The reasons name no one: operators compare in POK.
    """
    students = _tag_values(pok_credential.tags, LEARNER_TAG)
    if students and students != {str(credential.user_id)}:
        return f"it is tagged for another learner ({LEARNER_TAG})"
    if pok_credential.receiver_email:
        emails = {_comparable(credential.receiver_email), _comparable(credential.user.email)} - {""}
        matches = _comparable(pok_credential.receiver_email) in emails
        return None if matches else "it was issued to another email address than this learner's"
    if pok_credential.receiver_name:
        names = {
            _comparable(credential.receiver_name),
            _comparable(platform_adapter.get_learner_full_name(credential.user)),
        } - {""}
        matches = _comparable(pok_credential.receiver_name) in names
        return None if matches else "it was issued to another name than this learner's"
    if students:
        return None
    return "POK's answer does not say who received it, so it cannot be checked against this learner"


def _course_mismatch(credential: PokCertificate, pok_credential: client.PokCredential) -> str | None:
    """
    Why POK's credential is not for this row's course, or None when it is: its ``CourseId`` tag, or,
    when POK echoes no tags, its title against the title the row was sent with.
    """
    courses = _tag_values(pok_credential.tags, COURSE_TAG)
    if courses:
        if courses != {str(credential.course_key)}:
            shown = ", ".join(sorted(values.log_safe(course) for course in courses))
            return f"it is for another course ({shown}), not {credential.course_key}"
        return None
    if pok_credential.title and credential.title:
        if _comparable(pok_credential.title) != _comparable(credential.title):
            return (
                f"its title ({values.log_safe(pok_credential.title)}) is not this course's "
                f"({values.log_safe(credential.title)})"
            )
        return None
    return (
        f"POK's answer names no course (no {COURSE_TAG} tag, no title): it cannot be checked against this one"
    )


def _tag_values(tags: tuple[str, ...], key: str) -> set[str]:
    """The values of the ``Key:Value`` tags named ``key``."""
    prefix = f"{key}:"
    return {tag[len(prefix) :].strip() for tag in tags if tag.startswith(prefix)}


def _comparable(text: str | None) -> str:
    """A name, an email or a title as people compare them: case, accents' encoding and spacing aside."""
    return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())


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
