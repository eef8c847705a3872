"""Stand-in for ``lms/djangoapps/certificates/urls.py``; LMS includes it under ``certificates/``."""

from django.urls import re_path

from lms.djangoapps.certificates.views import render_cert_by_uuid, render_preview_certificate

app_name = "certificates"

COURSE_ID_PATTERN = r"(?P<course_id>[^/+]+(/|\+)[^/+]+(/|\+)[^/?]+)"

urlpatterns = [
    re_path(rf"^course/{COURSE_ID_PATTERN}$", render_preview_certificate, name="preview_cert"),
    re_path(r"^(?P<certificate_uuid>[0-9a-f]{32})$", render_cert_by_uuid, name="render_cert_by_uuid"),
]
