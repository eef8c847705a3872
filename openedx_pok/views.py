"""
The plugin's HTTP endpoints, under ``/pok/``: thin wrappers around the descriptions service.

Which are public, and why:

- ``credentials/<public_id>/status`` and ``credentials/<public_id>/image`` are public, like the
  platform's ``/certificates/<verify_uuid>`` page that links to them: ``public_id`` is a random
  UUID that only appears on that page. They reveal nothing the page does not show (the status
  answers only with a coarse state) and the image exists only for an emitted credential.
- ``credentials/mine`` needs a signed-in learner and lists only their own credentials.
- ``credentials/lookup`` is for staff: global staff for any learner, course staff for their courses.

None is keyed by an integer user id, and none returns an email address.
"""

from itertools import islice

from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import platform_adapter
from openedx_pok.models import PokCertificate
from openedx_pok.services import lifecycle, queueing
from openedx_pok.services.issuing import liveness, status
from openedx_pok.services.pages import descriptions

# The staff lookup answers with at most this many credentials.
LOOKUP_LIMIT = 500


@require_GET
@never_cache
def credential_status(request, public_id):
    """
    The cheap status the "being issued" page polls: one indexed read, no POK call. A learner
    waiting may get an early status check queued (at most one every few seconds per credential),
    and a chain the broker lost re-armed (at most once a minute, across the site).
    """
    credential = PokCertificate.objects.filter(public_id=public_id).first()
    if credential is None:
        return JsonResponse({"error": "not_found"}, status=404)
    liveness.rearm_overdue()
    if status.learner_is_waiting(credential) and queueing.is_eager():
        credential.refresh_from_db()  # the early check ran inside this request
    return JsonResponse({"state": lifecycle.public_state(credential)})


@require_GET
def credential_image(request, public_id):
    """Download of an emitted credential's image: a redirect to POK's image location, never a POK call."""
    credential = PokCertificate.objects.filter(public_id=public_id).first()
    image_url = descriptions.downloadable_image_url(credential) if credential is not None else ""
    if not image_url:
        raise Http404("No image for this credential.")
    return HttpResponseRedirect(image_url)


@require_GET
@never_cache
def my_credentials(request):
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication_required"}, status=401)
    credentials = PokCertificate.objects.filter(user=request.user).order_by("-created")
    return JsonResponse({"credentials": [descriptions.describe_for_learner(item) for item in credentials]})


@require_GET
@never_cache
def staff_credential_lookup(request):
    """``?username=`` and/or ``?course_id=``: global staff: anyone; course staff: their course."""
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": "authentication_required"}, status=401)
    username = request.GET.get("username", "").strip()
    course_id = request.GET.get("course_id", "").strip()
    course_key = None
    if course_id:
        try:
            course_key = CourseKey.from_string(course_id)
        except InvalidKeyError:
            return JsonResponse({"error": "invalid_course_id"}, status=400)
    if not username and course_key is None:
        return JsonResponse({"error": "username_or_course_id_required"}, status=400)
    global_staff = bool(user.is_staff)
    if not global_staff and (course_key is None or not platform_adapter.is_course_staff(user, course_key)):
        return JsonResponse({"error": "forbidden"}, status=403)
    credentials = PokCertificate.objects.select_related("user").order_by("course_key", "user__username")
    if username:
        learner = get_user_model().objects.filter(username=username).first()
        if learner is None:
            return JsonResponse({"error": "unknown_username"}, status=404)
        credentials = credentials.filter(user=learner)
    if course_key is not None:
        # MySQL-family collations compare case-insensitively: check each row's key exactly too.
        credentials = credentials.filter(course_key=course_key).iterator(chunk_size=LOOKUP_LIMIT)
        credentials = (item for item in credentials if str(item.course_key) == str(course_key))
    found = islice(credentials, LOOKUP_LIMIT)
    return JsonResponse({"credentials": [descriptions.describe_for_staff(item) for item in found]})
