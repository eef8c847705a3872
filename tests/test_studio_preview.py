"""
Studio's certificate preview (``/certificates/course/<id>?preview=<mode>``) through the platform's
view stand-in and the real render pipeline: course staff see POK's rendering of the course's
template, anyone else the platform's error page, and a POK problem becomes a page the course team
can act on.
"""

import crum
import pytest
from django.test import RequestFactory
from openedx_filters.learning.filters import CertificateRenderStarted

from openedx_pok.models import CertificateTemplate

STANDARD_PAGE = "Standard Open edX certificate"
SERVER_ERROR_PAGE = "Certificate server error (platform template stand-in)"


@pytest.fixture
def course_staff(make_learner, pok_course):
    from common.djangoapps.student.roles import CourseStaffRole

    user = make_learner(username="teacher", profile_name="Teacher")
    CourseStaffRole(pok_course).add_users(user)
    return user


def preview(client, course_key, mode="verified", **extra):
    return client.get(f"/certificates/course/{course_key}", {"preview": mode}, **extra)


def test_course_staff_see_poks_preview_of_the_course_template(client, fake_pok, pok_course, course_staff):
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="{fake_pok.url}images/preview/default-template/' in page
    assert "Introduction to Python" in page
    assert "Example University" in page
    assert fake_pok.calls["POST template preview"] == 1
    [body] = fake_pok.bodies("POST template preview")
    assert body["customization"]["template"]["id"] == "default-template"
    assert body["credential"]["title"] == "Introduction to Python"
    assert body["credential"]["emitter"] == "Example University"
    assert body["receiver"]["languageTag"] == "en-US"
    assert set(body["receiver"]) == {"languageTag", "firstName", "lastName"}


def test_preview_is_cached_per_course_mode_and_language(client, fake_pok, pok_course, course_staff):
    client.force_login(course_staff)

    first = preview(client, pok_course).content.decode()
    again = preview(client, pok_course).content.decode()
    preview(client, pok_course, mode="honor")
    preview(client, pok_course, HTTP_ACCEPT_LANGUAGE="es")

    assert fake_pok.calls["POST template preview"] == 3
    assert first == again


def test_template_parameters_get_course_values_and_placeholders_for_learner_values(
    client, fake_pok, pok_course, course_staff
):
    fake_pok.add_template(
        "diploma", name="Diploma", parameters=[("course_title", "Course"), ("grade", "Grade")]
    )
    CertificateTemplate.objects.create(course_key=pok_course, template_id="diploma")
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert response.status_code == 200
    [body] = fake_pok.bodies("POST template preview")
    assert body["customization"]["template"] == {
        "id": "diploma",
        "customParameters": {"course_title": "Introduction to Python", "grade": "[Grade]"},
    }


def test_global_staff_see_the_preview_too(client, fake_pok, pok_course, make_learner):
    client.force_login(make_learner(username="admin", is_staff=True))

    response = preview(client, pok_course)

    assert f"{fake_pok.url}images/preview/" in response.content.decode()


@pytest.mark.parametrize("role_name", ["OrgStaffRole", "OrgInstructorRole"])
def test_staff_and_instructors_of_the_courses_org_see_poks_preview(
    client, fake_pok, pok_course, make_learner, role_name
):
    from common.djangoapps.student import roles

    member = make_learner(username="org-member")
    getattr(roles, role_name)(pok_course.org).add_users(member)
    client.force_login(member)

    response = preview(client, pok_course)

    assert f"{fake_pok.url}images/preview/" in response.content.decode()
    assert fake_pok.calls["POST template preview"] == 1


def test_staff_of_another_org_cannot_preview(client, fake_pok, pok_course, make_learner):
    from common.djangoapps.student.roles import OrgStaffRole

    outsider = make_learner(username="outsider")
    OrgStaffRole("OtherX").add_users(outsider)
    client.force_login(outsider)

    assert SERVER_ERROR_PAGE in preview(client, pok_course).content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_a_learner_asking_for_the_preview_gets_the_platforms_error_page_and_pok_is_not_asked(
    client, fake_pok, pok_course, learner
):
    """The platform lets only holders of PREVIEW_CERTIFICATES build a preview: the render step never runs."""
    client.force_login(learner)

    response = preview(client, pok_course)

    page = response.content.decode()
    assert SERVER_ERROR_PAGE in page
    assert STANDARD_PAGE not in page
    assert sum(fake_pok.calls.values()) == 0


def test_staff_of_another_course_cannot_preview(client, fake_pok, pok_course, make_course, make_learner):
    from common.djangoapps.student.roles import CourseStaffRole

    teacher = make_learner(username="other-teacher")
    CourseStaffRole(make_course()).add_users(teacher)
    client.force_login(teacher)

    assert SERVER_ERROR_PAGE in preview(client, pok_course).content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_render_step_shows_a_non_staff_preview_request_nothing_of_pok(fake_pok, pok_course, learner):
    """Defence in depth: were a release to run the filter for a learner's preview, POK is not asked."""
    request = RequestFactory().get(f"/certificates/course/{pok_course}", {"preview": "verified"})
    request.user = learner
    context = {
        "user_language": "en",
        "platform_name": "Test Academy",
        "course_id": str(pok_course),
        "username": learner.username,
        "accomplishment_user_id": learner.id,
    }
    crum.set_current_request(request)
    try:
        result = CertificateRenderStarted.run_filter(context=context, custom_template=None)
    finally:
        crum.set_current_request(None)

    assert result == (context, None)
    assert sum(fake_pok.calls.values()) == 0


def test_preview_when_pok_is_off_for_the_course_is_the_standard_one(
    client, fake_pok, make_course, make_learner
):
    client.force_login(make_learner(username="admin", is_staff=True))

    response = preview(client, make_course())

    assert STANDARD_PAGE in response.content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_rejected_api_key_gives_an_actionable_page(client, fake_pok, pok_course, course_staff, settings):
    settings.POK_API_KEY = "revoked-key"
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert response.status_code == 502
    page = response.content.decode()
    assert "POK rejected the API key." in page
    assert "POK_API_KEY" in page
    assert "revoked-key" not in page


def test_unknown_template_gives_an_actionable_page(client, fake_pok, pok_course, course_staff):
    CertificateTemplate.objects.create(course_key=pok_course, template_id="gone-template")
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert response.status_code == 502
    page = response.content.decode()
    assert "Template “gone-template” was not found in POK." in page
    assert "POK certificate templates" in page


def test_pok_unavailable_gives_a_try_again_page(client, fake_pok, pok_course, course_staff):
    fake_pok.outage = True
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert response.status_code == 502
    assert "POK is not answering right now." in response.content.decode()


def test_preview_failure_is_not_cached(client, fake_pok, pok_course, course_staff):
    fake_pok.fail_next("POST template preview", status=503)
    client.force_login(course_staff)

    failed = preview(client, pok_course)
    recovered = preview(client, pok_course)

    assert failed.status_code == 502
    assert recovered.status_code == 200
    assert f"{fake_pok.url}images/preview/" in recovered.content.decode()


def test_no_template_anywhere_explains_where_to_choose_one(
    client, fake_pok, pok_course, course_staff, settings
):
    settings.POK_TEMPLATE_ID = ""
    client.force_login(course_staff)

    response = preview(client, pok_course)

    assert "No POK template is configured for this course." in response.content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_a_preview_image_url_outside_poks_hosts_is_refused(
    client, fake_pok, pok_course, course_staff, settings
):
    settings.POK_ALLOW_INSECURE_LOCAL_URLS = False
    client.force_login(course_staff)

    response = preview(client, pok_course)

    page = response.content.decode()
    assert "POK answered with an image address this site does not accept." in page
    assert fake_pok.url not in page
