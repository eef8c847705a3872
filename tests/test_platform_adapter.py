"""
The platform adapter turns what Open edX hands the plugin into plain data: here the render step's
context, in the shapes the releases give it (the rest of the adapter runs against the stand-ins
in every other test).
"""

from types import SimpleNamespace

from django.utils.translation import gettext_lazy
from opaque_keys.edx.keys import CourseKey

from openedx_pok.platform_adapter import RenderContext, read_render_context

COURSE_ID = "course-v1:ExampleX+PY101+2026"


def test_master_names_the_owner_by_the_certificate_in_the_context():
    page = read_render_context(
        {"course_id": COURSE_ID, "user_certificate": SimpleNamespace(user_id=7), "accomplishment_user_id": 8}
    )

    assert (page.course_key, page.owner_id) == (CourseKey.from_string(COURSE_ID), 7)


def test_older_releases_name_the_owner_by_the_user_keys():
    assert read_render_context({"course_id": COURSE_ID, "accomplishment_user_id": "8"}).owner_id == 8
    by_name = read_render_context({"course_id": COURSE_ID, "accomplishment_copy_username": "ana"})
    assert (by_name.owner_id, by_name.owner_username) == (None, "ana")
    assert read_render_context({"course_id": COURSE_ID, "username": "bo"}).owner_username == "bo"


def test_a_malformed_course_or_owner_reads_as_absent():
    page = read_render_context({"course_id": "not a course", "accomplishment_user_id": "seven"})

    assert (page.course_key, page.owner_id) == (None, None)
    assert read_render_context({}).course_key is None


def test_the_platforms_words_and_branding_are_read_with_their_fallbacks(settings):
    settings.PLATFORM_NAME = "Test Academy"
    page = read_render_context(
        {
            "course_id": COURSE_ID,
            "user_language": "es",
            "accomplishment_copy_name": "Ana García",
            "accomplishment_copy_course_name": gettext_lazy("Python"),
            "organization_short_name": "ExampleX",
            "certificate_date_issued": "March 7, 2026",
            "share_url": "https://lms.example.com/certificates/abc",
            "logo_src": "/static/logo.png",
            "logo_url": ["not", "text"],
        }
    )

    assert page == RenderContext(
        course_key=CourseKey.from_string(COURSE_ID),
        viewer_language="es",
        learner_name="Ana García",
        course_title="Python",
        organization="ExampleX",
        issued_on_text="March 7, 2026",
        share_url="https://lms.example.com/certificates/abc",
        platform_name="Test Academy",
        document_title="",
        logo_src="/static/logo.png",
        logo_url="",
    )
    long_name = read_render_context(
        {"organization_long_name": "Example University", "platform_name": "Academy"}
    )
    assert (long_name.organization, long_name.platform_name, long_name.document_title) == (
        "Example University",
        "Academy",
        "Academy",
    )
