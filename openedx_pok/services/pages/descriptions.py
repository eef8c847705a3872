"""
What the endpoints under ``/pok/`` tell about a credential: a learner's view (what their pages
show), support staff's (the real state and POK's side) and the image download. None carries an
e-mail address, not even one quoted in POK's error texts.
"""

import re

from django.urls import reverse

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import status
from openedx_pok.url_safety import safe_pok_url

# An e-mail address, also percent-encoded or with a full-width at sign: POK's error texts, kept in
# ``last_error``, may quote the learner's.
EMAIL_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+(?:@|%40|\uff20)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
EMAIL_PLACEHOLDER = "[e-mail address]"


def describe_for_learner(credential: PokCertificate) -> dict:
    """A learner's view of one of their credentials: what their pages show, no internals, no email."""
    emitted = credential.state == CredentialState.EMITTED
    return {
        "id": str(credential.public_id),
        "course_id": str(credential.course_key),
        "state": lifecycle.public_state(credential),
        "title": credential.title,
        "issued_on": credential.emission_date.isoformat() if emitted and credential.emission_date else None,
        "view_url": safe_pok_url(credential.view_url) if emitted else "",
        "image_download_url": image_download_path(credential)
        if emitted and safe_pok_url(credential.image_url)
        else "",
        "status_url": status_path(credential),
    }


def status_path(credential: PokCertificate) -> str:
    return reverse("openedx_pok:credential_status", kwargs={"public_id": credential.public_id})


def image_download_path(credential: PokCertificate) -> str:
    return reverse("openedx_pok:credential_image", kwargs={"public_id": credential.public_id})


def describe_for_staff(credential: PokCertificate) -> dict:
    """What support staff need to answer a learner: the real state and POK's side, still no email."""
    return {
        **describe_for_learner(credential),
        "username": credential.user.username,
        "internal_state": credential.state,
        "account": credential.account,
        "pok_state": credential.pok_state,
        "pok_credential_id": credential.pok_credential_id or "",
        "attempts": credential.attempts,
        "last_error": without_email_addresses(credential.last_error),
        "next_attempt_at": credential.next_attempt_at.isoformat() if credential.next_attempt_at else None,
        "created": credential.created.isoformat(),
        "modified": credential.modified.isoformat(),
    }


def without_email_addresses(text: str) -> str:
    """``text`` with every e-mail address replaced by a placeholder; the rest stays readable."""
    return EMAIL_ADDRESS.sub(EMAIL_PLACEHOLDER, text or "")


def downloadable_image_url(credential: PokCertificate) -> str:
    """The image location of an emitted credential, when it may be followed; refreshed in the background."""
    if credential.state != CredentialState.EMITTED:
        return ""
    if status.image_needs_refresh(credential):
        status.queue_image_refresh(credential)
    return safe_pok_url(credential.image_url)
