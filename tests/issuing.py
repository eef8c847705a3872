"""What the platform and the clock do around issuing, for the tests that issue credentials."""

import time
from datetime import timedelta

from django.utils import timezone
from openedx_filters.learning.filters import CertificateCreationRequested

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import policy
from openedx_pok.services.issuing import sweep

S = CredentialState


def request_certificate(user, course_key, grade, *, mode="verified", status=None, generation_mode="batch"):
    """What the platform does when a learner passes: run the creation filter."""
    return CertificateCreationRequested.run_filter(
        user=user,
        course_key=course_key,
        mode=mode,
        status=status,
        grade=grade,
        generation_mode=generation_mode,
    )


def settle(queued_tasks, rounds=50, pause=0.0):
    """
    Let time pass until no credential is waiting: run the due tasks, then bring due every retry and
    check (as the clock would) and run the delayed tasks, then the safety net (the sweep and the
    status sync) as beat would. With ``pause``, real time passes instead (for a fake POK whose rate
    limit counts real seconds).
    """
    for _ in range(rounds):
        queued_tasks.run()
        waiting = PokCertificate.objects.filter(state__in=[S.PENDING, S.RETRYING, S.PROCESSING])
        if not waiting.exists():
            return
        if pause:
            time.sleep(pause)
        else:
            waiting.update(next_attempt_at=timezone.now() - policy.OVERDUE_CHECK_AFTER - timedelta(seconds=1))
            PokCertificate.objects.filter(state=S.PENDING).update(
                modified=timezone.now() - policy.LOST_TASK_AFTER - timedelta(minutes=1)
            )
        queued_tasks.run(delayed=not pause, elapsed=True)
        sweep.sweep()
        sweep.sync_statuses()
    raise AssertionError("credentials still waiting after every round")


def credential_of(user, course_key):
    return PokCertificate.objects.get(user=user, course_key=course_key)


def revoked_certificate_data(user, course_key):
    """The CERTIFICATE_REVOKED payload the platform sends when it invalidates a certificate."""
    from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData

    return CertificateData(
        user=UserData(
            id=user.id,
            is_active=True,
            pii=UserPersonalData(username=user.username, email=user.email, name=""),
        ),
        course=CourseData(course_key=course_key),
        mode="verified",
        grade="0.88",
        current_status="notpassing",
        previous_status="downloadable",
        download_url="",
        name="",
    )


def held_in_pok(fake_pok, user, course_key) -> str:
    """The id of the one credential POK holds for the learner in the course (whatever answer was lost)."""
    [pok_id] = [
        pok_id
        for pok_id, held in fake_pok.credentials.items()
        if held["receiver"]["email"] == user.email and f"CourseId:{course_key}" in held["credential"]["tags"]
    ]
    return pok_id


def unknown_outcome_for(fake_pok, user, course_key, grade):
    """The learner's credential in the course, sent for real with its answer lost: POK holds it."""
    from openedx_pok.services.issuing import creation, sending

    fake_pok.drop_after_create_next()
    credential = creation.record_certificate_request(
        user=user,
        course_key=course_key,
        mode="verified",
        status=None,
        course_grade=grade,
        generation_mode=None,
    )
    sending.issue(credential.pk)
    credential.refresh_from_db()
    assert credential.state == S.OUTCOME_UNKNOWN
    return credential
