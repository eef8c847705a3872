"""Stand-in for the platform's GeneratedCertificate."""

import uuid

from django.conf import settings
from django.db import models
from opaque_keys.edx.django.models import CourseKeyField

from lms.djangoapps.certificates.data import CertificateStatuses


class EligibleCertificateManager(models.Manager):
    """Like the platform: audit-mode certificates are never eligible."""

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .exclude(status__in=(CertificateStatuses.audit_passing, CertificateStatuses.audit_notpassing))
        )


class GeneratedCertificate(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    course_id = CourseKeyField(max_length=255, blank=True, default=None)
    verify_uuid = models.CharField(max_length=32, blank=True, default="", db_index=True)
    download_uuid = models.CharField(max_length=32, blank=True, default="")
    download_url = models.CharField(max_length=128, blank=True, default="")
    grade = models.CharField(max_length=5, blank=True, default="")
    key = models.CharField(max_length=32, blank=True, default="")
    distinction = models.BooleanField(default=False)
    status = models.CharField(max_length=32, default="unavailable")
    mode = models.CharField(max_length=32, default="honor")
    name = models.CharField(blank=True, max_length=255)
    created_date = models.DateTimeField(auto_now_add=True)
    modified_date = models.DateTimeField(auto_now=True)

    objects = models.Manager()
    eligible_certificates = EligibleCertificateManager()

    class Meta:
        app_label = "certificates"
        unique_together = (("user", "course_id"),)

    @staticmethod
    def new_verify_uuid():
        return uuid.uuid4().hex
