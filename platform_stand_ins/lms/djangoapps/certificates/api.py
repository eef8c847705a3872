"""Stand-in for the platform's certificates API (the functions the plugin uses)."""

from lms.djangoapps.certificates.models import GeneratedCertificate


def get_certificate_for_user_id(user, course_id):
    """``user`` is a user id, as on the platform; returns a GeneratedCertificate or None."""
    try:
        return GeneratedCertificate.eligible_certificates.get(user=user, course_id=course_id)
    except GeneratedCertificate.DoesNotExist:
        return None
