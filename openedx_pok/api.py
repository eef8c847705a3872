"""
The plugin's Python API for other Django apps: use these functions, not the models.

Refused operations raise :class:`openedx_pok.services.lifecycle.IssuanceError` subclasses.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from opaque_keys.edx.keys import CourseKey

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import creation, operator_actions
from openedx_pok.services.lifecycle import IssuanceError

__all__ = [
    "CredentialNotFound",
    "CredentialStatus",
    "IssuanceError",
    "get_credential_status",
    "reissue",
    "request_credential",
    "revoke",
]


class CredentialNotFound(IssuanceError):
    """The learner has no POK credential in that course."""


@dataclass(frozen=True)
class CredentialStatus:
    """Where a learner's credential stands, without internals (errors stay in the admin and logs)."""

    public_id: UUID
    state: str
    pok_state: str
    pok_credential_id: str
    view_url: str
    image_url: str
    emission_date: datetime | None

    @property
    def is_emitted(self) -> bool:
        return self.state == CredentialState.EMITTED

    @property
    def is_in_flight(self) -> bool:
        """Still on its way to the learner (the certificate page says "being issued")."""
        return self.state in lifecycle.IN_FLIGHT_STATES


def request_credential(user, course_key, *, mode: str, grade=None) -> CredentialStatus | None:
    """
    Ask for the learner's credential as the platform's creation step does (queued, never blocking).
    ``grade`` is a CourseGrade-like object or a 0..1 fraction. None when POK is off for the course.
    """
    credential = creation.record_certificate_request(
        user=user, course_key=course_key, mode=mode, status=None, course_grade=grade, generation_mode="api"
    )
    return _status(credential) if credential else None


def get_credential_status(user, course_key) -> CredentialStatus | None:
    credential = _find(user, course_key)
    return _status(credential) if credential else None


def reissue(user, course_key) -> CredentialStatus:
    """Issue a new POK credential for the learner: an explicit action that costs a POK credit."""
    credential = _get(user, course_key)
    operator_actions.reissue(credential)
    return _status(credential)


def revoke(user, course_key, reason: str) -> CredentialStatus:
    """Revoke locally (POK has no revoke endpoint: revoke it in POK's dashboard as well)."""
    credential = _get(user, course_key)
    operator_actions.revoke(credential, reason)
    return _status(credential)


def _find(user, course_key) -> PokCertificate | None:
    if not isinstance(course_key, CourseKey):
        course_key = CourseKey.from_string(str(course_key))
    return PokCertificate.objects.filter(user=user, course_key=course_key).first()


def _get(user, course_key) -> PokCertificate:
    credential = _find(user, course_key)
    if credential is None:
        raise CredentialNotFound(f"no POK credential for user {user.pk} in {course_key}")
    return credential


def _status(credential: PokCertificate) -> CredentialStatus:
    return CredentialStatus(
        public_id=credential.public_id,
        state=credential.state,
        pok_state=credential.pok_state,
        pok_credential_id=credential.pok_credential_id or "",
        view_url=credential.view_url,
        image_url=credential.image_url,
        emission_date=credential.emission_date,
    )
