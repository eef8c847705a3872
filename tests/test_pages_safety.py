"""
Learner data and POK's answers are untrusted on every page: names are escaped, and URLs from POK
reach ``href``, ``src`` or a redirect only when they are https on POK's hosts.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from openedx_pok.models import CertificateTemplate

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def hostile_course(make_course, enable_pok_for_course):
    """A course whose title and organisation are as hostile as a learner's name."""
    certificates = {
        "certificates": [
            {"id": 1, "is_active": True, "course_title": f"Python {SCRIPT}", "signatories": []},
        ]
    }
    course_key = make_course(
        display_name=f"Python {SCRIPT}", certificates=certificates, organization_name=f"Org {SCRIPT}"
    )
    enable_pok_for_course(course_key)
    return course_key


@pytest.fixture
def hostile_certificate(make_learner, hostile_course, make_platform_certificate):
    learner = make_learner(username="mallory", profile_name=SCRIPT)
    return make_platform_certificate(learner, hostile_course)


def assert_escaped(response):
    page = response.content.decode()
    assert SCRIPT not in page
    assert ESCAPED in page


@pytest.mark.parametrize(
    ("state", "next_attempt_in"),
    [("emitted", None), ("processing", None), ("failed", None), ("failed", timedelta(hours=1))],
    ids=["emitted", "processing", "failed", "failed with a retry scheduled"],
)
def test_learner_name_is_escaped_on_every_learner_page(
    client, fake_pok, hostile_certificate, make_credential, state, next_attempt_in
):
    make_credential(
        hostile_certificate.user,
        hostile_certificate.course_id,
        state=state,
        next_attempt_at=timezone.now() + next_attempt_in if next_attempt_in else None,
        receiver_name=SCRIPT,
        title=f"Python {SCRIPT}",
        emitter=f"Org {SCRIPT}",
    )

    for viewer in (None, hostile_certificate.user):
        if viewer is not None:
            client.force_login(viewer)
        assert_escaped(client.get(f"/certificates/{hostile_certificate.verify_uuid}"))


def test_learner_name_falls_back_to_the_platforms_escaped(
    client, fake_pok, hostile_certificate, make_credential
):
    """A retired receiver name is blank: the page uses the platform's name for the learner, escaped too."""
    make_credential(
        hostile_certificate.user, hostile_certificate.course_id, state="processing", receiver_name=""
    )

    assert_escaped(client.get(f"/certificates/{hostile_certificate.verify_uuid}"))


def test_preview_pages_escape_course_data(client, fake_pok, hostile_course, make_learner):
    client.force_login(make_learner(username="admin", is_staff=True, profile_name=SCRIPT))

    assert_escaped(client.get(f"/certificates/course/{hostile_course}", {"preview": "verified"}))
    CertificateTemplate.objects.create(course_key=hostile_course, template_id=SCRIPT)
    error_page = client.get(f"/certificates/course/{hostile_course}", {"preview": "honor"})
    assert error_page.status_code == 502
    assert_escaped(error_page)


@pytest.mark.parametrize(
    "hostile_url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://view.pok.tech/c/1",
        "https://view.pok.tech.attacker.example/c/1",
        "https://attacker.example/?pok.tech",
        "https://user@view.pok.tech/c/1",
        "//view.pok.tech/c/1",
    ],
)
def test_a_view_url_from_pok_that_is_not_https_on_poks_hosts_is_refused(
    client, fake_pok, certified, make_credential, settings, hostile_url
):
    make_credential(certified.user, certified.course_id, view_url=hostile_url)

    page = client.get(f"/certificates/{certified.verify_uuid}").content.decode()
    settings.POK_REDIRECT_TO_VIEW_URL = True
    redirected = client.get(f"/certificates/{certified.verify_uuid}")

    assert "View and verify on POK" not in page
    assert hostile_url not in page
    assert "javascript:" not in page.lower()
    assert f"certUrl=http%3A%2F%2Ftestserver%2Fcertificates%2F{certified.verify_uuid}" in page
    assert redirected.status_code == 200
    assert "Location" not in redirected


def test_an_image_url_from_pok_outside_its_hosts_is_not_shown(client, fake_pok, certified, make_credential):
    credential = make_credential(certified.user, certified.course_id, image_url="javascript:alert(1)")

    page = client.get(f"/certificates/{certified.verify_uuid}").content.decode()

    assert "javascript:" not in page
    assert '<img class="credential-image"' not in page
    assert f"/pok/credentials/{credential.public_id}/image" not in page
