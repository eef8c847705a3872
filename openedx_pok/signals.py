"""
Receivers for Open edX signals, wired through the plugin's ``signals_config``.

Both are shielded: openedx-events re-raises a receiver's error under DEBUG, and
USER_RETIRE_LMS_MISC is a plain Django signal, so an error here would abort the learner's
retirement. A failure is logged with its traceback and the platform carries on.
"""

import logging

from openedx_pok.services.issuing import operator_actions, retirement

log = logging.getLogger(__name__)


def mark_credential_revoked(signal=None, sender=None, certificate=None, metadata=None, **kwargs):
    """CERTIFICATE_REVOKED: the platform invalidated the learner's certificate (or it stopped passing)."""
    user_id = getattr(getattr(certificate, "user", None), "id", None)
    course_key = getattr(getattr(certificate, "course", None), "course_key", None)
    if user_id is None or course_key is None:
        log.warning("CERTIFICATE_REVOKED received without a learner id or course key; ignored")
        return
    try:
        operator_actions.revoke_for_platform(user_id=user_id, course_key=course_key)
    except Exception:  # the platform's revocation must go on whatever happens here
        log.exception("POK credential of user %s in %s could not be marked revoked", user_id, course_key)


def scrub_retired_learner(sender=None, user=None, **kwargs):
    """USER_RETIRE_LMS_MISC: forget the names and emails we copied for this learner."""
    if user is None:
        return
    try:
        retirement.scrub_learner_pii(user)
    except Exception:  # the learner's retirement must go on whatever happens here
        log.exception("POK credentials of retired user %s could not be scrubbed", getattr(user, "pk", None))
