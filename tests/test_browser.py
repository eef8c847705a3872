"""
Browser lane (``make test BROWSER=1``): Debian's headless Chromium loads the learner pages from a
live server, saves screenshots to ``artifacts/screenshots/`` and watches the "being issued" page
turn into the certificate on its own once the fake POK emits the credential.

Only the Chromium command line is used (``--screenshot``, ``--dump-dom`` with a virtual time
budget): no WebDriver dependency. Studio's preview needs a staff session, which the command line
cannot carry, so its two pages are fetched as staff with Django's client and the browser renders
that exact HTML from a file.
"""

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.signals import request_started
from django.utils import timezone

from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services import status, sweep
from tests.chromium import chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("BROWSER_TESTS") != "1", reason="browser lane: set BROWSER_TESTS=1"),
]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
LOGO = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='180' height='40'>"
    "<rect width='40' height='40' rx='8' fill='%230a58a8'/><text x='50' y='27' font-family='sans-serif' "
    "font-size='18' font-weight='700' fill='%231c2430'>Test Academy</text></svg>"
)


@pytest.fixture
def browser_profile(tmp_path):
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    return profile


def screenshot(browser_profile, url, name, width=1280, height=1000):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.unlink(missing_ok=True)
    chromium(
        browser_profile,
        f"--screenshot={path}",
        f"--window-size={width},{height}",
        "--virtual-time-budget=3000",
        url,
    )
    assert path.is_file(), f"Chromium saved no screenshot of {url}"
    assert path.stat().st_size > 5000
    return path


def dump_dom(browser_profile, url, budget_ms):
    result = chromium(browser_profile, "--dump-dom", f"--virtual-time-budget={budget_ms}", url)
    return result.stdout


@pytest.fixture
def branded(settings):
    settings.LOGO_IMAGE_URL = LOGO


@pytest.fixture
def learner_passes(
    transactional_db,
    fake_pok,
    branded,
    make_learner,
    course_key,
    enable_pok_for_course,
    course_grade,
    queued_tasks,
):
    """A learner passes through the platform's real call site; the issuing task posts to the fake POK."""
    from lms.djangoapps.certificates.generation_handler import _generate_certificate_task

    enable_pok_for_course(course_key)
    fake_pok.emit_after = None

    def pass_course(username="ana", profile_name="Ana García"):
        learner = make_learner(username=username, profile_name=profile_name)
        certificate = _generate_certificate_task(learner, course_key, "verified", course_grade())
        queued_tasks.run()
        return certificate, PokCertificate.objects.get(user=learner, course_key=course_key)

    return pass_course


def emit_and_sync(fake_pok, credential):
    """What happens in the background: POK emits, the status sync stores it and the image location."""
    fake_pok.emit_all()
    PokCertificate.objects.filter(pk=credential.pk).update(next_attempt_at=None)
    sweep.sync_statuses()
    credential.refresh_from_db()
    if not credential.image_url:
        status.refresh_image(credential)


def test_being_issued_page_turns_into_the_certificate_on_its_own(
    live_server, browser_profile, fake_pok, learner_passes
):
    certificate, credential = learner_passes()
    assert credential.state == CredentialState.PROCESSING
    status_path = f"/pok/credentials/{credential.public_id}/status"
    polls = []
    emitted = threading.Event()

    def on_request(sender, environ, **kwargs):
        """POK emits while the page is polling: on its second poll, as a real sync would eventually."""
        if environ.get("PATH_INFO") != status_path:
            return
        polls.append(environ["PATH_INFO"])
        if len(polls) == 2 and not emitted.is_set():
            emit_and_sync(fake_pok, PokCertificate.objects.get(pk=credential.pk))
            emitted.set()

    url = f"{live_server.url}/certificates/{certificate.verify_uuid}"
    before = dump_dom(browser_profile, url, budget_ms=500)
    request_started.connect(on_request)
    try:
        after = dump_dom(browser_profile, url, budget_ms=60_000)
    finally:
        request_started.disconnect(on_request)

    assert "This certificate is being issued" in before
    assert emitted.is_set()
    assert "View and verify on POK" in after
    assert f"{fake_pok.url}images/credential/{credential.pok_credential_id}.png" in after
    assert "This certificate is being issued" not in after


def test_screenshots_of_the_learner_pages(live_server, browser_profile, fake_pok, learner_passes):
    issuing_certificate, _ = learner_passes(username="bruno", profile_name="Bruno Silva")
    certificate, credential = learner_passes()
    emit_and_sync(fake_pok, credential)
    failed_certificate, failed = learner_passes(username="carla", profile_name="Carla Souza")
    PokCertificate.objects.filter(pk=failed.pk).update(
        state=CredentialState.FAILED, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    refused_certificate, refused = learner_passes(username="elena", profile_name="Elena Ruiz")
    PokCertificate.objects.filter(pk=refused.pk).update(state=CredentialState.FAILED, next_attempt_at=None)
    revoked_certificate, revoked = learner_passes(username="dario", profile_name="Darío López")
    PokCertificate.objects.filter(pk=revoked.pk).update(state=CredentialState.REVOKED)
    base = live_server.url

    shots = [
        screenshot(browser_profile, f"{base}/certificates/{certificate.verify_uuid}", "certificate"),
        screenshot(
            browser_profile, f"{base}/certificates/{certificate.verify_uuid}", "certificate-mobile", 390, 1500
        ),
        screenshot(browser_profile, f"{base}/certificates/{issuing_certificate.verify_uuid}", "being-issued"),
        screenshot(browser_profile, f"{base}/certificates/{failed_certificate.verify_uuid}", "delayed"),
        screenshot(
            browser_profile, f"{base}/certificates/{refused_certificate.verify_uuid}", "delayed-needs-support"
        ),
        screenshot(browser_profile, f"{base}/certificates/{revoked_certificate.verify_uuid}", "revoked"),
    ]

    assert len({path.read_bytes() for path in shots}) == len(shots)
    certificate_dom = dump_dom(browser_profile, f"{base}/certificates/{certificate.verify_uuid}", 2000)
    assert "View and verify on POK" in certificate_dom
    delayed_dom = dump_dom(browser_profile, f"{base}/certificates/{failed_certificate.verify_uuid}", 2000)
    assert "We will keep trying" in delayed_dom
    refused_dom = dump_dom(browser_profile, f"{base}/certificates/{refused_certificate.verify_uuid}", 2000)
    assert "needs attention from the course" in refused_dom
    assert "We will keep trying" not in refused_dom


def test_certificate_page_in_the_browsers_language(live_server, browser_profile, fake_pok, learner_passes):
    certificate, credential = learner_passes()
    emit_and_sync(fake_pok, credential)
    url = f"{live_server.url}/certificates/{certificate.verify_uuid}"

    result = chromium(browser_profile, "--accept-lang=es", "--dump-dom", "--virtual-time-budget=2000", url)

    assert "Ver y verificar en POK" in result.stdout
    assert 'lang="es"' in result.stdout


def test_screenshots_of_studio_preview_pages(
    client, browser_profile, fake_pok, branded, course_key, enable_pok_for_course, make_learner, tmp_path
):
    enable_pok_for_course(course_key)
    client.force_login(make_learner(username="teacher", is_staff=True))
    preview_url = f"/certificates/course/{course_key}"
    preview = client.get(preview_url, {"preview": "verified"})
    CertificateTemplate.objects.create(course_key=course_key, mode="honor", template_id="retired-template")
    preview_error = client.get(preview_url, {"preview": "honor"})
    assert preview.status_code == 200
    assert preview_error.status_code == 502

    for name, response in (("preview", preview), ("preview-error", preview_error)):
        page = tmp_path / f"{name}.html"
        page.write_bytes(response.content)
        screenshot(browser_profile, page.as_uri(), name)
