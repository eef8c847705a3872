"""
Browser lane (``make test BROWSER=1``): Debian's headless Chromium loads every learner page from a
live server, left to right (``en``) and right to left (``ar``, whose strings fall back to
English), at 1280 and 390 CSS pixels, and checks what a visitor would: nothing overflows
sideways, the credential's name and its actions are on screen, and axe-core finds no serious or
critical accessibility violation. Screenshots of each stay in ``artifacts/screenshots/``.

axe-core comes from the npm registry, installed by ``make test BROWSER=1`` (``AXE_CORE_JS`` says
where); nothing is downloaded while the tests run. The "being issued" and "delayed" pages are also
watched turning into the certificate on their own (``--dump-dom`` with a virtual time budget).
"""

import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.signals import request_started
from django.utils import timezone, translation

from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services.issuing import operator_actions, status, sweep
from tests.chromium import Browser, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("BROWSER_TESTS") != "1", reason="browser lane: set BROWSER_TESTS=1"),
]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
AXE_CORE_JS = Path(
    os.environ.get("AXE_CORE_JS")
    or Path(__file__).resolve().parent.parent / ".browser-tools/node_modules/axe-core/axe.min.js"
)
LOGO = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' width='180' height='40'>"
    "<rect width='40' height='40' rx='8' fill='%230a58a8'/><text x='50' y='27' font-family='sans-serif' "
    "font-size='18' font-weight='700' fill='%231c2430'>Test Academy</text></svg>"
)
WIDTHS = (1280, 390)
LEARNER_NAMES = {"en": "Ana García", "ar": "مريم الحسن"}
SUPPORT_URL = "https://support.example.com/certificates"

# What the checks read from the page, in one evaluation: sideways overflow (the document's and
# any visible box's, since a right-to-left page cannot scroll to what sticks out on its right),
# and whether each selector names a visible element inside the viewport.
LAYOUT_PROBE = """
(selectors) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const shown = (element) => {
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return style.display !== "none" && style.visibility !== "hidden" && Number(style.opacity) > 0
      && box.width > 1 && box.height > 1 && style.clipPath !== "inset(50%)";
  };
  const outside = [...document.body.querySelectorAll("*")].filter(shown).filter((element) => {
    const box = element.getBoundingClientRect();
    return box.left < -1 || box.right > width + 1;
  }).map((element) => element.tagName.toLowerCase() + (element.className ? "." + element.className : ""));
  const visible = {};
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    if (element) { element.scrollIntoView({block: "center"}); }
    const box = element && element.getBoundingClientRect();
    visible[selector] = Boolean(element && shown(element) && box.left >= -1 && box.right <= width + 1
      && box.top < innerHeight && box.bottom > 0)
      && (element.tagName !== "IMG" || element.naturalWidth > 0);
  }
  window.scrollTo(0, 0);
  return {dir: root.dir, lang: root.lang, scrollWidth: root.scrollWidth, clientWidth: width,
          outside: outside.slice(0, 10), visible: visible, heading: document.querySelector("h1").innerText};
}
"""
AXE_RUN = """
axe.run(document, {resultTypes: ["violations"]}).then((results) => results.violations
  .filter((violation) => ["serious", "critical"].includes(violation.impact))
  .map((violation) => ({id: violation.id, impact: violation.impact, help: violation.help,
                        nodes: violation.nodes.slice(0, 3).map((node) => node.target.join(" "))})))
"""


@pytest.fixture(scope="module")
def axe_source():
    if not AXE_CORE_JS.is_file():
        pytest.fail(f"axe-core is not installed at {AXE_CORE_JS}: run the lane with `make test BROWSER=1`.")
    return AXE_CORE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as running:
        yield running


@pytest.fixture
def browser_profile(tmp_path):
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    return profile


def dump_dom(browser_profile, url, budget_ms):
    result = chromium(browser_profile, "--dump-dom", f"--virtual-time-budget={budget_ms}", url)
    return result.stdout


@pytest.fixture
def branded(settings):
    settings.LOGO_IMAGE_URL = LOGO
    settings.POK_SUPPORT_URL = SUPPORT_URL


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


def translated(message: str, language: str) -> str:
    with translation.override(language):
        text = translation.gettext(message)
    assert language == "en" or text != message, f"{message!r} has no {language} translation"
    return text


def check_page(browser, axe_source, url, *, name, language, expected_heading, must_show, cookies=()):
    """Load ``url`` at every width and assert the layout, the visible parts and axe-core's verdict."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page = browser.new_page(width, 900, language=language, mobile=width < 600)
        for cookie_name, value in cookies:
            page.set_cookie(url, cookie_name, value)
        page.goto(url)
        probe = page.evaluate(f"({LAYOUT_PROBE})({json.dumps(list(must_show))})")
        page.screenshot(SCREENSHOTS / f"{name}-{language}-{width}.png")
        where = f"{name} in {language} at {width} px"

        assert probe["dir"] == ("rtl" if language == "ar" else "ltr"), where
        assert probe["scrollWidth"] <= probe["clientWidth"], f"{where} scrolls sideways: {probe}"
        assert probe["outside"] == [], f"{where}: boxes outside the viewport: {probe['outside']}"
        assert expected_heading in probe["heading"], f"{where}: heading {probe['heading']!r}"
        hidden = [selector for selector, visible in probe["visible"].items() if not visible]
        assert hidden == [], f"{where}: not visible: {hidden}"
        page.evaluate(axe_source + "; true")
        violations = page.evaluate(AXE_RUN)
        assert violations == [], f"{where}: axe-core found {json.dumps(violations, indent=2)}"


@pytest.mark.parametrize("language", ["en", "ar"])
def test_emitted_certificate_page(live_server, browser, axe_source, fake_pok, learner_passes, language):
    certificate, credential = learner_passes(profile_name=LEARNER_NAMES[language])
    emit_and_sync(fake_pok, credential)

    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/{certificate.verify_uuid}",
        name="certificate",
        language=language,
        expected_heading=LEARNER_NAMES[language],
        must_show=(
            "h1 bdi",
            "img.credential-image",
            "a.button.primary",
            "a[href*='linkedin.com/profile/add']",
            "a[download]",
            "#share-link",
        ),
    )


def test_right_to_left_certificate_page_mirrors_its_columns(live_server, browser, fake_pok, learner_passes):
    certificate, credential = learner_passes(profile_name=LEARNER_NAMES["ar"])
    emit_and_sync(fake_pok, credential)
    page = browser.new_page(1280, 900, language="ar")
    page.goto(f"{live_server.url}/certificates/{certificate.verify_uuid}")

    image, details = page.evaluate(
        "[document.querySelector('figure'), document.querySelector('.layout > div')]"
        ".map((element) => element.getBoundingClientRect().left)"
    )

    assert image > details  # the image comes first, on the right


@pytest.mark.parametrize("language", ["en", "ar"])
def test_being_issued_page(live_server, browser, axe_source, learner_passes, language):
    certificate, _ = learner_passes(profile_name=LEARNER_NAMES[language])

    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/{certificate.verify_uuid}",
        name="being-issued",
        language=language,
        expected_heading=translated("This certificate is being issued", language),
        must_show=(".lead bdi", "#issuing-status", "main a[href^='/certificates/']"),
    )


@pytest.mark.parametrize("retry_scheduled", [True, False], ids=["retry-scheduled", "needs-support"])
@pytest.mark.parametrize("language", ["en", "ar"])
def test_delayed_page(live_server, browser, axe_source, learner_passes, language, retry_scheduled):
    certificate, credential = learner_passes(profile_name=LEARNER_NAMES[language])
    PokCertificate.objects.filter(pk=credential.pk).update(
        state=CredentialState.FAILED,
        next_attempt_at=timezone.now() + timedelta(hours=1) if retry_scheduled else None,
    )

    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/{certificate.verify_uuid}",
        name="delayed" if retry_scheduled else "delayed-needs-support",
        language=language,
        expected_heading=translated("This certificate is delayed", language),
        must_show=(".lead bdi", f"a[href='{SUPPORT_URL}']"),
    )


@pytest.mark.parametrize("language", ["en", "ar"])
def test_no_longer_valid_page(live_server, browser, axe_source, fake_pok, learner_passes, language):
    certificate, credential = learner_passes(profile_name=LEARNER_NAMES[language])
    emit_and_sync(fake_pok, credential)
    operator_actions.revoke(credential, "revoked in the Django admin")

    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/{certificate.verify_uuid}",
        name="no-longer-valid",
        language=language,
        expected_heading=translated("This certificate is no longer valid", language),
        must_show=(".lead bdi", ".withdrawn", f"a[href='{SUPPORT_URL}']"),
    )


@pytest.fixture
def staff_cookie(client, make_learner):
    client.force_login(make_learner(username="teacher", is_staff=True))
    return [("sessionid", client.cookies["sessionid"].value)]


@pytest.mark.parametrize("language", ["en", "ar"])
def test_studio_preview_page(
    live_server, browser, axe_source, transactional_db, fake_pok, branded, pok_course, staff_cookie, language
):
    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/course/{pok_course}?preview=verified",
        name="preview",
        language=language,
        expected_heading="Introduction to Python",
        must_show=("h1 bdi", "img.credential-image", "dl.facts code"),
        cookies=staff_cookie,
    )


@pytest.mark.parametrize("language", ["en", "ar"])
def test_studio_preview_error_page(
    live_server, browser, axe_source, transactional_db, fake_pok, branded, pok_course, staff_cookie, language
):
    CertificateTemplate.objects.create(course_key=pok_course, mode="honor", template_id="retired-template")

    check_page(
        browser,
        axe_source,
        f"{live_server.url}/certificates/course/{pok_course}?preview=honor",
        name="preview-error",
        language=language,
        expected_heading=translated("The certificate preview could not be shown", language),
        must_show=("[role=alert]", "[role=alert] strong"),
        cookies=staff_cookie,
    )


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
    assert f"{fake_pok.url}images/credential/{credential.pok_credential_id}.svg" in after
    assert "This certificate is being issued" not in after


def test_delayed_page_turns_into_the_certificate_once_an_operator_retries(
    live_server, browser_profile, fake_pok, learner_passes
):
    certificate, credential = learner_passes()
    PokCertificate.objects.filter(pk=credential.pk).update(state=CredentialState.FAILED, next_attempt_at=None)
    status_path = f"/pok/credentials/{credential.public_id}/status"
    retried = threading.Event()

    def on_request(sender, environ, **kwargs):
        """The operator's *Retry now* and POK's emission happen while the page waits."""
        if environ.get("PATH_INFO") == status_path and not retried.is_set():
            PokCertificate.objects.filter(pk=credential.pk).update(state=CredentialState.PROCESSING)
            emit_and_sync(fake_pok, PokCertificate.objects.get(pk=credential.pk))
            retried.set()

    request_started.connect(on_request)
    try:
        after = dump_dom(browser_profile, f"{live_server.url}/certificates/{certificate.verify_uuid}", 60_000)
    finally:
        request_started.disconnect(on_request)

    assert retried.is_set()
    assert "View and verify on POK" in after
    assert "This certificate is delayed" not in after


def test_certificate_page_in_the_browsers_language(live_server, browser_profile, fake_pok, learner_passes):
    certificate, credential = learner_passes()
    emit_and_sync(fake_pok, credential)
    url = f"{live_server.url}/certificates/{certificate.verify_uuid}"

    result = chromium(browser_profile, "--accept-lang=es", "--dump-dom", "--virtual-time-budget=2000", url)

    assert "Ver y verificar en POK" in result.stdout
    assert 'lang="es"' in result.stdout
