"""
The demo host, run as ``make demo`` runs it (``python -m demo``), on a free port with its own SQLite
file and fake POK: a visitor passes learners, watches credentials appear, and takes POK down.

The host runs in a subprocess because it is its own Django project (demo.settings), next to the
suite's. Waits are bounded polls on what the pages show; nothing is timed.
"""

import html
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from opaque_keys.edx.keys import CourseKey

from openedx_pok.testing import images
from tests.chromium import Browser, chromium

REPO_DIR = Path(__file__).resolve().parent.parent
PYTHON_COURSE = "course-v1:DemoU+PY101+2026"
DATA_COURSE = "course-v1:DemoU+DATA201+2026"
ART_COURSE = "course-v1:RiverX+ART110+2026"
STARTUP_POLLS = 600
PAGE_POLLS = 240
POLL_SECONDS = 0.25


class RunningDemo:
    def __init__(self, process, log_path: Path):
        self.process = process
        self.log_path = log_path
        self.url = ""
        self.pok_url = ""

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_serving(self):
        for _ in range(STARTUP_POLLS):
            output = self.output()
            home = re.search(r"Home page:\s+(http://127\.0\.0\.1:\d+/)", output)
            pok = re.search(r"Fake POK server:\s+(http://127\.0\.0\.1:\d+/)", output)
            if home and pok:
                self.url, self.pok_url = home.group(1), pok.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(POLL_SECONDS)
        pytest.fail(f"The demo did not start:\n{self.output()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"The demo did not stop on Ctrl-C:\n{self.output()}")
        return self.process.returncode


def start_demo(workdir: Path) -> RunningDemo:
    """``python -m demo`` on a free port, with its own database file; returns once it serves."""
    log_path = workdir / "demo.log"
    env = {
        **os.environ,
        "DEMO_PORT": "0",
        "DEMO_DB_PATH": str(workdir / "demo.sqlite3"),
        "DEMO_EMIT_AFTER": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with log_path.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo"], cwd=REPO_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    running = RunningDemo(process, log_path)
    try:
        running.wait_until_serving()
    except BaseException:
        running.stop()
        raise
    return running


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    running = start_demo(tmp_path_factory.mktemp("demo"))
    yield running
    running.stop()


class Visitor:
    """A browser-like session on the demo's home page: cookies, CSRF token, form posts."""

    def __init__(self, demo: RunningDemo):
        self.demo = demo
        self.session = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.demo.url.rstrip("/") + path, timeout=30)

    def post(self, path: str, **fields) -> requests.Response:
        if "csrftoken" not in self.session.cookies:
            self.get("/")
        data = {"csrfmiddlewaretoken": self.session.cookies["csrftoken"], **fields}
        return self.session.post(
            self.demo.url.rstrip("/") + path, data=data, headers={"Referer": self.demo.url}, timeout=30
        )

    def pass_course(self, username: str, course_id: str) -> str:
        """Press "Pass the course"; returns the certificate page's path shown on the home page."""
        response = self.post("/demo/pass/", username=username, course_id=course_id)
        assert response.status_code == 200, response.text
        return certificate_path(response.text, username, course_id)

    def set_outage(self, on: bool) -> str:
        response = self.post("/demo/pok-outage/", outage="on" if on else "off")
        assert response.status_code == 200, response.text
        return response.text

    def poll(self, path: str, until, polls: int = PAGE_POLLS) -> str:
        page = ""
        for _ in range(polls):
            page = self.get(path).text
            if until(page):
                return page
            time.sleep(POLL_SECONDS)
        pytest.fail(
            f"{path} never showed what was expected; last page:\n{page}\n\nDemo output:\n{self.demo.output()}"
        )
        return page


def cell(home_page: str, username: str, course_id: str) -> str:
    """The home page's table cell of one learner and course."""
    match = re.search(
        rf'<td data-learner="{re.escape(username)}" data-course="{re.escape(course_id)}">(.*?)</td>',
        home_page,
        re.S,
    )
    assert match, f"no cell for {username} in {course_id}"
    return match.group(1)


def certificate_path(home_page: str, username: str, course_id: str) -> str:
    match = re.search(r'href="(/certificates/[0-9a-f]{32})"', cell(home_page, username, course_id))
    assert match, f"no certificate link for {username} in {course_id}"
    return match.group(1)


def shows_emitted_credential(demo: RunningDemo):
    """The emitted page links to the credential on POK (the fake server's public view)."""
    return lambda page: f'href="{demo.pok_url}view/' in page


def test_home_page_lists_learners_with_hard_names_and_the_courses(demo):
    page = Visitor(demo).get("/").text

    for name in ("José Ñúñez", "Madonna", "García, Ana", "مريم الحسن"):
        assert f"<bdi>{html.escape(name)}</bdi>" in page
    for course_name in (
        "Introduction to Python",
        "Data Analysis with Python",
        "Historia del arte contemporáneo",
    ):
        assert course_name in page
    assert "demo-python-template (course template; POK account default)" in page
    assert "demo-university-template (template of organisation DemoU; POK account default)" in page
    assert "river-arts-template (default template; POK account river)" in page


def test_a_passed_learner_gets_the_emitted_credential_on_the_certificate_page(demo):
    visitor = Visitor(demo)

    path = visitor.pass_course("jose", PYTHON_COURSE)
    # The image's location is fetched just after the emission: wait for both.
    page = visitor.poll(
        path, lambda page: shows_emitted_credential(demo)(page) and '<img class="credential-image"' in page
    )

    assert "José Ñúñez" in page
    assert "Introduction to Python Programming" in page
    home = visitor.get("/").text
    assert "POK: Emitted" in cell(home, "jose", PYTHON_COURSE)
    image = image_of(page)
    assert ">José Ñúñez</text>" in image  # the fake POK drew what the plugin sent
    assert ">Introduction to Python Programming</text>" in image
    assert ">Introduction to Python certificate</text>" in image  # the course template's name


def test_the_plugin_rides_out_a_pok_outage(demo):
    visitor = Visitor(demo)
    home = visitor.set_outage(on=True)
    assert "Down: answering 503" in home

    try:
        path = visitor.pass_course("madonna", ART_COURSE)
        # The issuing task meets the outage and waits to retry; the page says the certificate is on its way.
        visitor.poll("/", lambda page: "POK: Waiting to retry" in cell(page, "madonna", ART_COURSE))
        waiting_page = visitor.get(path).text
        assert not shows_emitted_credential(demo)(waiting_page)
        assert "Madonna" in waiting_page
    finally:
        visitor.set_outage(on=False)

    page = visitor.poll(path, shows_emitted_credential(demo))
    assert "Historia del arte contemporáneo" in page


def test_revoking_sends_the_platform_event_and_the_page_stops_showing_the_credential(demo):
    visitor = Visitor(demo)
    path = visitor.pass_course("ana", DATA_COURSE)
    visitor.poll(path, shows_emitted_credential(demo))

    response = visitor.post("/demo/revoke/", username="ana", course_id=DATA_COURSE)

    assert "POK: Revoked" in cell(response.text, "ana", DATA_COURSE)
    gone = visitor.get(path)
    assert gone.status_code == 404
    assert "Page not found" in gone.text  # LMS's own 404 page: the platform never runs the render step


def test_studio_preview_is_for_staff(demo):
    anonymous = Visitor(demo)
    preview = f"/certificates/course/{PYTHON_COURSE}?preview=honor"
    assert (
        anonymous.session.get(demo.url.rstrip("/") + preview, allow_redirects=False, timeout=30).status_code
        == 302
    )

    staff = Visitor(demo)
    staff.post("/demo/sign-in-as/", username="staff")
    response = staff.get(preview)

    assert response.status_code == 200
    assert "Introduction to Python Programming" in response.text
    preview_image = image_of(response.text)
    assert images.LOOKS["modern"].frame in preview_image  # the course template's own look
    assert ">PREVIEW</text>" in preview_image


def image_of(page: str) -> str:
    """The certificate image a page shows, as the fake POK serves it."""
    match = re.search(r'<img class="credential-image" src="([^"]+)"', page)
    assert match, "no certificate image on the page"
    answer = requests.get(html.unescape(match.group(1)), timeout=30)
    assert answer.headers["Content-Type"] == "image/svg+xml"
    return answer.text


def test_the_admin_has_the_screens_the_install_steps_name(demo):
    staff = Visitor(demo)
    staff.post("/demo/sign-in-as/", username="staff")

    course_overrides = staff.get("/admin/waffle_utils/waffleflagcourseoverridemodel/")
    org_overrides = staff.get("/admin/waffle_utils/waffleflagorgoverridemodel/")
    home = staff.get("/").text

    assert course_overrides.status_code == 200
    assert "Waffle flag course overrides" in course_overrides.text
    assert ART_COURSE in course_overrides.text
    assert org_overrides.status_code == 200
    assert "DemoU" in org_overrides.text
    assert staff.get("/admin/waffle_utils/waffleflagcourseoverridemodel/add/").status_code == 200
    assert 'href="/admin/waffle_utils/waffleflagorgoverridemodel/"' in home
    assert 'href="/admin/openedx_pok/certificatetemplate/"' in home


def seeded_rows():
    from django.contrib.auth import get_user_model
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
    from openedx.core.djangoapps.user_api.models import UserPreference
    from openedx.core.djangoapps.waffle_utils.models import (
        WaffleFlagCourseOverrideModel,
        WaffleFlagOrgOverrideModel,
    )
    from organizations.models import Organization, OrganizationCourse

    from openedx_pok.models import CertificateTemplate

    models = (
        get_user_model(),
        CourseOverview,
        Organization,
        OrganizationCourse,
        WaffleFlagCourseOverrideModel,
        WaffleFlagOrgOverrideModel,
        CertificateTemplate,
        UserPreference,
    )
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seeding_twice_changes_nothing():
    from demo import seed

    seed.seed()
    first = seeded_rows()
    seed.seed()

    assert seeded_rows() == first
    assert first["User"] == len(seed.LEARNERS) + 1
    assert first["CourseOverview"] == 3
    assert first["Organization"] == 2


@pytest.mark.django_db
def test_seeded_courses_are_switched_on_and_choose_their_templates_at_each_level(settings):
    from demo import seed
    from openedx_pok.platform_adapter import is_pok_enabled_for_course
    from openedx_pok.services.templates.template_choice import choose_template

    settings.POK_TEMPLATE_ID = seed.DEFAULT_TEMPLATE_ID
    seed.seed()

    choices = {
        course_id: choose_template(CourseKey.from_string(course_id), "honor")
        for course_id in (PYTHON_COURSE, DATA_COURSE, ART_COURSE)
    }
    assert {course_id: (choice.template_id, choice.scope) for course_id, choice in choices.items()} == {
        PYTHON_COURSE: (seed.COURSE_TEMPLATE_ID, "course"),
        DATA_COURSE: (seed.ORGANIZATION_TEMPLATE_ID, "organization"),
        ART_COURSE: (seed.DEFAULT_TEMPLATE_ID, "default"),
    }
    assert all(is_pok_enabled_for_course(CourseKey.from_string(course_id)) for course_id in choices)


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("BROWSER_TESTS") != "1", reason="browser lane: BROWSER_TESTS=1")
def test_screenshots_of_the_home_page_and_a_certificate_page(demo, tmp_path):
    visitor = Visitor(demo)
    path = visitor.pass_course("maryam", PYTHON_COURSE)
    visitor.poll(path, shows_emitted_credential(demo))
    screenshots = REPO_DIR / "artifacts" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)

    for name, url in (
        ("demo-home.png", demo.url + "?pause=1"),
        ("demo-certificate.png", demo.url + path[1:]),
    ):
        target = screenshots / name
        target.unlink(missing_ok=True)
        chromium(
            tmp_path / name, f"--screenshot={target}", "--window-size=1280,900", url, timeout=120, check=True
        )
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("BROWSER_TESTS") != "1", reason="browser lane: BROWSER_TESTS=1")
def test_the_admin_changelist_fits_a_1280_pixel_screen(demo, tmp_path):
    staff = Visitor(demo)
    staff.post("/demo/sign-in-as/", username="staff")
    for username, course_id in (("jose", ART_COURSE), ("ana", PYTHON_COURSE), ("madonna", DATA_COURSE)):
        staff.pass_course(username, course_id)
    staff.poll("/", lambda page: page.count("POK: Emitted") >= 3)
    screenshots = REPO_DIR / "artifacts" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)

    with Browser(tmp_path / "profile") as browser:
        page = browser.new_page(1280, 900)
        page.set_cookie(demo.url, "sessionid", staff.session.cookies["sessionid"])
        page.goto(demo.url + "admin/openedx_pok/pokcertificate/")
        boxes = page.evaluate(
            "[...document.querySelectorAll('#changelist .results, .pok-state-counts, html')]"
            ".map((box) => [box.className || box.tagName, box.scrollWidth, box.clientWidth])"
        )
        page.screenshot(screenshots / "demo-admin-changelist-1280.png")

    assert len(boxes) == 3, boxes
    assert [name for name, scroll, width in boxes if scroll > width + 1] == [], boxes


def test_the_demo_starts_fresh_and_stops_cleanly_on_ctrl_c(tmp_path):
    running = start_demo(tmp_path)
    try:
        page = Visitor(running).get("/").text
        assert "Pass the course" in page
    finally:
        exit_code = running.stop()

    assert exit_code == 0
    assert "Stopping the demo" in running.output()
    assert "Traceback" not in running.output()
