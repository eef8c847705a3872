"""
The creation step's work: the platform is creating a learner's certificate, so record its POK
credential and queue the sending. No network I/O here: a row write and a task queued on commit.
"""

import logging

from django.db import DatabaseError, IntegrityError, transaction
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import accounts, platform_adapter
from openedx_pok.models import CredentialState, PokCertificate, RevokedBy
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import liveness

log = logging.getLogger(__name__)

S = CredentialState

# When the database failed under the creation step, the reconciliation comes this soon.
RECONCILE_AFTER_FAILURE = 5 * 60
# Revocations a new request from the platform may undo; an operator's, or the retirement's, may not.
UNDONE_BY_A_NEW_REQUEST = frozenset({RevokedBy.PLATFORM, RevokedBy.POK})


def record_certificate_request(
    *, user, course_key, mode, status, course_grade, generation_mode
) -> PokCertificate | None:
    """
    Record the learner's credential and queue its sending; None when none is wanted.

    Expected problems (a malformed key, an anonymous user, a certificate that will not be
    downloadable, POK off for the course) are logged and answered with None; the platform's own
    certificate is never affected.
    """
    course_key = as_course_key(course_key)
    if course_key is None or not _wants_credential(user, course_key, status):
        return None

    grade = platform_adapter.read_grade(course_grade)
    snapshot = {
        "grade_percent": grade.percent,
        "letter_grade": PokCertificate.fit("letter_grade", grade.letter_grade),
        "mode": PokCertificate.fit("mode", mode),
        "generation_mode": PokCertificate.fit("generation_mode", generation_mode),
    }
    reason = "requested by the platform" + (
        f"; {grade.problem}, so no grade is kept" if grade.problem else ""
    )
    try:
        with transaction.atomic():
            credential = _create(user, course_key, snapshot, reason)
            if credential is None:
                credential = PokCertificate.objects.select_for_update().get(user=user, course_key=course_key)
                if not _reopen(credential, snapshot):
                    log.debug(
                        "POK credential %s for %s is %s; nothing to do",
                        credential.pk,
                        course_key,
                        credential.state,
                    )
    except DatabaseError:
        # Nothing is recorded, but nothing is lost: the reconciliation finds the platform's
        # certificate without a credential and requests it.
        log.exception("POK credential for %s not recorded; the reconciliation will request it", course_key)
        queueing.ensure_scheduled(queueing.RECONCILE_CERTIFICATES, countdown=RECONCILE_AFTER_FAILURE)
        return None
    # The broker may have lost the chains since the last request (a restart empties it): the sweep
    # and the reconciliation are scheduled again, at most once a minute across the site.
    transaction.on_commit(liveness.restore_chains, robust=True)
    return credential


def _create(user, course_key, snapshot, reason: str) -> PokCertificate | None:
    """
    The new row, or None when the learner already has one, even when two processes request it at
    the same moment: the loser's insert fails on the unique constraint, and the caller's locking
    read then sees the winner's row (a plain read under MySQL's REPEATABLE READ would not).
    """
    if PokCertificate.objects.filter(user=user, course_key=course_key).exists():
        return None
    credential = PokCertificate(user=user, course_key=course_key, **snapshot)
    try:
        with transaction.atomic():
            lifecycle.apply(credential, "requested", reason=reason, not_before=_not_before(course_key))
    except IntegrityError:
        return None
    return credential


def _not_before(course_key: CourseKey):
    """
    POK publishes a credential at once, so it is not sent before the platform shows the course's
    certificates (an instructor-paced course's end or certificate available date).
    """
    available_at = platform_adapter.certificate_available_date(course_key)
    if available_at is not None:
        log.info(
            "POK credential for %s waits until %s, when the course's certificates become visible",
            course_key,
            available_at.isoformat(),
        )
    return available_at


def _reopen(locked: PokCertificate, snapshot: dict) -> bool:
    """
    A new request from the platform for a row that is not going anywhere.

    - revoked by an operator (or at retirement): stays revoked, a person decided;
    - revoked, with a POK credential: back to *processing*, so POK's own state is read again
      instead of paying for a second credential;
    - revoked while its POST was on the wire or its outcome unknown: *outcome unknown*, since POK
      may hold it and only an operator may risk a duplicate;
    - revoked, never sent, or failed without POK holding it: issued afresh (nothing was paid);
    everything else (emitted, in flight, unknown outcome, failed inside POK) is left alone.
    """
    if locked.state == S.REVOKED and locked.revoked_by not in UNDONE_BY_A_NEW_REQUEST:
        log.info(
            "POK credential %s (%s) was revoked here, not by the platform; its new request is ignored",
            locked.pk,
            locked.course_key,
        )
        return False
    if locked.state == S.REVOKED and not locked.pok_credential_id and _revoked_mid_request(locked):
        lifecycle.apply(
            locked,
            "reopened_as_unknown",
            reason="requested again by the platform; POK may already hold the credential sent before",
        )
    elif locked.state == S.REVOKED and locked.pok_credential_id:
        lifecycle.apply(
            locked, "reopened_to_recheck", reason="requested again by the platform; re-reading POK's state"
        )
    elif locked.state in (S.REVOKED, S.FAILED) and not locked.pok_credential_id:
        lifecycle.apply(
            locked,
            "reopened",
            reason="requested again by the platform",
            not_before=_not_before(locked.course_key),
            **snapshot,
        )
    else:
        return False
    return True


def _revoked_mid_request(credential: PokCertificate) -> bool:
    """Revoked while its POST was unanswered: the answer, lost or still coming, may have created it."""
    revocation = credential.history[-1] if credential.history else {}
    return revocation.get("from") in (S.REQUESTING, S.OUTCOME_UNKNOWN)


def _wants_credential(user, course_key: CourseKey, status) -> bool:
    """Whether this certificate should become a POK credential; says why not in the log."""
    if status not in (None, platform_adapter.DOWNLOADABLE):
        log.info("POK credential not requested for %s: certificate status is %s", course_key, status)
        return False
    if user is None or getattr(user, "pk", None) is None:
        log.warning("POK credential not requested for %s: no saved user was given", course_key)
        return False
    if not platform_adapter.is_pok_enabled_for_course(course_key):
        log.debug("POK is off for %s; the standard certificate is issued", course_key)
        return False
    if not accounts.any_has_a_key():
        log.warning("POK is on for %s but POK_API_KEY is empty: no credential requested", course_key)
        return False
    return True


def as_course_key(course_key) -> CourseKey | None:
    if isinstance(course_key, CourseKey):
        return course_key
    try:
        return CourseKey.from_string(str(course_key))
    except InvalidKeyError:
        log.warning("POK credential not requested: malformed course key %r", course_key)
        return None
