"""
Stand-in for ``lms/djangoapps/certificates/views/webview.py``: the call site of CertificateRenderStarted.

It keeps the platform's order of checks (HTML certificates on, course found, a downloadable
certificate or a preview the viewer may see, an active certificate configuration), builds the
render context with the platform's keys (OPENEDX.md), runs the real filter inside
``translation.override`` and handles its three exceptions as ``render_html_view`` does. The
platform renders Mako templates; these render Django templates of the same names from
``platform_stand_ins/lms/templates``.
"""

import logging
from datetime import datetime
from uuid import uuid4

from common.djangoapps.student.roles import (
    CourseInstructorRole,
    CourseStaffRole,
    GlobalStaff,
    OrgInstructorRole,
    OrgStaffRole,
)
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from openedx.core.lib.courses import get_course_by_id
from openedx_filters.learning.filters import CertificateRenderStarted
from organizations import api as organizations_api

from lms.djangoapps.certificates.data import CertificateStatuses
from lms.djangoapps.certificates.models import GeneratedCertificate

log = logging.getLogger(__name__)

INVALID_CERTIFICATE_TEMPLATE_PATH = "certificates/invalid.html"
VALID_CERTIFICATE_TEMPLATE_PATH = "certificates/valid.html"
SERVER_ERROR_TEMPLATE_PATH = "certificates/server-error.html"


def get_certificate_url(course_id=None, uuid=None):
    """Like ``lms.djangoapps.certificates.utils.get_certificate_url`` for web certificates."""
    return f"/certificates/{uuid}"


def render_cert_by_uuid(request, certificate_uuid):
    """The public certificate page: anyone with the link sees the owner's certificate."""
    try:
        certificate = GeneratedCertificate.eligible_certificates.get(
            verify_uuid=certificate_uuid, status=CertificateStatuses.downloadable
        )
    except GeneratedCertificate.DoesNotExist as error:
        raise Http404 from error
    return render_html_view(request, str(certificate.course_id), certificate)


@login_required
def render_preview_certificate(request, course_id):
    """Studio's preview and a learner's own certificate by course (``?preview=<mode>`` for the preview)."""
    return render_html_view(request, str(course_id))


def render_html_view(request, course_id, certificate=None):
    """
    Like the platform's ``handle_500``: outside DEBUG a failed preview shows the error page (with
    status 200, as ``render_to_response`` gives it), the rest raises.
    """
    try:
        return _render_html_view(request, course_id, certificate)
    except Exception:
        if settings.DEBUG or not request.GET.get("preview"):
            raise
        log.exception("Certificate preview failed for %s", course_id)
        return render(request, SERVER_ERROR_TEMPLATE_PATH, {})


def _render_html_view(request, course_id, certificate):
    user = certificate.user if certificate else request.user
    preview_mode = request.GET.get("preview", None)
    platform_name = settings.PLATFORM_NAME

    if not getattr(settings, "FEATURES", {}).get("CERTIFICATES_HTML_VIEW", False):
        return _render_invalid_certificate(request, course_id, platform_name)
    try:
        course_key = CourseKey.from_string(course_id)
        course = get_course_by_id(course_key)
    except (InvalidKeyError, Http404):
        log.info("Invalid cert: error finding course %s", course_id)
        return _render_invalid_certificate(request, course_id, platform_name)
    if not getattr(course, "cert_html_view_enabled", True):
        return _render_invalid_certificate(request, course_id, platform_name)

    user_certificate = _get_user_certificate(request, user, course_key, preview_mode)
    if user_certificate is None:
        log.info("Invalid cert: User %d does not have eligible cert for %s.", user.id, course_id)
        return _render_invalid_certificate(request, course_id, platform_name)

    active_configuration = _get_active_web_certificate(course, preview_mode)
    if active_configuration is None:
        log.info("Invalid cert: course %s does not have an active configuration.", course_id)
        return _render_invalid_certificate(request, course_id, platform_name)

    custom_template = None
    user_language = translation.get_language()
    with translation.override(user_language):
        context = {"user_language": user_language}
        _update_context_with_basic_info(context, course_id, platform_name)
        context["certificate_data"] = active_configuration
        _update_organization_context(context, course)
        _update_course_context(request, context, course)
        _update_context_with_user_info(context, user, user_certificate)
        _update_social_context(request, context, course, user_certificate)
        _update_certificate_context(request, context, user_certificate, platform_name)
        context.update(_get_certificate_header_context(request))
        context["user_certificate"] = user_certificate

        try:
            context, custom_template = CertificateRenderStarted.run_filter(
                context=context, custom_template=custom_template
            )
        except CertificateRenderStarted.RenderAlternativeInvalidCertificate as exc:
            response = _render_invalid_certificate(
                request,
                course_id,
                platform_name,
                cert_path=exc.template_name or INVALID_CERTIFICATE_TEMPLATE_PATH,
            )
        except CertificateRenderStarted.RedirectToPage as exc:
            response = HttpResponseRedirect(exc.redirect_to)
        except CertificateRenderStarted.RenderCustomResponse as exc:
            response = exc.response
        else:
            response = render(request, VALID_CERTIFICATE_TEMPLATE_PATH, context)
        return response


class PreviewNotPermitted(Exception):
    """
    Stands for the platform's ``UnboundLocalError``: its ``_get_user_certificate`` sets the
    preview's date only inside ``if request.user.has_perm(PREVIEW_CERTIFICATES, course_overview)``
    and then builds the certificate with it anyway, so a viewer without the permission makes the
    view fail before the render filter runs, and ``handle_500`` shows the server-error page.
    """


def can_preview_certificates(user, course_key):
    """
    The PREVIEW_CERTIFICATES permission: ``HasAccessRule('staff')``, which grants global staff and
    staff or instructors of the course or of its org (courseware ``_has_access_to_course``).
    """
    if not (user and user.is_authenticated):
        return False
    return (
        GlobalStaff().has_user(user)
        or CourseStaffRole(course_key).has_user(user)
        or CourseInstructorRole(course_key).has_user(user)
        or OrgStaffRole(course_key.org).has_user(user)
        or OrgInstructorRole(course_key.org).has_user(user)
    )


def _get_user_certificate(request, user, course_key, preview_mode):
    """An unsaved certificate in the previewed mode for those who may preview, else the downloadable one."""
    if preview_mode:
        if not can_preview_certificates(request.user, course_key):
            raise PreviewNotPermitted(str(course_key))
        return GeneratedCertificate(mode=preview_mode, verify_uuid=uuid4().hex, modified_date=datetime.now())
    try:
        return GeneratedCertificate.eligible_certificates.get(
            user=user, course_id=course_key, status=CertificateStatuses.downloadable
        )
    except GeneratedCertificate.DoesNotExist:
        return None


def _get_active_web_certificate(course, is_preview_mode=None):
    for certificate in (course.certificates or {}).get("certificates", []):
        if is_preview_mode or certificate.get("is_active"):
            return certificate
    return None


def _render_invalid_certificate(
    request, course_id, platform_name, cert_path=INVALID_CERTIFICATE_TEMPLATE_PATH
):
    context = {}
    _update_context_with_basic_info(context, course_id, platform_name)
    return render(request, cert_path, context)


def _update_context_with_basic_info(context, course_id, platform_name):
    context["platform_name"] = platform_name
    context["course_id"] = course_id
    context["document_title"] = _("Invalid Certificate")
    context["company_contact_urltext"] = _("Contact {platform_name}").format(platform_name=platform_name)


def _update_organization_context(context, course):
    partner_long_name, organization_logo = None, None
    course_org_display = course.display_organization
    organizations = organizations_api.get_course_organizations(course_key=course.id)
    if organizations:
        organization = organizations[0]
        partner_long_name = organization.get("name", partner_long_name)
        course_org_display = course_org_display or organization.get("short_name")
        organization_logo = organization.get("logo", None)
    partner_short_name = course_org_display or course.org
    context["organization_long_name"] = partner_long_name
    context["organization_short_name"] = partner_short_name
    context["accomplishment_copy_course_org"] = partner_short_name
    context["organization_logo"] = organization_logo


def _update_course_context(request, context, course):
    context["full_course_image_url"] = request.build_absolute_uri("/asset-v1/course_image.jpg")
    course_title_from_cert = context["certificate_data"].get("course_title", "")
    context["accomplishment_copy_course_name"] = course_title_from_cert or course.display_name
    context["course_number"] = course.display_number_with_default or course.number


def _update_context_with_user_info(context, user, user_certificate):
    user_fullname = _preferred_certificate_name(user)
    context["username"] = user.username
    context["course_mode"] = user_certificate.mode
    context["accomplishment_user_id"] = user.id
    context["accomplishment_copy_name"] = user_fullname
    context["accomplishment_copy_username"] = user.username
    context["accomplishment_banner_opening"] = _("{fullname}, you earned a certificate!").format(
        fullname=user_fullname
    )


def _preferred_certificate_name(user):
    try:
        return user.profile.name
    except Exception:  # noqa: BLE001  (the platform falls back the same way when a profile is missing)
        return ""


def _update_social_context(request, context, course, user_certificate):
    share_url = request.build_absolute_uri(
        get_certificate_url(course_id=course.id, uuid=user_certificate.verify_uuid)
    )
    context["share_url"] = share_url
    context["twitter_url"] = ""
    # LinkedInAddToProfileConfiguration is off unless an operator enables it.
    context["linked_in_url"] = None


def _update_certificate_context(request, context, user_certificate, platform_name):
    context["certificate_id_number"] = user_certificate.verify_uuid
    context["certificate_verify_url"] = request.build_absolute_uri(
        f"/certificates/{user_certificate.verify_uuid}"
    )
    issued = user_certificate.modified_date or datetime.now()
    context["certificate_date_issued"] = issued.strftime("%B %d, %Y")
    context["document_title"] = _(
        "{partner_short_name} {course_number} Certificate | {platform_name}"
    ).format(
        partner_short_name=context["organization_short_name"],
        course_number=context["course_number"],
        platform_name=platform_name,
    )


def _get_certificate_header_context(request):
    return {
        "logo_src": getattr(settings, "LOGO_IMAGE_URL", "/static/images/logo.png"),
        "logo_url": request.build_absolute_uri("/"),
    }
