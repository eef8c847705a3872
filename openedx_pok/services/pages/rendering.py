"""
The render step's decision: Studio's preview, the credential's learner page, or the standard
certificate, from the platform's context (read by the adapter) and the local credential row only.

:mod:`~openedx_pok.services.pages.learner_pages` draws the learner pages,
:mod:`~openedx_pok.services.pages.studio_preview` the preview; both raise the filter's exceptions that
replace the standard page, and returning lets the platform render its own.
"""

import logging

import crum
from django.contrib.auth import get_user_model
from django.utils import translation
from opaque_keys.edx.keys import CourseKey

from openedx_pok import platform_adapter
from openedx_pok.conf import setting
from openedx_pok.models import PokCertificate
from openedx_pok.platform_adapter import RenderContext
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import creation, liveness, status
from openedx_pok.services.pages import frame, learner_pages, studio_preview

log = logging.getLogger(__name__)


def render_certificate_page(context: dict) -> None:
    """Called from the render step; raises a render exception to replace the standard page, or returns."""
    page = platform_adapter.read_render_context(context)
    if page.course_key is None:
        return
    request = crum.get_current_request()
    preview_mode = request.GET.get("preview") if request is not None else None
    if preview_mode:
        studio_preview.render_preview(request, page, preview_mode)
        return
    if not platform_adapter.is_pok_enabled_for_course(page.course_key):
        return
    user_id = _certificate_owner_id(page)
    if user_id is None:
        return
    credential = PokCertificate.objects.filter(user_id=user_id, course_key=page.course_key).first()
    if credential is None:
        _queue_issuance_for_existing_certificate(user_id, page.course_key)
        return
    in_flight = credential.state in lifecycle.IN_FLIGHT_STATES
    if in_flight:
        liveness.rearm_overdue()  # a learner waits: a chain the broker lost is re-armed
    waiting = in_flight and status.learner_is_waiting(credential)
    if waiting and queueing.is_eager():
        credential.refresh_from_db()  # the early check ran inside this request
    with translation.override(frame.spoken_language(frame.viewer_language(request, page))):
        learner_pages.show(request, page, credential)


def _certificate_owner_id(page: RenderContext) -> int | None:
    if page.owner_id is not None:
        return page.owner_id
    if page.owner_username:
        model = get_user_model()
        return model.objects.filter(username=page.owner_username).values_list("pk", flat=True).first()
    return None


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
