"""
The demo's control panel. Each button does what the platform would do (a learner passes, a
certificate is revoked) or what the world would do (POK goes down); nothing here talks to the
plugin's internals except to display them.
"""

from collections import Counter
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from demo import platform_actions, runtime, seed
from openedx_pok.models import PokCertificate
from openedx_pok.services.templates.template_choice import NoTemplateConfigured, choose_template

AUTO_REFRESH_SECONDS = 4


@dataclass
class Cell:
    course: object
    certificate: object
    credential: object

    @property
    def has_certificate(self) -> bool:
        return self.certificate is not None and self.certificate.status == "downloadable"


def home(request):
    from lms.djangoapps.certificates.models import GeneratedCertificate
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

    courses = list(CourseOverview.objects.order_by("id"))
    learners = list(get_user_model().objects.filter(is_staff=False).select_related("profile").order_by("pk"))
    certificates = {(row.user_id, str(row.course_id)): row for row in GeneratedCertificate.objects.all()}
    credentials = {(row.user_id, str(row.course_key)): row for row in PokCertificate.objects.all()}
    rows = [
        {
            "learner": learner,
            "name": platform_actions.profile_name(learner),
            "cells": [
                Cell(
                    course=course,
                    certificate=certificates.get((learner.pk, str(course.id))),
                    credential=credentials.get((learner.pk, str(course.id))),
                )
                for course in courses
            ],
        }
        for learner in learners
    ]
    paused = "pause" in request.GET
    return render(
        request,
        "demo/home.html",
        {
            "courses": [_course_summary(course) for course in courses],
            "rows": rows,
            "pok": _fake_pok_summary(),
            "learners": learners,
            "staff_username": seed.STAFF_USERNAME,
            "staff_password": seed.STAFF_PASSWORD,
            "learner_password": seed.LEARNER_PASSWORD,
            "auto_refresh_seconds": None if paused else AUTO_REFRESH_SECONDS,
            "paused": paused,
        },
    )


def _course_summary(course) -> dict:
    course_key = course.id
    try:
        choice = choose_template(course_key, platform_actions.ENROLLMENT_MODE)
    except NoTemplateConfigured:
        template = "none configured"
    else:
        scope = {
            "course": "course template",
            "organization": f"template of organisation {course_key.org}",
        }.get(
            choice.scope,
            "default, POK_TEMPLATE_ID" if choice.account == "default" else "default template",
        )
        template = f"{choice.template_id} ({scope}; POK account {choice.account})"
    return {
        "id": str(course_key),
        "display_name": course.display_name,
        "org": course_key.org,
        "template": template,
        "preview_url": f"/certificates/course/{course_key}?preview={platform_actions.ENROLLMENT_MODE}",
    }


def _fake_pok_summary() -> dict | None:
    fake_pok = runtime.fake_pok
    if fake_pok is None:
        return None
    states = Counter(credential["state"] for credential in fake_pok.credentials.values())
    return {
        "url": fake_pok.url,
        "outage": fake_pok.outage,
        "emit_after": fake_pok.emit_after,
        "credits": fake_pok.credits,
        "calls": sorted(fake_pok.calls.items()),
        "states": sorted(states.items()),
    }


def _learner_and_course(request):
    learner = get_object_or_404(get_user_model(), username=request.POST.get("username", ""), is_staff=False)
    try:
        course_key = CourseKey.from_string(request.POST.get("course_id", ""))
    except InvalidKeyError as error:
        raise Http404("Unknown course.") from error
    return learner, course_key


@require_POST
def pass_course(request):
    from lms.djangoapps.certificates.generation_handler import CertificateGenerationNotAllowed

    learner, course_key = _learner_and_course(request)
    course = _known_course(course_key)
    try:
        platform_actions.pass_course(learner, course_key, course.grade_percent)
    except CertificateGenerationNotAllowed as refusal:
        # A filter step prevented the certificate; the platform shows the learner its message.
        messages.error(request, str(refusal))
        return redirect("demo:home")
    messages.success(
        request,
        f"{platform_actions.profile_name(learner)} passed {course.display_name}: the platform requested "
        "the certificate and the POK credential is on its way.",
    )
    return redirect("demo:home")


@require_POST
def revoke(request):
    learner, course_key = _learner_and_course(request)
    course = _known_course(course_key)
    if platform_actions.revoke_certificate(learner, course_key):
        messages.success(
            request,
            f"The certificate of {platform_actions.profile_name(learner)} in {course.display_name} "
            "was invalidated (CERTIFICATE_REVOKED sent).",
        )
    else:
        messages.info(request, "There was no valid certificate to revoke.")
    return redirect("demo:home")


def _known_course(course_key):
    try:
        return seed.course_seed(course_key)
    except StopIteration as error:
        raise Http404("Unknown course.") from error


@require_POST
def switch_outage(request):
    fake_pok = runtime.fake_pok
    if fake_pok is None:
        raise Http404("The fake POK server is not running in this process.")
    fake_pok.outage = request.POST.get("outage") == "on"
    if fake_pok.outage:
        messages.warning(request, "POK is down: every call now answers 503. Pass a learner and watch.")
    else:
        messages.success(request, "POK is back: waiting credentials catch up within seconds.")
    return redirect("demo:home")


@require_POST
def sign_in_as(request):
    """Demo only: sign in as a seeded user without a password, to see what they see."""
    user = get_object_or_404(get_user_model(), username=request.POST.get("username", ""))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.info(request, f"Signed in as {user.username}.")
    return redirect("demo:home")
