"""
The render step through the platform's certificate page: the stand-in of ``render_html_view`` runs
the real ``CertificateRenderStarted`` pipeline (loaded from the plugin's settings) with Django's
test client, for every credential state. No state may cost a POK request.
"""

import logging
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import crum
import pytest
from django.test import RequestFactory
from django.utils import timezone
from openedx_filters.learning.filters import CertificateRenderStarted

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.pages import frame, learner_pages

STANDARD_PAGE = "Standard Open edX certificate"
NO_LONGER_VALID = "This certificate is no longer valid"
IN_FLIGHT = ["pending", "requesting", "retrying", "processing", "outcome_unknown"]


def certificate_page(client, certificate, **extra):
    return client.get(f"/certificates/{certificate.verify_uuid}", **extra)


def total_calls(server):
    return sum(server.calls.values())


def test_emitted_credential_shows_the_pok_certificate_page(client, fake_pok, certified, make_credential):
    credential = make_credential(certified.user, certified.course_id)

    response = certificate_page(client, certified)

    assert response.status_code == 200
    page = response.content.decode()
    assert STANDARD_PAGE not in page
    assert f'src="{credential.image_url}"' in page
    assert 'alt="Certificate of Ana García for Introduction to Python"' in page
    assert "Example University" in page
    assert f'href="{credential.view_url}"' in page
    assert f'href="/pok/credentials/{credential.public_id}/image"' in page
    assert f'value="http://testserver/certificates/{certified.verify_uuid}"' in page
    for landmark in ("<header", "<main", "<footer"):
        assert landmark in page
    assert total_calls(fake_pok) == 0


def test_linkedin_link_uses_linkedins_add_to_profile_parameters(client, fake_pok, certified, make_credential):
    credential = make_credential(certified.user, certified.course_id)

    page = certificate_page(client, certified).content.decode()

    start = page.index("https://www.linkedin.com/profile/add?")
    link = page[start : page.index('"', start)].replace("&amp;", "&")
    parameters = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert parameters == {
        "startTask": "CERTIFICATION_NAME",
        "name": "Introduction to Python",
        "organizationName": "Example University",
        "issueYear": str(credential.emission_date.year),
        "issueMonth": str(credential.emission_date.month),
        "certUrl": credential.view_url,
        "certId": credential.pok_credential_id,
    }


def test_linkedin_organization_id_replaces_the_name_when_configured(
    client, fake_pok, certified, make_credential, settings
):
    settings.POK_LINKEDIN_ORGANIZATION_ID = "1337"
    make_credential(certified.user, certified.course_id)

    page = certificate_page(client, certified).content.decode()

    assert "organizationId=1337" in page
    assert "organizationName=" not in page


def test_emitted_credential_redirects_to_pok_when_configured(
    client, fake_pok, certified, make_credential, settings
):
    settings.POK_REDIRECT_TO_VIEW_URL = True
    credential = make_credential(certified.user, certified.course_id)

    response = certificate_page(client, certified)

    assert response.status_code == 302
    assert response["Location"] == credential.view_url
    assert total_calls(fake_pok) == 0


@pytest.mark.parametrize("state", IN_FLIGHT)
def test_credential_in_flight_shows_the_being_issued_page(
    client, fake_pok, certified, make_credential, state
):
    credential = make_credential(
        certified.user, certified.course_id, state=state, last_error="PokUnavailable: POK said 503"
    )

    response = certificate_page(client, certified)

    assert response.status_code == 200
    page = response.content.decode()
    assert "This certificate is being issued" in page
    assert f'data-status-url="/pok/credentials/{credential.public_id}/status"' in page
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "no-store" in response["Cache-Control"]
    assert "PokUnavailable" not in page
    assert "POK said" not in page
    assert total_calls(fake_pok) == 0


def test_each_public_state_of_the_lifecycle_has_its_page():
    assert set(learner_pages.PAGES) == set(lifecycle.PUBLIC_STATES.values())


def test_a_state_this_version_does_not_know_shows_what_its_status_says(
    client, fake_pok, certified, make_credential
):
    """One mapping: the page and the status endpoint both read an unknown state as still being issued."""
    credential = make_credential(certified.user, certified.course_id, state="processing")
    PokCertificate.objects.filter(pk=credential.pk).update(state="a_state_from_a_newer_version")

    page = certificate_page(client, certified).content.decode()

    assert "This certificate is being issued" in page
    assert client.get(f"/pok/credentials/{credential.public_id}/status").json() == {"state": "issuing"}


def test_the_learner_reads_that_their_own_certificate_is_being_issued(
    client, fake_pok, certified, make_credential
):
    make_credential(certified.user, certified.course_id, state="processing")
    client.force_login(certified.user)

    page = certificate_page(client, certified).content.decode()

    assert "Your certificate is being issued" in page


def test_failed_credential_with_a_retry_scheduled_says_we_keep_trying(
    client, fake_pok, certified, make_credential, settings
):
    settings.POK_SUPPORT_URL = "https://support.example.com/certificates"
    make_credential(
        certified.user,
        certified.course_id,
        state="failed",
        last_error="PokServerError 503: upstream unavailable",
        attempts=8,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )

    response = certificate_page(client, certified)

    assert response.status_code == 200
    page = response.content.decode()
    assert "This certificate is delayed" in page
    assert "nothing is lost. We will keep trying" in page
    assert "needs attention" not in page
    assert 'href="https://support.example.com/certificates"' in page
    # "503:" as the error says it: a bare "503" also turns up in the random ids of the page's links.
    for internal in ("503:", "upstream unavailable", "PokServerError", "Traceback", "attempt"):
        assert internal not in page
    assert total_calls(fake_pok) == 0


def test_failed_credential_nothing_retries_asks_for_support_without_promising_a_retry(
    client, fake_pok, certified, make_credential, settings
):
    """A definite refusal or an exhausted round has no next attempt: the page must not say we keep trying."""
    settings.POK_SUPPORT_URL = "https://support.example.com/certificates"
    make_credential(
        certified.user,
        certified.course_id,
        state="failed",
        last_error="PokValidationError 422: customParameters.grade is required",
        attempts=8,
        next_attempt_at=None,
    )

    response = certificate_page(client, certified)

    page = response.content.decode()
    assert "This certificate is delayed" in page
    assert "nothing is lost, but issuing it needs attention from the course's support team" in page
    assert "keep trying" not in page
    assert "couple of days" not in page
    assert '<a href="https://support.example.com/certificates">Contact support</a>' in page
    for internal in ("422:", "customParameters", "PokValidationError", "Traceback", "attempt"):
        assert internal not in page
    assert total_calls(fake_pok) == 0


def test_failed_page_without_a_support_link_sends_to_the_course_team(
    client, fake_pok, certified, make_credential, settings
):
    settings.POK_SUPPORT_URL = ""
    settings.SUPPORT_SITE_LINK = ""
    settings.CONTACT_EMAIL = ""
    make_credential(certified.user, certified.course_id, state="failed", next_attempt_at=None)

    page = certificate_page(client, certified).content.decode()

    assert "Contact the course team so they can look into it." in page
    assert "<a href" not in page.split("panel notice", 1)[1]


def test_failed_page_falls_back_to_the_platforms_support_link(
    client, fake_pok, certified, make_credential, settings
):
    settings.SUPPORT_SITE_LINK = "https://help.example.com/"
    make_credential(certified.user, certified.course_id, state="failed")

    page = certificate_page(client, certified).content.decode()

    assert 'href="https://help.example.com/"' in page


def test_delayed_page_refreshes_itself_from_the_status_endpoint(client, fake_pok, certified, make_credential):
    credential = make_credential(certified.user, certified.course_id, state="failed", next_attempt_at=None)

    page = certificate_page(client, certified).content.decode()

    assert f'data-status-url="/pok/credentials/{credential.public_id}/status"' in page
    assert 'data-shown-state="delayed"' in page
    assert '<meta http-equiv="refresh" content="120">' in page
    assert client.get(f"/pok/credentials/{credential.public_id}/status").json() == {"state": "delayed"}


@pytest.mark.parametrize("state", ["pending", "processing", "failed", "revoked"])
def test_pages_of_credentials_not_issued_never_say_a_credential_was_issued(
    client, fake_pok, certified, make_credential, state
):
    make_credential(certified.user, certified.course_id, state=state)

    page = certificate_page(client, certified).content.decode()

    assert "as a POK digital credential" not in page
    assert "Certificate issued by" not in page


def test_emitted_page_says_who_issued_it(client, fake_pok, certified, make_credential):
    make_credential(certified.user, certified.course_id)

    page = certificate_page(client, certified).content.decode()

    assert "Certificate issued by Test Academy as a POK digital credential." in page


def test_credential_revoked_here_shows_a_calm_no_longer_valid_page(
    client, fake_pok, certified, make_credential, settings
):
    """Revoked in the admin or in POK while the platform's certificate is still downloadable."""
    settings.POK_SUPPORT_URL = "https://support.example.com/"
    make_credential(certified.user, certified.course_id, state="revoked", last_error="plagiarism")

    response = certificate_page(client, certified)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert NO_LONGER_VALID in page
    assert "<bdi>Introduction to Python</bdi>" in page
    assert "<bdi>Example University</bdi>" in page
    assert "Ana García" not in page  # a revocation is not announced under the learner's name
    assert "plagiarism" not in page
    assert "View and verify on POK" not in page
    assert '<meta name="robots" content="noindex">' in page
    assert 'href="https://support.example.com/"' in page
    assert total_calls(fake_pok) == 0


def test_the_learner_reads_that_their_own_certificate_is_no_longer_valid(
    client, fake_pok, certified, make_credential
):
    make_credential(certified.user, certified.course_id, state="revoked")
    client.force_login(certified.user)

    page = certificate_page(client, certified).content.decode()

    assert "Your certificate is no longer valid" in page
    assert "If you think this is a mistake" in page


def test_a_certificate_revoked_in_open_edx_is_a_404_before_the_render_step_runs(
    client, fake_pok, certified, make_credential
):
    """The platform's web view serves only downloadable certificates: the plugin never sees this one."""
    make_credential(certified.user, certified.course_id, state="revoked")
    certified.status = "unavailable"
    certified.save()

    response = certificate_page(client, certified)

    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page  # LMS's own 404 page, in the platform's theme
    assert NO_LONGER_VALID not in page


def test_no_credential_lets_the_standard_certificate_render(client, fake_pok, certified):
    response = certificate_page(client, certified)

    assert response.status_code == 200
    assert STANDARD_PAGE in response.content.decode()
    assert not PokCertificate.objects.exists()
    assert total_calls(fake_pok) == 0


def test_pok_switched_off_for_the_course_lets_the_standard_certificate_render(
    client, fake_pok, learner, make_course, make_platform_certificate, make_credential
):
    course_key = make_course()
    certificate = make_platform_certificate(learner, course_key)
    make_credential(learner, course_key)

    response = certificate_page(client, certificate)

    assert STANDARD_PAGE in response.content.decode()
    assert total_calls(fake_pok) == 0


def test_existing_certificate_gets_a_credential_requested_when_configured(
    client, fake_pok, certified, settings, queued_tasks
):
    settings.POK_ISSUE_FOR_EXISTING_CERTIFICATES = True

    response = certificate_page(client, certified)

    assert STANDARD_PAGE in response.content.decode()
    credential = PokCertificate.objects.get(user=certified.user, course_key=certified.course_id)
    assert credential.state == CredentialState.PENDING
    assert credential.mode == "verified"
    assert credential.grade_percent == Decimal("88.00")
    assert total_calls(fake_pok) == 0


def test_existing_certificates_are_left_alone_by_default(client, fake_pok, certified, queued_tasks):
    certificate_page(client, certified)

    assert not PokCertificate.objects.exists()
    assert queued_tasks.sent == []


def test_expired_image_is_refreshed_in_the_background_and_the_page_still_renders(
    client, fake_pok, certified, make_credential, queued_tasks
):
    credential = make_credential(
        certified.user, certified.course_id, image_url_expires_at=timezone.now() - timedelta(minutes=1)
    )

    first = certificate_page(client, certified)
    second = certificate_page(client, certified)

    for response in (first, second):
        assert f'src="{credential.image_url}"' in response.content.decode()
    assert queued_tasks.names == ["openedx_pok.tasks.refresh_credential_image"]
    assert queued_tasks.sent[0][1] == (credential.pk,)
    assert total_calls(fake_pok) == 0


def test_emitted_credential_without_an_image_yet_says_it_is_being_prepared(
    client, fake_pok, certified, make_credential, queued_tasks
):
    credential = make_credential(certified.user, certified.course_id, image_url="", image_url_expires_at=None)

    page = certificate_page(client, certified).content.decode()

    assert "The certificate image is being prepared" in page
    assert f"/pok/credentials/{credential.public_id}/image" not in page
    assert queued_tasks.names == ["openedx_pok.tasks.refresh_credential_image"]


def test_an_unexpected_error_lets_the_standard_page_render_and_is_logged(
    client, fake_pok, certified, make_credential, monkeypatch, caplog
):
    make_credential(certified.user, certified.course_id)

    def broken_template(*args, **kwargs):
        raise RuntimeError("template engine exploded")

    monkeypatch.setattr(frame, "render_to_string", broken_template)
    with caplog.at_level(logging.ERROR):
        response = certificate_page(client, certified)

    assert response.status_code == 200
    assert STANDARD_PAGE in response.content.decode()
    assert "template engine exploded" in caplog.text


def test_learner_viewing_their_certificate_by_course_gets_the_same_decision(
    client, fake_pok, certified, make_credential
):
    make_credential(certified.user, certified.course_id, state="processing")
    client.force_login(certified.user)

    response = client.get(f"/certificates/course/{certified.course_id}")

    assert "Your certificate is being issued" in response.content.decode()


def test_release_without_user_certificate_in_the_context_finds_the_row_by_user_id(
    fake_pok, certified, make_credential
):
    """Sumac and Teak do not put the GeneratedCertificate in the context: the user keys are enough."""
    make_credential(certified.user, certified.course_id, state="pending")
    request = RequestFactory().get(f"/certificates/{certified.verify_uuid}")
    request.user = certified.user
    context = {
        "user_language": "en",
        "platform_name": "Test Academy",
        "course_id": str(certified.course_id),
        "document_title": "Certificate",
        "username": certified.user.username,
        "accomplishment_user_id": certified.user.id,
        "accomplishment_copy_name": "Ana García",
        "accomplishment_copy_course_name": "Introduction to Python",
        "share_url": f"http://testserver/certificates/{certified.verify_uuid}",
    }
    crum.set_current_request(request)
    try:
        with pytest.raises(CertificateRenderStarted.RenderCustomResponse) as raised:
            CertificateRenderStarted.run_filter(context=context, custom_template=None)
    finally:
        crum.set_current_request(None)

    assert "Your certificate is being issued" in raised.value.response.content.decode()
    assert total_calls(fake_pok) == 0
