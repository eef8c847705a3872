"""
Studio's certificate preview (``?preview=<mode>``, course staff only): POK's rendering of the
template the course would issue from, with the course's own values and placeholders where only a
learner has one. The only POK call on the render side; it is cached, and a problem becomes a page
saying what to fix.
"""

import hashlib
from dataclasses import astuple, dataclass

from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from opaque_keys.edx.keys import CourseKey
from openedx_filters.learning.filters import CertificateRenderStarted

from openedx_pok import accounts, client, platform_adapter
from openedx_pok.conf import setting
from openedx_pok.platform_adapter import RenderContext
from openedx_pok.services.pages import frame
from openedx_pok.services.templates import payload, receiver, value_sources
from openedx_pok.services.templates.template_choice import (
    NoTemplateConfigured,
    TemplateChoice,
    choose_template,
)
from openedx_pok.url_safety import safe_pok_url

CACHE_KEY_PREFIX = "openedx_pok.preview."


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


def render_preview(request, page: RenderContext, mode: str) -> None:
    """Staff previewing the certificate from Studio see POK's rendering; anyone else, the platform's page."""
    course_key = page.course_key
    if not platform_adapter.is_course_staff(getattr(request, "user", None), course_key):
        return
    if not platform_adapter.is_pok_enabled_for_course(course_key):
        return
    language = frame.viewer_language(request, page)
    with translation.override(frame.spoken_language(language)):
        shown = frame.branding(page)
        try:
            preview = studio_preview(course_key, mode, language)
        except PreviewProblem as problem:
            shown.update(problem=problem.problem, remedy=problem.remedy, detail=problem.detail)
            response = frame.respond(request, "openedx_pok/preview_error.html", shown, status=502)
            raise CertificateRenderStarted.RenderCustomResponse(
                "POK preview unavailable", response=response
            ) from problem
        shown.update(
            image_url=preview.image_url,
            template_id=preview.template_id,
            course_title=preview.course_title,
            organization=preview.organization,
            language_tag=preview.language_tag,
            mode=mode,
            cache_minutes=max(1, round(int(setting("POK_PREVIEW_CACHE_TIMEOUT")) / 60)),
        )
        response = frame.respond(request, "openedx_pok/preview.html", shown)
        raise CertificateRenderStarted.RenderCustomResponse("POK preview", response=response)


def studio_preview(course_key: CourseKey, mode: str, language: str) -> Preview:
    """POK's preview of the course's template, cached per course, mode, language and template choice."""
    try:
        course = platform_adapter.get_course_details(course_key)
    except platform_adapter.CourseNotFound as error:
        raise PreviewProblem(
            _("The course could not be found."), _("Reload the page from Studio.")
        ) from error
    try:
        choice = choose_template(course_key, mode)
    except accounts.UnknownAccount as error:
        raise PreviewProblem(
            _("The POK account chosen for this course is not configured."),
            _(
                "Ask the platform operator to add account “{account}” to POK_ACCOUNTS, or to choose another."
            ).format(account=str(error)),
        ) from error
    except NoTemplateConfigured as error:
        raise PreviewProblem(
            _("No POK template is configured for this course."),
            _(
                "Choose a template for the course or its organization in the Django admin "
                "(POK certificate templates), or ask the platform operator to set POK_TEMPLATE_ID."
            ),
        ) from error
    if not accounts.get(choice.account).api_key:
        raise PreviewProblem(
            _("POK is not connected: no API key is configured."),
            _("Ask the platform operator to set POK_API_KEY."),
        )
    language_tag = receiver.resolve_language_tag(language)
    key = cache_key(course_key, mode, language_tag, choice)
    image_url = cache.get(key)
    if not image_url:
        image_url = _ask_pok(course, choice, mode, language_tag)
        cache.set(key, image_url, int(setting("POK_PREVIEW_CACHE_TIMEOUT")))
    return Preview(
        image_url=image_url,
        template_id=choice.template_id,
        course_title=value_sources.certificate_title(course),
        organization=value_sources.organization_name(course),
        language_tag=language_tag,
    )


def _ask_pok(course, choice: TemplateChoice, mode: str, language_tag: str) -> str:
    try:
        body = payload.build(course, choice, placeholder_learner(mode, language_tag), timezone.now()).body
        image_url = client.get_client(choice.account).preview_template(body)
    except client.PokError as error:
        raise _problem_from(error, choice.template_id) from error
    except payload.PayloadError as error:
        raise PreviewProblem(
            _("A parameter of template “{template}” has no value.").format(template=choice.template_id),
            _("Map it to a value in the POK_CUSTOM_PARAMETER_SOURCES setting, or rename it in POK."),
            detail=str(error),
        ) from error
    image_url = safe_pok_url(image_url)
    if not image_url:
        raise PreviewProblem(
            _("POK answered with an image address this site does not accept."),
            _("Ask the platform operator to check POK_ALLOWED_URL_HOSTS."),
        )
    return image_url


def placeholder_learner(mode: str, language_tag: str) -> payload.Learner:
    """The learner a preview is drawn for: a placeholder wherever only a real learner has a value."""
    return payload.Learner(
        name=_placeholder(_("Learner name")),
        first_name=_placeholder(_("First name")),
        last_name=_placeholder(_("Last name")),
        username=_placeholder(_("Username")),
        language_tag=language_tag,
        grade=_placeholder(_("Grade")),
        letter_grade=_placeholder(_("Letter grade")),
        mode=mode,
    )


def _placeholder(label: str) -> str:
    return f"[{label}]"


def _problem_from(error: "client.PokError", template_id: str) -> PreviewProblem:
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


def cache_key(course_key: CourseKey, mode: str, language_tag: str, choice: TemplateChoice) -> str:
    """What a preview image depends on: the course, the mode, the language and the whole template choice."""
    parts = (str(course_key), mode, language_tag, *astuple(choice))
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()
    return CACHE_KEY_PREFIX + digest
