"""``pok_check`` against a healthy, a misconfigured and an unreachable POK."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from opaque_keys.edx.keys import CourseKey

from openedx_pok.models import CertificateTemplate


def run_check():
    """Run the command; returns (succeeded, stdout lines, stderr lines)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("pok_check", stdout=out, stderr=err)
        succeeded = True
    except CommandError as error:
        err.write(str(error))
        succeeded = False
    return succeeded, out.getvalue().splitlines(), err.getvalue().splitlines()


def problems(lines):
    return [line for line in lines if line.startswith("problem: ")]


@pytest.fixture
def healthy(fake_pok, settings, db):
    fake_pok.add_template(
        "course-cert",
        name="Course certificate",
        parameters=[("grade", "Final grade"), ("motto", "Course motto")],
    )
    fake_pok.add_page("landing", "Landing page")
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"motto": "course_name"}
    settings.POK_PAGE_ID = "landing"
    CertificateTemplate.objects.create(
        course_key=CourseKey.from_string("course-v1:ExampleX+PY1+2026"),
        template_id="course-cert",
        mode="verified",
    )
    return fake_pok


def test_healthy_installation(healthy):
    succeeded, out, err = run_check()

    assert succeeded, err
    assert problems(err) == []
    assert f"POK organisation: Fake POK Organization at {healthy.url}" in out
    assert "  credits available: 1000; credentials emitted: 0, processing: 0" in out
    assert "  course-cert: Course certificate" in out
    assert "  landing: Landing page" in out
    assert (
        "Template course-cert: Course certificate (used by course course-v1:ExampleX+PY1+2026 (verified))"
        in out
    )
    assert "  parameter grade (Final grade) <- grade" in out
    assert "  parameter motto (Course motto) <- course_name" in out
    assert "Template default-template: Default template (used by the default (POK_TEMPLATE_ID))" in out
    assert out[-1] == "POK configuration OK."
    assert healthy.calls["GET organization"] == 1
    assert healthy.calls["GET template"] == 2
    assert "POST credential" not in healthy.calls


def test_wrong_api_key(healthy, settings):
    settings.POK_API_KEY = "not-the-key"

    succeeded, _out, err = run_check()

    assert not succeeded
    assert problems(err) == ["problem: POK refused the API key (HTTP 401): Invalid or missing API key."]
    assert err[-1] == "pok_check found 1 problem(s)."
    assert healthy.calls == {"GET organization": 1}


def test_unreachable_pok(healthy, settings):
    healthy.stop()

    succeeded, _out, err = run_check()

    assert not succeeded
    assert problems(err) == [f"problem: {settings.POK_API_URL}: POK is not reachable: connection refused."]


def test_missing_template_page_and_parameter_source(healthy, settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {}
    settings.POK_PAGE_ID = "gone-page"
    CertificateTemplate.objects.create(organization="ExampleX", template_id="deleted-template")

    succeeded, out, err = run_check()

    assert not succeeded
    assert problems(err) == [
        (
            "problem: Template course-cert: template parameter 'motto' (Course motto) has no value source; "
            "map it in POK_CUSTOM_PARAMETER_SOURCES."
        ),
        "problem: Template deleted-template (used by organisation ExampleX) does not exist in POK.",
        "problem: Page gone-page (used by the default (POK_PAGE_ID)) does not exist in POK.",
    ]
    assert "Template default-template: Default template (used by the default (POK_TEMPLATE_ID))" in out


def test_bad_settings_are_reported_without_calling_pok(healthy, settings):
    settings.POK_API_KEY = ""
    settings.POK_API_URL = "http://pok.example.com/"
    settings.POK_DATE_FORMAT = "yyyy-MM-dd"
    settings.POK_EMISSION_TYPE = "nft"
    settings.POK_TIMEOUT = 0

    succeeded, out, err = run_check()

    assert not succeeded
    found = problems(err)
    assert found[0] == "problem: POK_API_KEY is empty: set the API key from POK's dashboard."
    assert found[1] == "problem: POK_TIMEOUT is 0: it must be a positive number of seconds."
    for name in ("POK_API_URL", "POK_DATE_FORMAT", "POK_EMISSION_TYPE"):
        assert sum(name in line for line in found) == 1, found
    assert "POK not contacted: fix the settings above first." in out
    assert healthy.calls == {}


def test_local_http_url_is_only_a_note(healthy):
    succeeded, out, _err = run_check()

    assert succeeded
    assert any(line.startswith("note: ") and "plain http" in line for line in out)


def test_no_template_configured(healthy, settings):
    settings.POK_TEMPLATE_ID = ""
    CertificateTemplate.objects.all().delete()

    succeeded, _out, err = run_check()

    assert not succeeded
    assert "problem: No template configured: set POK_TEMPLATE_ID or add POK certificate templates." in err


def test_no_credits_left(healthy):
    healthy.credits = 0

    succeeded, _out, err = run_check()

    assert not succeeded
    assert "problem: The POK organisation has no credits left: new credentials will be refused." in err


def test_a_template_made_for_the_existing_plugin_needs_no_mapping(healthy, settings):
    healthy.add_template(
        "legacy", name="Legacy", parameters=[("p-platform", "platform"), ("p-grade", "grade")]
    )
    settings.POK_TEMPLATE_ID = "legacy"

    succeeded, out, err = run_check()

    assert succeeded, err
    assert "  parameter p-platform (platform) <- platform_name" in out
    assert "  parameter p-grade (grade) <- grade" in out


def test_a_parameter_a_course_leaves_empty_is_a_problem_before_any_learner_needs_it(
    healthy, settings, make_course
):
    """As templates made for the existing plugin meet a course without a signatory."""
    course_key = make_course(
        certificates={"certificates": [{"is_active": True, "course_title": "", "signatories": []}]}
    )
    healthy.add_template(
        "legacy", name="Legacy", parameters=[("p-platform", "platform"), ("p-title", "signatory_title")]
    )
    CertificateTemplate.objects.create(course_key=course_key, template_id="legacy")

    succeeded, _out, err = run_check()

    assert not succeeded
    expected = (
        f"problem: Course {course_key}, template legacy: template parameter 'p-title' (signatory_title) "
        "would be empty: source 'signatory_title' has no value."
    )
    assert problems(err) == [expected]


def existing_plugin_flag_on(course_id=None, org=None):
    """The existing POK plugin's course flag, switched on for a course or an organisation in the admin."""
    from openedx.core.djangoapps.waffle_utils.models import (
        WaffleFlagCourseOverrideModel,
        WaffleFlagOrgOverrideModel,
    )

    if course_id:
        WaffleFlagCourseOverrideModel.objects.create(waffle_flag="module_pok.enable", course_id=course_id)
    if org:
        WaffleFlagOrgOverrideModel.objects.create(waffle_flag="module_pok.enable", org=org)


def test_where_the_existing_plugins_course_flag_still_switches_pok_on_is_a_note(healthy):
    existing_plugin_flag_on(course_id=CourseKey.from_string("course-v1:LegacyX+PY1+2025"), org="OtherU")

    succeeded, out, err = run_check()

    assert succeeded, err
    assert (
        "note: the existing POK plugin's course flag module_pok.enable still switches POK on for course "
        "course-v1:LegacyX+PY1+2025, organisation OtherU (POK_LEGACY_COURSE_FLAG). To move to this plugin's "
        "flag, set the same overrides for openedx_pok.enable_pok_certificates, then set "
        "POK_LEGACY_COURSE_FLAG = ''."
    ) in out


def test_the_existing_plugins_course_flag_no_longer_honoured_but_still_on_is_a_problem(healthy, settings):
    settings.POK_LEGACY_COURSE_FLAG = ""
    existing_plugin_flag_on(org="OtherU")

    succeeded, _out, err = run_check()

    assert not succeeded
    [problem] = problems(err)
    assert (
        "course flag module_pok.enable is on for organisation OtherU, but POK_LEGACY_COURSE_FLAG" in problem
    )
    assert "or set POK_LEGACY_COURSE_FLAG = 'module_pok.enable' again." in problem


def test_a_flag_override_switched_off_again_is_not_reported(healthy):
    from openedx.core.djangoapps.waffle_utils.models import WaffleFlagOrgOverrideModel

    existing_plugin_flag_on(org="OtherU")
    WaffleFlagOrgOverrideModel.objects.create(
        waffle_flag="module_pok.enable", org="OtherU", override_choice="off"
    )

    _succeeded, out, _err = run_check()

    assert not [line for line in out if "module_pok.enable" in line]


def test_exit_status_and_no_traceback_from_the_command_line():
    """As an operator runs it: against the unreachable URL of the test settings, with no database."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "pok_check",
            "--settings=tests.settings",
            "--pythonpath=.",
            "--pythonpath=platform_stand_ins",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "DB_ENGINE": "sqlite"},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "problem: http://127.0.0.1:9/: POK is not reachable: connection refused." in result.stderr
    assert "problem: Cannot read the POK certificate templates (has migrate run?)" in result.stderr
    assert "CommandError: pok_check found 2 problem(s)." in result.stderr
