"""
Issuing through the real creation pipeline, the issuing task and the fake POK server over HTTP.

Tests whose code commits (the task commits before its POST) use a transactional database, so that
``transaction.on_commit`` behaves as in production.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services import policy, transitions
from openedx_pok.services.issuing import creation, sending, sweep
from tests.chains import RECONCILE, SWEEP, live_runs
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(settings):
    """Retry and poll delays of zero: the tests move time, they never wait for it."""
    settings.POK_RETRY_BASE_DELAY = 0
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    settings.POK_MAX_ATTEMPTS = 4


# --- the happy path --------------------------------------------------------------------------------


@transactional
def test_a_passing_learner_gets_exactly_the_expected_credential(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, settings, tracked_events
):
    fake_pok.add_template(
        "python-template",
        parameters=[("grade", "Grade"), ("course-title", "Course title"), ("signer", "Signed by")],
    )
    fake_pok.add_page("landing", name="Landing")
    CertificateTemplate.objects.create(
        course_key=pok_course, template_id="python-template", page_id="landing"
    )
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"signer": "signatory_name"}
    learner = make_learner(username="ana", profile_name="Ana García", email="ana@example.com")
    from openedx.core.djangoapps.user_api.preferences.api import set_user_preference

    set_user_preference(learner, "pref-lang", "es_ar")

    result = request_certificate(learner, pok_course, course_grade(percent=0.88, letter_grade="Pass"))
    assert result[0] == learner
    settle(queued_tasks)

    [body] = fake_pok.bodies("POST credential")
    emission_date = datetime.fromisoformat(body["credential"].pop("emissionDate"))
    assert emission_date.utcoffset() == timedelta(0)
    assert abs(timezone.now() - emission_date) < timedelta(minutes=5)
    assert body == {
        "credential": {
            "tags": [f"StudentId:{learner.pk}", f"CourseId:{pok_course}", "Mode:verified"],
            "skipAcceptance": True,
            "emissionType": "pok",
            "dateFormat": "dd/MM/yyyy",
            "title": "Introduction to Python",
            "emitter": "Example University",
        },
        "receiver": {
            "languageTag": "es-AR",
            "identification": str(learner.pk),
            "email": "ana@example.com",
            "firstName": "Ana",
            "lastName": "García",
        },
        "customization": {
            "page": "landing",
            "template": {
                "id": "python-template",
                "customParameters": {
                    "grade": "88",
                    "course-title": "Introduction to Python",
                    "signer": "Grace Hopper",
                },
            },
        },
    }
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.pok_credential_id in fake_pok.credentials
    assert credential.view_url == fake_pok.credentials[credential.pok_credential_id]["viewUrl"]
    assert credential.image_url
    assert credential.image_url_expires_at > timezone.now()
    assert credential.grade_percent == Decimal("88.00")
    assert credential.letter_grade == "Pass"
    assert credential.generation_mode == "batch"
    assert credential.attempts == 1
    assert [name for name, _ in tracked_events] == [transitions.EVENT_REQUESTED, transitions.EVENT_EMITTED]
    for _, data in tracked_events:
        assert "ana@example.com" not in str(data)
        assert "García" not in str(data)


@pytest.mark.django_db
def test_the_creation_step_calls_no_pok_and_queues_the_task_on_commit_only(
    fake_pok, queued_tasks, learner, pok_course, course_grade, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        request_certificate(learner, pok_course, course_grade())
        assert queued_tasks.sent == []
        assert sum(fake_pok.calls.values()) == 0
        assert credential_of(learner, pok_course).state == S.PENDING

    assert len(callbacks) >= 1
    # The issuing task, and the chains a site issuing credentials keeps alive: the sweep (which
    # comes for the credential should its task be lost) and the reconciliation.
    assert queued_tasks.names == ["openedx_pok.tasks.issue_credential", SWEEP, RECONCILE]
    [(_, args, _, options), *_] = queued_tasks.sent
    assert args == (credential_of(learner, pok_course).pk,)
    assert "countdown" not in options
    [(_, _, sweep_options)] = live_runs(queued_tasks, SWEEP)
    assert sweep_options["countdown"] == pytest.approx(policy.LOST_TASK_AFTER.total_seconds(), abs=5)
    [(_, _, reconcile_options)] = live_runs(queued_tasks, RECONCILE)
    assert reconcile_options == {"countdown": 1800}
    assert sum(fake_pok.calls.values()) == 0


@transactional
def test_inside_the_platforms_transaction_the_task_waits_for_the_commit(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    with transaction.atomic():
        request_certificate(learner, pok_course, course_grade())
        assert queued_tasks.sent == []
    assert queued_tasks.names == ["openedx_pok.tasks.issue_credential", SWEEP, RECONCILE]
    assert sum(fake_pok.calls.values()) == 0


@transactional
def test_a_rolled_back_request_queues_nothing(fake_pok, queued_tasks, learner, pok_course, course_grade):
    def platform_code_that_fails_after_the_filter():
        with transaction.atomic():
            request_certificate(learner, pok_course, course_grade())
            raise RuntimeError("the platform's transaction failed")

    with pytest.raises(RuntimeError):
        platform_code_that_fails_after_the_filter()
    assert queued_tasks.sent == []
    assert not PokCertificate.objects.exists()


@transactional
@pytest.mark.parametrize("status", ["unverified", "notpassing", "audit_passing"])
def test_a_certificate_that_will_not_be_downloadable_issues_nothing(
    fake_pok, queued_tasks, learner, pok_course, course_grade, status
):
    request_certificate(learner, pok_course, course_grade(), status=status)
    settle(queued_tasks)
    assert not PokCertificate.objects.exists()
    assert sum(fake_pok.calls.values()) == 0


@transactional
def test_a_downloadable_status_issues(fake_pok, queued_tasks, learner, pok_course, course_grade):
    request_certificate(learner, pok_course, course_grade(), status="downloadable")
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED


@transactional
def test_a_course_without_pok_issues_nothing(
    fake_pok, queued_tasks, learner, make_course, enable_pok_for_course, course_grade
):
    switched_off = make_course()
    enable_pok_for_course(switched_off, on=False)
    never_switched_on = make_course()
    request_certificate(learner, switched_off, course_grade())
    request_certificate(learner, never_switched_on, course_grade())
    settle(queued_tasks)
    assert not PokCertificate.objects.exists()
    assert sum(fake_pok.calls.values()) == 0


@transactional
def test_without_an_api_key_nothing_is_requested(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings, caplog
):
    settings.POK_API_KEY = ""
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    assert not PokCertificate.objects.exists()
    assert "POK_API_KEY is empty" in caplog.text


@transactional
def test_the_global_switch_issues_in_every_course(
    fake_pok, queued_tasks, learner, make_course, course_grade, settings
):
    settings.POK_ENABLED_FOR_ALL_COURSES = True
    course_key = make_course()
    request_certificate(learner, course_key, course_grade())
    settle(queued_tasks)
    assert credential_of(learner, course_key).state == S.EMITTED


def switch_on_with_the_existing_plugins_flag(course_key):
    """The existing POK plugin's course flag, module_pok.enable, as its operators switched courses on."""
    from openedx.core.djangoapps.waffle_utils.models import WaffleFlagOrgOverrideModel

    WaffleFlagOrgOverrideModel.objects.create(waffle_flag="module_pok.enable", org=course_key.org)


@transactional
def test_courses_the_existing_plugins_flag_switched_on_keep_issuing(
    fake_pok, queued_tasks, learner, make_course, course_grade
):
    course_key = make_course()
    switch_on_with_the_existing_plugins_flag(course_key)

    request_certificate(learner, course_key, course_grade())
    settle(queued_tasks)

    assert credential_of(learner, course_key).state == S.EMITTED


@transactional
def test_the_existing_plugins_flag_is_ignored_once_its_setting_is_emptied(
    fake_pok, queued_tasks, learner, make_course, course_grade, settings
):
    settings.POK_LEGACY_COURSE_FLAG = ""
    course_key = make_course()
    switch_on_with_the_existing_plugins_flag(course_key)

    request_certificate(learner, course_key, course_grade())
    settle(queued_tasks)

    assert not PokCertificate.objects.exists()


LATER = timedelta(days=3)


def from_now(course_fields):
    """Course fields with each time offset turned into the date that far from now."""
    return {
        name: timezone.now() + value if isinstance(value, timedelta) else value
        for name, value in course_fields.items()
    }


@transactional
@pytest.mark.parametrize(
    "course_fields",
    [
        {"certificates_display_behavior": "end_with_date", "certificate_available_date": LATER},
        {"certificates_display_behavior": "end", "end": LATER},
        {"certificates_display_behavior": None, "end": LATER},
    ],
    ids=["available-date", "course-end", "default-behaviour"],
)
def test_a_credential_is_sent_only_when_the_platform_shows_the_courses_certificates(
    fake_pok, queued_tasks, learner, make_course, enable_pok_for_course, course_grade, course_fields
):
    fields = from_now(course_fields)
    course_key = make_course(**fields)
    enable_pok_for_course(course_key)
    available_at = fields.get("certificate_available_date") or fields["end"]

    request_certificate(learner, course_key, course_grade())
    credential = credential_of(learner, course_key)
    assert (credential.state, credential.next_attempt_at) == (S.PENDING, available_at)
    # Nothing is sent; the wait outlasts any task's countdown, so the sweep is scheduled to watch it.
    assert queued_tasks.named("openedx_pok.tasks.issue_credential") == []
    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options["countdown"] == pytest.approx(1800, abs=5)
    for hours in (0, 1, 71):
        assert sweep.sweep(now=timezone.now() + timedelta(hours=hours))["requeued"] == 0
    sending.issue(credential.pk)  # a stray task changes nothing
    assert fake_pok.calls["POST credential"] == 0

    # Three days pass: the row was recorded then, and its date has just come.
    PokCertificate.objects.update(
        modified=timezone.now() - LATER, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert sweep.sweep()["requeued"] == 1
    settle(queued_tasks)
    assert credential_of(learner, course_key).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 1


@transactional
@pytest.mark.parametrize(
    "course_fields",
    [
        {
            "self_paced": True,
            "certificates_display_behavior": "end_with_date",
            "certificate_available_date": LATER,
        },
        {"certificates_display_behavior": "early_no_info", "end": LATER},
        {"certificates_show_before_end": True, "certificates_display_behavior": "end", "end": LATER},
        {
            "certificates_display_behavior": "end_with_date",
            "certificate_available_date": -LATER,
            "end": LATER,
        },
        {"certificates_display_behavior": "end", "end": -LATER, "certificate_available_date": LATER},
        {"certificates_display_behavior": "end", "end": None},
    ],
    ids=["self-paced", "early", "show-before-end", "date-passed", "ended", "no-end"],
)
def test_a_course_whose_certificates_already_show_issues_at_once(
    fake_pok, queued_tasks, learner, make_course, enable_pok_for_course, course_grade, course_fields
):
    course_key = make_course(**from_now(course_fields))
    enable_pok_for_course(course_key)
    request_certificate(learner, course_key, course_grade())
    assert credential_of(learner, course_key).next_attempt_at is None
    assert queued_tasks.run() >= 1
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_the_sweep_queues_a_waiting_credential_as_soon_as_its_date_comes(
    fake_pok, queued_tasks, learner, make_course, enable_pok_for_course, course_grade
):
    available_at = timezone.now() + timedelta(minutes=5)  # sooner than a task is called lost
    course_key = make_course(
        certificates_display_behavior="end_with_date", certificate_available_date=available_at
    )
    enable_pok_for_course(course_key)
    request_certificate(learner, course_key, course_grade())
    assert sweep.sweep(now=available_at - timedelta(seconds=1))["requeued"] == 0
    assert sweep.sweep(now=available_at + timedelta(seconds=1))["requeued"] == 1
    assert sweep.sweep(now=available_at + timedelta(minutes=1))["requeued"] == 0


@transactional
def test_requesting_again_never_issues_twice(fake_pok, queued_tasks, learner, pok_course, course_grade):
    request_certificate(learner, pok_course, course_grade())
    request_certificate(learner, pok_course, course_grade())  # still pending
    settle(queued_tasks)
    request_certificate(learner, pok_course, course_grade(percent=0.95))  # emitted
    settle(queued_tasks)
    assert fake_pok.calls["POST credential"] == 1
    assert credential_of(learner, pok_course).grade_percent == Decimal("88.00")


@transactional
def test_expected_problems_in_the_creation_step_are_logged_not_raised(
    fake_pok, queued_tasks, learner, pok_course, course_grade, caplog
):
    result = request_certificate(learner, "not a course key", course_grade())
    assert result[1] == "not a course key"
    assert "malformed course key" in caplog.text
    assert (
        creation.record_certificate_request(
            user=None,
            course_key=pok_course,
            mode="honor",
            status=None,
            course_grade=None,
            generation_mode=None,
        )
        is None
    )
    assert not PokCertificate.objects.exists()


# --- learners and courses the payload must cope with -----------------------------------------------


@transactional
def test_a_learner_without_profile_or_grade_is_issued_under_their_account_name(
    fake_pok, queued_tasks, make_learner, pok_course, caplog
):
    learner = make_learner(username="solo", profile_name=None, first_name="", last_name="")
    with caplog.at_level("INFO"):
        request_certificate(learner, pok_course, None, mode="honor")
        settle(queued_tasks)
    assert "has no profile name" in caplog.text
    [body] = fake_pok.bodies("POST credential")
    assert body["receiver"]["firstName"] == "solo"
    assert body["receiver"]["lastName"] == ""
    assert body["receiver"]["languageTag"] == "en-US"
    assert credential_of(learner, pok_course).grade_percent is None


@transactional
@pytest.mark.parametrize(
    ("profile_name", "first", "last"),
    [(",", "kiko", ""), ("\u200b\u202e", "kiko", ""), ("\u202eKiko\u200b Ortiz\u2069", "Kiko", "Ortiz")],
)
def test_a_profile_name_empty_once_cleaned_is_sent_as_the_username(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, profile_name, first, last
):
    learner = make_learner(username="kiko", profile_name=profile_name, first_name="", last_name="")

    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    [body] = fake_pok.bodies("POST credential")
    assert (body["receiver"]["firstName"], body["receiver"]["lastName"]) == (first, last)
    assert credential_of(learner, pok_course).receiver_name == f"{first} {last}".strip()


@transactional
def test_a_course_without_certificate_configuration_uses_its_display_name(
    fake_pok, queued_tasks, learner, make_course, enable_pok_for_course, course_grade, caplog
):
    course_key = make_course(display_name="Data Science", certificates={})
    enable_pok_for_course(course_key)
    with caplog.at_level("INFO"):
        request_certificate(learner, course_key, course_grade())
        settle(queued_tasks)
    assert "no active certificate configuration" in caplog.text
    [body] = fake_pok.bodies("POST credential")
    assert body["credential"]["title"] == "Data Science"
    assert credential_of(learner, course_key).state == S.EMITTED


@transactional
def test_a_course_the_platform_does_not_know_fails_without_a_post(
    fake_pok, queued_tasks, learner, enable_pok_for_course, course_grade
):
    from opaque_keys.edx.keys import CourseKey

    ghost = CourseKey.from_string("course-v1:GhostX+G1+2026")
    enable_pok_for_course(ghost)
    request_certificate(learner, ghost, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, ghost)
    assert credential.state == S.FAILED
    assert "not found" in credential.last_error
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_a_template_parameter_without_value_fails_naming_it_and_sends_nothing(
    fake_pok, queued_tasks, make_learner, pok_course, settings
):
    fake_pok.add_template("needs-grade", parameters=[("grade", "Grade"), ("mystery", "Mystery field")])
    settings.POK_TEMPLATE_ID = "needs-grade"
    learner = make_learner()
    request_certificate(learner, pok_course, None)
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.FAILED
    assert "'grade'" in credential.last_error
    assert fake_pok.calls["POST credential"] == 0
    assert credential.next_attempt_at is None


@transactional
def test_an_unmapped_template_parameter_fails_naming_it(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    fake_pok.add_template("odd", parameters=[("mystery", "Mystery field")])
    settings.POK_TEMPLATE_ID = "odd"
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.FAILED
    assert "'mystery'" in credential.last_error
    assert "POK_CUSTOM_PARAMETER_SOURCES" in credential.last_error
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_a_template_unknown_to_pok_fails_without_a_post(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    settings.POK_TEMPLATE_ID = "deleted-template"
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.FAILED
    assert "PokNotFound" in credential.last_error
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_the_template_definition_is_fetched_once_for_many_learners(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade
):
    for _ in range(5):
        request_certificate(make_learner(), pok_course, course_grade())
    settle(queued_tasks)
    assert fake_pok.calls["GET template"] == 1
    assert fake_pok.calls["POST credential"] == 5


# --- the platform's own call site ------------------------------------------------------------------


@transactional
def test_the_platform_call_site_creates_its_certificate_and_pok_issues_it(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    from lms.djangoapps.certificates.generation_handler import _generate_certificate_task
    from lms.djangoapps.certificates.models import GeneratedCertificate
    from openedx_events.learning.signals import CERTIFICATE_CREATED

    created_events = []

    def on_created(signal, sender, certificate, metadata, **kwargs):
        created_events.append(certificate)

    CERTIFICATE_CREATED.connect(on_created)
    try:
        fake_pok.outage = True  # POK down while the platform creates the certificate: nothing changes
        _generate_certificate_task(learner, pok_course, "verified", course_grade(), generation_mode="self")
    finally:
        CERTIFICATE_CREATED.disconnect(on_created)

    certificate = GeneratedCertificate.objects.get(user=learner, course_id=pok_course)
    assert certificate.status == "downloadable"
    assert len(certificate.verify_uuid) == 32
    assert [event.current_status for event in created_events] == ["downloadable"]
    assert credential_of(learner, pok_course).generation_mode == "self"

    queued_tasks.run()
    assert credential_of(learner, pok_course).state == S.RETRYING
    fake_pok.outage = False
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    assert fake_pok.duplicates() == []


@transactional
def test_the_platform_call_site_issues_nothing_for_an_unverified_learner(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    from lms.djangoapps.certificates.generation_handler import _generate_certificate_task

    _generate_certificate_task(learner, pok_course, "verified", course_grade(), status="unverified")
    settle(queued_tasks)
    assert not PokCertificate.objects.exists()
