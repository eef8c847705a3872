"""
What every page the render step shows shares: the platform's branding, the language the page is
written in, the platform's own links, and the response itself.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import pgettext

from openedx_pok.conf import setting
from openedx_pok.platform_adapter import RenderContext


def branding(page: RenderContext) -> dict:
    """The platform's name, title and logo, and the page's language and direction."""
    return {
        "platform_name": page.platform_name,
        "document_title": page.document_title,
        "logo_src": page.logo_src,
        "logo_url": page.logo_url,
        "page_language": translation.get_language() or settings.LANGUAGE_CODE,
        "page_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }


def respond(request, template: str, context: dict, *, status: int = 200, no_cache: bool = False):
    """The page, rendered with the plugin's templates; ``no_cache`` for a page the row will change."""
    response = HttpResponse(render_to_string(template, context, request=request), status=status)
    if no_cache:
        response["Cache-Control"] = "no-cache, no-store, must-revalidate"
    return response


def viewer_language(request, page: RenderContext) -> str:
    """The viewer's language, as the platform resolved it for the standard certificate page."""
    return (
        page.viewer_language
        or getattr(request, "LANGUAGE_CODE", "")
        or translation.get_language()
        or settings.LANGUAGE_CODE
    )


def spoken_language(language: str) -> str:
    """
    The language the pages can be written in for a viewer of ``language``: that one when a
    catalogue of ours (shipped, or added to the platform's locale paths) translates the pages into
    it, else the language the untranslated words fall back to. The page then takes that language's
    direction: a Hebrew viewer, for whom there is no catalogue, reads a plain left-to-right page in
    English, never English sentences laid out right to left.
    """
    with translation.override(language):
        # Translators: the language code of this catalogue (es, pt-br, ar...), as Django spells it.
        catalogue_language = pgettext("language of the learner pages", "en")
    if _base_language(language) == _base_language(catalogue_language):
        return language
    return catalogue_language


def _base_language(language: str) -> str:
    return language.replace("_", "-").lower().split("-")[0]


def support_url() -> str:
    """Where a learner gets help: POK_SUPPORT_URL, else the platform's support link, else its e-mail."""
    url = http_url(setting("POK_SUPPORT_URL")) or http_url(getattr(settings, "SUPPORT_SITE_LINK", ""))
    if url:
        return url
    contact_email = getattr(settings, "CONTACT_EMAIL", "") or ""
    return f"mailto:{contact_email}" if "@" in contact_email and ":" not in contact_email else ""


def http_url(url) -> str:
    """A URL from the platform's own configuration, kept only when it is http(s) or site-relative."""
    if not isinstance(url, str) or not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    return ""
