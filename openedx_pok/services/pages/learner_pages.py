"""
The learner pages: what the certificate page shows of a credential, decided from its row alone.

The lifecycle says what the public sees of each state (``lifecycle.PUBLIC_STATES``); :data:`PAGES`
gives each of those public states its page, so a state's page and its status endpoint never
disagree. A learner (or anyone holding the public certificate link) never waits on POK here: the
image location was stored when the credential was emitted, and an expired one is refreshed by a
background task.
"""

from datetime import datetime
from urllib.parse import quote, urlencode

from django.utils.translation import gettext as _
from openedx_filters.learning.filters import CertificateRenderStarted

from openedx_pok.conf import setting
from openedx_pok.models import PokCertificate
from openedx_pok.platform_adapter import RenderContext
from openedx_pok.services import lifecycle
from openedx_pok.services.pages import descriptions, frame
from openedx_pok.url_safety import safe_pok_url

LINKEDIN_ADD_TO_PROFILE_URL = "https://www.linkedin.com/profile/add"
NO_SCRIPT_REFRESH_SECONDS = 30
# A delayed credential changes in minutes at the soonest: its page reloads itself less often.
DELAYED_NO_SCRIPT_REFRESH_SECONDS = 120


def show(request, page: RenderContext, credential: PokCertificate) -> None:
    """Raise the render exception that replaces the standard certificate page with the credential's."""
    PAGES[lifecycle.public_state(credential)](request, page, credential)


def _emitted(request, page: RenderContext, credential: PokCertificate) -> None:
    view_url = safe_pok_url(credential.view_url)
    if setting("POK_REDIRECT_TO_VIEW_URL") and view_url:
        raise CertificateRenderStarted.RedirectToPage("POK credential emitted", redirect_to=view_url)
    image_url = descriptions.downloadable_image_url(credential)
    shown = _common(request, page, credential)
    share_url = frame.http_url(page.share_url)
    shown.update(
        view_url=view_url,
        image_url=image_url,
        download_url=descriptions.image_download_path(credential) if image_url else "",
        credential_id=credential.pok_credential_id or "",
        share_url=share_url,
        email_share_url=_email_share_url(shown["course_title"], share_url),
        linkedin_url=linkedin_add_to_profile_url(
            name=shown["course_title"],
            organization=shown["organization"],
            issued_on=shown["issued_on"],
            certificate_url=view_url or share_url,
            certificate_id=credential.pok_credential_id or str(credential.public_id),
        ),
    )
    _replace_page(request, "openedx_pok/certificate.html", shown, "POK credential emitted", no_cache=False)


def _being_issued(request, page: RenderContext, credential: PokCertificate) -> None:
    shown = _common(request, page, credential)
    shown.update(
        status_url=descriptions.status_path(credential),
        page_url=request.get_full_path() if request is not None else "",
        no_script_refresh_seconds=NO_SCRIPT_REFRESH_SECONDS,
    )
    _replace_page(request, "openedx_pok/being_issued.html", shown, "POK credential is being issued")


def _delayed(request, page: RenderContext, credential: PokCertificate) -> None:
    shown = _common(request, page, credential)
    shown.update(
        support_url=frame.support_url(),
        retry_scheduled=lifecycle.retries_by_itself(credential),
        # An operator's retry or re-issue changes the page: it watches the status like "being issued".
        status_url=descriptions.status_path(credential),
        no_script_refresh_seconds=DELAYED_NO_SCRIPT_REFRESH_SECONDS,
    )
    _replace_page(request, "openedx_pok/delayed.html", shown, "POK credential is delayed")


def _no_longer_valid(request, page: RenderContext, credential: PokCertificate) -> None:
    """
    Revoked here while the platform's certificate is still downloadable (the admin's *Mark
    revoked*, ``api.revoke``, POK revoking it, a retirement): a calm page of ours, in the pages'
    look and the viewer's language. The platform's invalid page would call the link a possible
    forgery and cannot show the course (it gets the basic context only); a certificate revoked in
    Open edX never gets here, since the platform answers 404 before running the filter.
    """
    shown = _common(request, page, credential)
    shown.update(support_url=frame.support_url())
    _replace_page(request, "openedx_pok/no_longer_valid.html", shown, "POK credential revoked")


# Each public state's page (lifecycle.PUBLIC_STATES says which states show which).
PAGES = {
    lifecycle.PUBLIC_EMITTED: _emitted,
    lifecycle.PUBLIC_ISSUING: _being_issued,
    lifecycle.PUBLIC_DELAYED: _delayed,
    lifecycle.PUBLIC_REVOKED: _no_longer_valid,
}


def _replace_page(request, template: str, shown: dict, message: str, *, no_cache: bool = True) -> None:
    response = frame.respond(request, template, shown, no_cache=no_cache)
    raise CertificateRenderStarted.RenderCustomResponse(message, response=response)


def _common(request, page: RenderContext, credential: PokCertificate) -> dict:
    """What every learner page shows: the platform's branding and the credential's own words."""
    viewer_id = getattr(getattr(request, "user", None), "id", None)
    return {
        **frame.branding(page),
        "learner_name": credential.receiver_name or page.learner_name,
        "course_title": credential.title or page.course_title,
        "organization": credential.emitter or page.organization,
        "issued_on": credential.emission_date,
        "issued_on_text": page.issued_on_text,
        "is_owner": viewer_id is not None and viewer_id == credential.user_id,
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


def _email_share_url(course_title: str, share_url: str) -> str:
    subject = _("My certificate for {course_title}").format(course_title=course_title)
    body = _("I earned a certificate for {course_title}: {url}").format(
        course_title=course_title, url=share_url
    )
    return f"mailto:?subject={quote(subject)}&body={quote(body)}"
