"""
Stand-in for ``lms/djangoapps/static_template_view/views.py``: LMS's error pages.

LMS sets ``handler404 = static_template_view_views.render_404``: every 404, including the
certificate web view's for a certificate that is no longer downloadable (revoked, not passing,
unverified), is the platform's themed "Page not found" page (``static_templates/404.html``,
inside the LMS header and footer), rendered before any filter runs.
"""

from django.conf import settings
from django.http import HttpResponseNotFound
from django.template.loader import render_to_string


def render_404(request, exception=None):
    context = {"platform_name": settings.PLATFORM_NAME, "logo_src": getattr(settings, "LOGO_IMAGE_URL", "")}
    return HttpResponseNotFound(render_to_string("static_templates/404.html", context, request=request))
