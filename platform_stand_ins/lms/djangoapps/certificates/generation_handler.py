"""
Stand-in for ``lms/djangoapps/certificates/generation_handler.py``: the platform's call site of
CertificateCreationRequested, with the same names and order of events.

The platform queues ``generate_certificate`` after the filter; that task's work (the
GeneratedCertificate row, the CERTIFICATE_CREATED event) is done inline here.
"""

import logging

from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData
from openedx_events.learning.signals import CERTIFICATE_CREATED
from openedx_filters.learning.filters import CertificateCreationRequested

from lms.djangoapps.certificates.data import CertificateStatuses
from lms.djangoapps.certificates.models import GeneratedCertificate

log = logging.getLogger(__name__)


class CertificateGenerationNotAllowed(Exception):
    """A filter step prevented the certificate; the learner sees this message on the self-service path."""


def _generate_certificate_task(
    user, course_key, enrollment_mode, course_grade, status=None, generation_mode=None
):
    """Run the creation filter, then create the certificate (the platform's ``generate_certificate``)."""
    try:
        user, course_key, mode, status, grade, generation_mode = CertificateCreationRequested.run_filter(
            user=user,
            course_key=course_key,
            mode=enrollment_mode,
            status=status,
            grade=course_grade,
            generation_mode=generation_mode,
        )
    except CertificateCreationRequested.PreventCertificateCreation as exc:
        raise CertificateGenerationNotAllowed(str(exc)) from exc
    return generate_course_certificate(
        user, course_key, status or CertificateStatuses.downloadable, mode, grade
    )


def generate_course_certificate(user, course_key, status, enrollment_mode, course_grade):
    """Like the platform: update or create the row, a new verify_uuid, then CERTIFICATE_CREATED."""
    certificate, _ = GeneratedCertificate.objects.get_or_create(user=user, course_id=course_key)
    previous_status = certificate.status
    certificate.mode = enrollment_mode
    certificate.grade = _grade_string(course_grade)
    certificate.name = _profile_name(user)
    certificate.status = status
    certificate.verify_uuid = GeneratedCertificate.new_verify_uuid()
    certificate.save()
    if status in (CertificateStatuses.downloadable, CertificateStatuses.generating):
        CERTIFICATE_CREATED.send_event(
            certificate=CertificateData(
                user=UserData(
                    id=user.id,
                    is_active=user.is_active,
                    pii=UserPersonalData(username=user.username, email=user.email, name=certificate.name),
                ),
                course=CourseData(course_key=course_key),
                mode=certificate.mode,
                grade=certificate.grade,
                current_status=certificate.status,
                previous_status=previous_status,
                download_url=certificate.download_url,
                name="",
            )
        )
    return certificate


def _grade_string(course_grade) -> str:
    percent = getattr(course_grade, "percent", course_grade)
    return "" if percent is None else str(percent)[:5]


def _profile_name(user) -> str:
    profile = getattr(user, "profile", None)
    return getattr(profile, "name", "") or ""
