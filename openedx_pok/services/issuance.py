"""Issuing POK credentials: recording requests, and what happens to a credential afterwards."""

import logging

from openedx_pok.models import CredentialState, PokCertificate

log = logging.getLogger(__name__)


def record_certificate_request(*, user, course_key, mode, status, course_grade, generation_mode) -> None:
    """Called from the creation step; implemented with the issuing task."""


def revoke_for_platform(*, user_id: int, course_key) -> None:
    """The platform revoked the learner's certificate: a pending credential is never sent."""
    for credential in PokCertificate.objects.filter(user_id=user_id, course_key=course_key).exclude(
        state=CredentialState.REVOKED
    ):
        credential.move_to(CredentialState.REVOKED, note="certificate revoked in Open edX")
        credential.save(update_fields=["state", "history", "modified"])


def scrub_learner_pii(user) -> None:
    PokCertificate.objects.filter(user=user).update(receiver_name="", receiver_email="")
