"""Receivers for Open edX signals, wired through the plugin's ``signals_config``."""

import logging

from openedx_pok.services import issuance

log = logging.getLogger(__name__)


def mark_credential_revoked(signal=None, sender=None, certificate=None, metadata=None, **kwargs):
    """CERTIFICATE_REVOKED: the platform invalidated the learner's certificate (or it stopped passing)."""
    if certificate is None:
        log.warning("CERTIFICATE_REVOKED received without certificate data; ignored")
        return
    issuance.revoke_for_platform(user_id=certificate.user.id, course_key=certificate.course.course_key)


def scrub_retired_learner(sender=None, user=None, **kwargs):
    """USER_RETIRE_LMS_MISC: forget the names and emails we copied for this learner."""
    if user is None:
        return
    issuance.scrub_learner_pii(user)
