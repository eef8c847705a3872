"""
What the certificate page shows, decided from the local credential row only.

A learner (or anyone holding the public certificate link) never waits on POK here: the row says
which page to show, the image location was stored when the credential was emitted, and an expired
one is refreshed by a background task. The only POK call in this module is Studio's preview, for
course staff, and it is cached.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from urllib.parse import quote, urlencode, urlsplit

import crum
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from openedx_filters.learning.filters import CertificateRenderStarted

from openedx_pok import client, platform_adapter
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import creation, lifecycle, payload, queueing, status
from openedx_pok.services.template_choice import NoTemplateConfigured, choose_template
from openedx_pok.services.template_definitions import get_template_definition
from openedx_pok.url_safety import safe_pok_url

log = logging.getLogger(__name__)

# The platform's own invalid-certificate template (webview.INVALID_CERTIFICATE_TEMPLATE_PATH).
PLATFORM_INVALID_TEMPLATE = "certificates/invalid.html"
LINKEDIN_ADD_TO_PROFILE_URL = "https://www.linkedin.com/profile/add"
NO_SCRIPT_REFRESH_SECONDS = 30
IMAGE_REFRESH_GUARD_SECONDS = 300


def render_certificate_page(context: dict) -> None:
    """Called from the render step; raises a render exception to replace the standard page, or returns."""
    course_key = _course_key(context)
    if course_key is None:
        return
    request = crum.get_current_request()
    preview_mode = request.GET.get("preview") if request is not None else None
    if preview_mode:
        _render_studio_preview(request, context, course_key, preview_mode)
        return
    if not platform_adapter.is_pok_enabled_for_course(course_key):
        return
    user_id = _certificate_owner_id(context)
    if user_id is None:
        return
    credential = PokCertificate.objects.filter(user_id=user_id, course_key=course_key).first()
    if credential is None:
        _queue_issuance_for_existing_certificate(user_id, course_key)
        return
    waiting = credential.state in lifecycle.IN_FLIGHT_STATES and status.learner_is_waiting(credential)
    if waiting and queueing.is_eager():
        credential.refresh_from_db()  # the early check ran inside this request
    with translation.override(_page_language(request, context)):
        _render_for_state(request, context, credential)


def _render_for_state(request, context: dict, credential: PokCertificate) -> None:
    if credential.state == CredentialState.EMITTED:
        _render_emitted(request, context, credential)
    elif credential.state in lifecycle.IN_FLIGHT_STATES:
        page = _learner_page(request, context, credential)
        page.update(
            status_url=reverse("openedx_pok:credential_status", kwargs={"public_id": credential.public_id}),
            page_url=request.get_full_path() if request is not None else "",
            no_script_refresh_seconds=NO_SCRIPT_REFRESH_SECONDS,
        )
        response = HttpResponse(render_to_string("openedx_pok/being_issued.html", page, request=request))
        response["Cache-Control"] = "no-cache, no-store, must-revalidate"
        raise CertificateRenderStarted.RenderCustomResponse(
            "POK credential is being issued", response=response
        )
    elif credential.state == CredentialState.FAILED:
        page = _learner_page(request, context, credential)
        page.update(
            support_url=_support_url(),
            retry_scheduled=lifecycle.retries_by_itself(credential),
        )
        response = HttpResponse(render_to_string("openedx_pok/delayed.html", page, request=request))
        response["Cache-Control"] = "no-cache, no-store, must-revalidate"
        raise CertificateRenderStarted.RenderCustomResponse("POK credential is delayed", response=response)
    elif credential.state == CredentialState.REVOKED:
        raise CertificateRenderStarted.RenderAlternativeInvalidCertificate(
            "POK credential revoked", template_name=PLATFORM_INVALID_TEMPLATE
        )


def _render_emitted(request, context: dict, credential: PokCertificate) -> None:
    view_url = safe_pok_url(credential.view_url)
    if setting("POK_REDIRECT_TO_VIEW_URL") and view_url:
        raise CertificateRenderStarted.RedirectToPage("POK credential emitted", redirect_to=view_url)
    if image_needs_refresh(credential):
        queue_image_refresh(credential)
    image_url = safe_pok_url(credential.image_url)
    page = _learner_page(request, context, credential)
    share_url = _http_url(context.get("share_url"))
    page.update(
        view_url=view_url,
        image_url=image_url,
        download_url=(
            reverse("openedx_pok:credential_image", kwargs={"public_id": credential.public_id})
            if image_url
            else ""
        ),
        credential_id=credential.pok_credential_id or "",
        share_url=share_url,
        email_share_url=_email_share_url(page, share_url),
        linkedin_url=linkedin_add_to_profile_url(
            name=page["course_title"],
            organization=page["organization"],
            issued_on=page["issued_on"],
            certificate_url=view_url or share_url,
            certificate_id=credential.pok_credential_id or str(credential.public_id),
        ),
    )
    response = HttpResponse(render_to_string("openedx_pok/certificate.html", page, request=request))
    raise CertificateRenderStarted.RenderCustomResponse("POK credential emitted", response=response)


def _learner_page(request, context: dict, credential: PokCertificate) -> dict:
    """What every learner page shows: the platform's branding and the credential's own words."""
    viewer_id = getattr(getattr(request, "user", None), "id", None)
    return {
        **_branding(context),
        "learner_name": credential.receiver_name or context.get("accomplishment_copy_name") or "",
        "course_title": credential.title or context.get("accomplishment_copy_course_name") or "",
        "organization": credential.emitter
        or context.get("organization_long_name")
        or context.get("organization_short_name")
        or "",
        "issued_on": credential.emission_date,
        "issued_on_text": context.get("certificate_date_issued") or "",
        "is_owner": viewer_id is not None and viewer_id == credential.user_id,
    }


def _branding(context: dict) -> dict:
    return {
        "platform_name": context.get("platform_name") or platform_adapter.get_platform_name(),
        "document_title": context.get("document_title") or context.get("platform_name") or "",
        "logo_src": context.get("logo_src") or "",
        "logo_url": context.get("logo_url") or "",
        "page_language": translation.get_language() or settings.LANGUAGE_CODE,
        "page_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }


def linkedin_add_to_profile_url(
    *, name: str, organization: str, issued_on: datetime | None, certificate_url: str, certificate_id: str
) -> str:
    """LinkedIn's documented add-to-profile link for a certification (startTask=CERTIFICATION_NAME)."""
    parameters = {"startTask": "CERTIFICATION_NAME", "name": name}
    organization_id = str(setting("POK_LINKEDIN_ORGANIZATION_ID") or "").strip()
    if organization_id:
        parameters["organizationId"] = organization_id
    elif organization:
        parameters["organizationName"] = organization
    if issued_on is not None:
        parameters["issueYear"] = str(issued_on.year)
        parameters["issueMonth"] = str(issued_on.month)
    if certificate_url:
        parameters["certUrl"] = certificate_url
    if certificate_id:
        parameters["certId"] = certificate_id
    return f"{LINKEDIN_ADD_TO_PROFILE_URL}?{urlencode(parameters)}"


def _email_share_url(page: dict, share_url: str) -> str:
    subject = _("My certificate for {course_title}").format(course_title=page["course_title"])
    body = _("I earned a certificate for {course_title}: {url}").format(
        course_title=page["course_title"], url=share_url
    )
    return f"mailto:?subject={quote(subject)}&body={quote(body)}"


def image_needs_refresh(credential: PokCertificate, now: datetime | None = None) -> bool:
    """The stored image location is missing or past the lifetime we trust it for."""
    if not credential.image_url:
        return True
    expires_at = credential.image_url_expires_at
    return expires_at is not None and expires_at <= (now or timezone.now())


def queue_image_refresh(credential: PokCertificate) -> None:
    """Ask the background task for a fresh image location, at most once per few minutes per credential."""
    if not cache.add(f"openedx_pok.image_refresh.{credential.pk}", True, IMAGE_REFRESH_GUARD_SECONDS):
        return
    if not queueing.queue(queueing.REFRESH_CREDENTIAL_IMAGE, credential.pk):
        cache.delete(f"openedx_pok.image_refresh.{credential.pk}")


def _queue_issuance_for_existing_certificate(user_id: int, course_key: CourseKey) -> None:
    """A certificate from before POK was switched on: request its credential when the operator asks for it."""
    if not setting("POK_ISSUE_FOR_EXISTING_CERTIFICATES"):
        return
    try:
        certificate = platform_adapter.get_platform_certificate(user_id, course_key)
        if certificate is None or not certificate.is_downloadable:
            return
        creation.record_certificate_request(
            user=get_user_model().objects.get(pk=user_id),
            course_key=course_key,
            mode=certificate.mode,
            status=certificate.status,
            course_grade=certificate.grade,
            generation_mode=None,
        )
    except Exception:
        log.exception("Could not queue a POK credential for an existing certificate in %s", course_key)


# Studio preview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    image_url: str
    template_id: str
    course_title: str
    organization: str
    language_tag: str


class PreviewProblem(Exception):
    """The preview cannot be shown; ``problem`` and ``remedy`` are written for the course team."""

    def __init__(self, problem: str, remedy: str, detail: str = ""):
        super().__init__(problem)
        self.problem, self.remedy, self.detail = problem, remedy, detail


def _render_studio_preview(request, context: dict, course_key: CourseKey, mode: str) -> None:
    """Staff previewing the certificate from Studio see POK's rendering of the course's template."""
    if not platform_adapter.is_course_staff(getattr(request, "user", None), course_key):
        return
    if not platform_adapter.is_pok_enabled_for_course(course_key):
        return
    language = _page_language(request, context)
    with translation.override(language):
        page = _branding(context)
        try:
            preview = studio_preview(course_key, mode, language)
        except PreviewProblem as problem:
            page.update(problem=problem.problem, remedy=problem.remedy, detail=problem.detail)
            response = HttpResponse(
                render_to_string("openedx_pok/preview_error.html", page, request=request), status=502
            )
            raise CertificateRenderStarted.RenderCustomResponse(
                "POK preview unavailable", response=response
            ) from problem
        page.update(
            image_url=preview.image_url,
            template_id=preview.template_id,
            course_title=preview.course_title,
            organization=preview.organization,
            language_tag=preview.language_tag,
            mode=mode,
            cache_minutes=max(1, round(int(setting("POK_PREVIEW_CACHE_TIMEOUT")) / 60)),
        )
        response = HttpResponse(render_to_string("openedx_pok/preview.html", page, request=request))
        raise CertificateRenderStarted.RenderCustomResponse("POK preview", response=response)


def studio_preview(course_key: CourseKey, mode: str, language: str) -> Preview:
    """POK's preview of the course's template, cached per course, mode and language."""
    try:
        course = platform_adapter.get_course_details(course_key)
    except platform_adapter.CourseNotFound as error:
        raise PreviewProblem(
            _("The course could not be found."), _("Reload the page from Studio.")
        ) from error
    try:
        choice = choose_template(course_key, mode)
    except NoTemplateConfigured as error:
        raise PreviewProblem(
            _("No POK template is configured for this course."),
            _(
                "Choose a template for the course or its organization in the Django admin "
                "(POK certificate templates), or ask the platform operator to set POK_TEMPLATE_ID."
            ),
        ) from error
    if not setting("POK_API_KEY"):
        raise PreviewProblem(
            _("POK is not connected: no API key is configured."),
            _("Ask the platform operator to set POK_API_KEY."),
        )
    configuration = course.certificate_configuration
    course_title = (configuration.course_title if configuration else "") or course.display_name
    organization = payload.organization_name(course)
    language_tag = payload.resolve_language_tag(language)
    cache_key = _preview_cache_key(course_key, mode, language_tag, choice.template_id)
    image_url = cache.get(cache_key)
    if not image_url:
        body = _preview_body(course, choice, mode, course_title, organization, language_tag)
        try:
            image_url = client.get_client().preview_template(body)
        except client.PokError as error:
            raise _preview_problem_from(error, choice.template_id) from error
        image_url = safe_pok_url(image_url)
        if not image_url:
            raise PreviewProblem(
                _("POK answered with an image address this site does not accept."),
                _("Ask the platform operator to check POK_ALLOWED_URL_HOSTS."),
            )
        cache.set(cache_key, image_url, int(setting("POK_PREVIEW_CACHE_TIMEOUT")))
    return Preview(
        image_url=image_url,
        template_id=choice.template_id,
        course_title=course_title,
        organization=organization,
        language_tag=language_tag,
    )


def _preview_body(course, choice, mode, course_title, organization, language_tag) -> dict:
    """The body of a credential, with placeholders where only a learner has a value."""
    now = timezone.now()
    date_format = setting("POK_DATE_FORMAT")
    learner_name = _placeholder(_("Learner name"))
    sources = payload.value_sources(
        credential=SimpleNamespace(
            user=SimpleNamespace(username=_placeholder(_("Username"))),
            grade_percent=None,
            letter_grade="",
            mode=mode,
            course_key=course.course_key,
        ),
        course=course,
        emitter=organization,
        title=course_title,
        learner_name=learner_name,
        issue_date=payload.format_issue_date(now, date_format),
    )
    sources.update(grade=_placeholder(_("Grade")), letter_grade=_placeholder(_("Letter grade")))
    try:
        definition = get_template_definition(choice.template_id)
        custom_parameters = payload.fill_custom_parameters(definition.custom_parameters, sources)
    except client.PokError as error:
        raise _preview_problem_from(error, choice.template_id) from error
    except payload.PayloadError as error:
        raise PreviewProblem(
            _("A parameter of template “{template}” has no value.").format(template=choice.template_id),
            _("Map it to a value in the POK_CUSTOM_PARAMETER_SOURCES setting, or rename it in POK."),
            detail=str(error),
        ) from error
    customization = {"template": {"id": choice.template_id, "customParameters": custom_parameters}}
    if choice.page_id:
        customization["page"] = choice.page_id
    return {
        "credential": {
            "emissionType": choice.emission_type,
            "dateFormat": date_format,
            "emissionDate": now.isoformat(),
            "title": course_title,
            "emitter": organization,
        },
        "receiver": {
            "languageTag": language_tag,
            "firstName": _placeholder(_("First name")),
            "lastName": _placeholder(_("Last name")),
        },
        "customization": customization,
    }


def _placeholder(label: str) -> str:
    return f"[{label}]"


def _preview_problem_from(error: "client.PokError", template_id: str) -> PreviewProblem:
    detail = (error.message or "")[:300]
    if isinstance(error, client.PokAuthError):
        return PreviewProblem(
            _("POK rejected the API key."),
            _(
                "Ask the platform operator to check POK_API_KEY: it must be a valid key of the POK "
                "organization that owns template “{template}”."
            ).format(template=template_id),
        )
    if isinstance(error, client.PokNotFound):
        return PreviewProblem(
            _("Template “{template}” was not found in POK.").format(template=template_id),
            _(
                "Check the template id chosen for this course or its organization in the Django admin "
                "(POK certificate templates) or in POK_TEMPLATE_ID, and that the template exists in POK."
            ),
        )
    if isinstance(error, client.PokValidationError):
        return PreviewProblem(
            _("POK refused to render template “{template}”.").format(template=template_id),
            _("Check the template's custom parameters in POK and the values this course provides."),
            detail=detail,
        )
    return PreviewProblem(
        _("POK is not answering right now."),
        _("Try the preview again in a few minutes; learners' certificates are retried automatically."),
    )


def _preview_cache_key(course_key: CourseKey, mode: str, language_tag: str, template_id: str) -> str:
    digest = hashlib.sha256(f"{course_key}|{mode}|{language_tag}|{template_id}".encode()).hexdigest()
    return f"openedx_pok.preview.{digest}"


# Reading the platform's render context ------------------------------------------------------


def _course_key(context: dict) -> CourseKey | None:
    try:
        return CourseKey.from_string(str(context.get("course_id") or ""))
    except InvalidKeyError:
        return None


def _certificate_owner_id(context: dict) -> int | None:
    """The learner whose certificate is shown: the GeneratedCertificate on master, else the user keys."""
    user_certificate = context.get("user_certificate")
    user_id = getattr(user_certificate, "user_id", None) or context.get("accomplishment_user_id")
    if user_id:
        return int(user_id)
    username = context.get("username") or context.get("accomplishment_copy_username")
    if username:
        return get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
    return None


def _page_language(request, context: dict) -> str:
    """The viewer's language, as the platform resolved it for the standard certificate page."""
    return (
        context.get("user_language")
        or getattr(request, "LANGUAGE_CODE", "")
        or translation.get_language()
        or settings.LANGUAGE_CODE
    )


def _support_url() -> str:
    url = _http_url(setting("POK_SUPPORT_URL")) or _http_url(getattr(settings, "SUPPORT_SITE_LINK", ""))
    if url:
        return url
    contact_email = getattr(settings, "CONTACT_EMAIL", "") or ""
    return f"mailto:{contact_email}" if "@" in contact_email and ":" not in contact_email else ""


def _http_url(url) -> str:
    """A URL from the platform's own configuration, kept only when it is http(s) or site-relative."""
    if not isinstance(url, str) or not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    return ""


# What the JSON endpoints tell -----------------------------------------------------------------


def describe_for_learner(credential: PokCertificate) -> dict:
    """A learner's view of one of their credentials: what their pages show, no internals, no email."""
    emitted = credential.state == CredentialState.EMITTED
    return {
        "id": str(credential.public_id),
        "course_id": str(credential.course_key),
        "state": lifecycle.public_state(credential),
        "title": credential.title,
        "issued_on": credential.emission_date.isoformat() if emitted and credential.emission_date else None,
        "view_url": safe_pok_url(credential.view_url) if emitted else "",
        "image_download_url": (
            reverse("openedx_pok:credential_image", kwargs={"public_id": credential.public_id})
            if emitted and safe_pok_url(credential.image_url)
            else ""
        ),
        "status_url": reverse("openedx_pok:credential_status", kwargs={"public_id": credential.public_id}),
    }


# An e-mail address, also percent-encoded or with a full-width at sign: POK's error texts, kept in
# ``last_error``, may quote the learner's.
EMAIL_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+(?:@|%40|\uff20)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
EMAIL_PLACEHOLDER = "[e-mail address]"


def without_email_addresses(text: str) -> str:
    """``text`` with every e-mail address replaced by a placeholder; the rest stays readable."""
    return EMAIL_ADDRESS.sub(EMAIL_PLACEHOLDER, text or "")


def describe_for_staff(credential: PokCertificate) -> dict:
    """What support staff need to answer a learner: the real state and POK's side, still no email."""
    return {
        **describe_for_learner(credential),
        "username": credential.user.username,
        "internal_state": credential.state,
        "pok_state": credential.pok_state,
        "pok_credential_id": credential.pok_credential_id or "",
        "attempts": credential.attempts,
        "last_error": without_email_addresses(credential.last_error),
        "next_attempt_at": credential.next_attempt_at.isoformat() if credential.next_attempt_at else None,
        "created": credential.created.isoformat(),
        "modified": credential.modified.isoformat(),
    }


def downloadable_image_url(credential: PokCertificate) -> str:
    """The image location of an emitted credential, when it may be followed; refreshed in the background."""
    if credential.state != CredentialState.EMITTED:
        return ""
    if image_needs_refresh(credential):
        queue_image_refresh(credential)
    return safe_pok_url(credential.image_url)
