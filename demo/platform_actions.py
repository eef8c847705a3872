"""
What the platform does when a learner passes a course or loses a certificate, done the platform's way.

Passing goes through the creation call site stand-in (``generation_handler._generate_certificate_task``,
which runs the CertificateCreationRequested filter); revoking mirrors ``GeneratedCertificate.invalidate``.
"""

from dataclasses import dataclass

from django.db import transaction
from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData
from openedx_events.learning.signals import CERTIFICATE_REVOKED

ENROLLMENT_MODE = "honor"


@dataclass(frozen=True)
class CourseGrade:
    """What the grades code hands the certificate call site: a CourseGrade, not a float."""

    percent: float
    letter_grade: str
    passed: bool


def pass_course(user, course_key, grade_percent: float) -> None:
    """The learner's grade crossed the passing line: the platform requests their certificate."""
    from lms.djangoapps.certificates.generation_handler import _generate_certificate_task

    grade = CourseGrade(percent=grade_percent, letter_grade="Pass", passed=True)
    _generate_certificate_task(user, course_key, ENROLLMENT_MODE, grade, status=None, generation_mode="batch")


def revoke_certificate(user, course_key) -> bool:
    """
    Invalidate the learner's certificate as ``GeneratedCertificate.invalidate`` does: status
    *unavailable*, download fields and grade cleared, then CERTIFICATE_REVOKED. False when there is none.
    """
    from lms.djangoapps.certificates.data import CertificateStatuses
    from lms.djangoapps.certificates.models import GeneratedCertificate

    with transaction.atomic():
        certificate = GeneratedCertificate.objects.filter(user=user, course_id=course_key).first()
        if certificate is None or certificate.status == CertificateStatuses.unavailable:
            return False
        certificate.download_uuid = ""
        certificate.download_url = ""
        certificate.grade = ""
        certificate.status = CertificateStatuses.unavailable
        certificate.name = profile_name(user)
        certificate.save()
    CERTIFICATE_REVOKED.send_event(
        certificate=CertificateData(
            user=UserData(
                pii=UserPersonalData(username=user.username, email=user.email, name=profile_name(user)),
                id=user.id,
                is_active=user.is_active,
            ),
            course=CourseData(course_key=course_key),
            mode=certificate.mode,
            grade=certificate.grade,
            current_status=certificate.status,
            download_url=certificate.download_url,
            name=certificate.name,
        )
    )
    return True


def profile_name(user) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "name", "") or ""
