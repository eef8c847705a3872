"""The real openedx-filters pipelines reach our steps, and nothing of ours can break the platform."""

import pytest
from openedx_filters.learning.filters import CertificateCreationRequested, CertificateRenderStarted

from openedx_pok.services.issuing import creation
from openedx_pok.services.pages import rendering


@pytest.fixture
def failing_services(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("a bug in the plugin")

    monkeypatch.setattr(creation, "record_certificate_request", explode)
    monkeypatch.setattr(rendering, "render_certificate_page", explode)


@pytest.fixture
def recorded_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(
        creation, "record_certificate_request", lambda **kwargs: calls.append(("creation", kwargs))
    )
    monkeypatch.setattr(
        rendering, "render_certificate_page", lambda context: calls.append(("render", context))
    )
    return calls


def test_creation_filter_reaches_our_step_and_returns_the_platform_arguments(
    recorded_calls, learner, course_key, course_grade
):
    grade = course_grade()
    result = CertificateCreationRequested.run_filter(
        user=learner,
        course_key=course_key,
        mode="verified",
        status=None,
        grade=grade,
        generation_mode="batch",
    )
    assert result == (learner, course_key, "verified", None, grade, "batch")
    assert recorded_calls == [
        (
            "creation",
            {
                "user": learner,
                "course_key": course_key,
                "mode": "verified",
                "status": None,
                "course_grade": grade,
                "generation_mode": "batch",
            },
        )
    ]


def test_render_filter_reaches_our_step_and_returns_the_platform_arguments(recorded_calls):
    context = {"course_id": "course-v1:ExampleX+PY1+2026", "username": "ana"}
    custom_template = object()
    result = CertificateRenderStarted.run_filter(context=context, custom_template=custom_template)
    assert result == (context, custom_template)
    assert recorded_calls == [("render", context)]


@pytest.mark.parametrize("fail_silently", [True, False])
def test_a_bug_in_our_steps_never_breaks_the_platform(
    failing_services, settings, fail_silently, learner, course_key, caplog
):
    """Even with fail_silently off (an operator's choice for the other steps), our errors stay ours."""
    for filter_config in settings.OPEN_EDX_FILTERS_CONFIG.values():
        filter_config["fail_silently"] = fail_silently

    created = CertificateCreationRequested.run_filter(
        user=learner, course_key=course_key, mode="honor", status=None, grade=None, generation_mode=None
    )
    rendered = CertificateRenderStarted.run_filter(
        context={"course_id": str(course_key)}, custom_template=None
    )

    assert created == (learner, course_key, "honor", None, None, None)
    assert rendered == ({"course_id": str(course_key)}, None)
    assert "POK creation step failed" in caplog.text
    assert "POK render step failed" in caplog.text


def test_render_exceptions_reach_the_platform(monkeypatch):
    """The render exceptions are how the step replaces the page: the guard must let them through."""

    def redirect(context):
        raise CertificateRenderStarted.RedirectToPage("to POK", redirect_to="https://view.pok.tech/c/1")

    monkeypatch.setattr(rendering, "render_certificate_page", redirect)
    with pytest.raises(CertificateRenderStarted.RedirectToPage):
        CertificateRenderStarted.run_filter(context={}, custom_template=None)
