"""The operators' management commands, each with and without --dry-run, against the fake POK server."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import policy
from openedx_pok.services.issuing import creation, operator_actions, sending
from tests.issuing import held_in_pok, unknown_outcome_for

S = CredentialState


def run(command, *args):
    """Run a command; returns its stdout and stderr text (a CommandError propagates)."""
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_and_queue(queued_tasks, django_capture_on_commit_callbacks, command, *args):
    """Run a command, let its on-commit hooks queue the tasks, then run what was queued."""
    with django_capture_on_commit_callbacks(execute=True):
        output = run(command, *args)
    ran = queued_tasks.run()
    return output, ran


# -- pok_backfill -----------------------------------------------------------------------------------


@pytest.fixture
def course_with_certificates(course_key, enable_pok_for_course, make_learner, make_platform_certificate):
    """Three downloadable certificates (one learner already has a credential), one not passing."""
    enable_pok_for_course(course_key)
    learners = [make_learner() for _ in range(4)]
    for learner in learners[:3]:
        make_platform_certificate(learner, course_key, grade="0.88")
    make_platform_certificate(learners[3], course_key, status="notpassing")
    PokCertificate.objects.create(user=learners[0], course_key=course_key, state=S.EMITTED)
    return course_key, learners


def test_backfill_dry_run_counts_and_changes_nothing(course_with_certificates, queued_tasks, fake_pok):
    course_key, _learners = course_with_certificates

    out, _err = run("pok_backfill", "--course", str(course_key), "--dry-run")

    assert "would queue 2, 1 already had a POK credential, 0 errors" in out
    assert PokCertificate.objects.count() == 1
    assert queued_tasks.sent == []


def test_backfill_queues_a_credential_per_certificate_without_one(
    course_with_certificates, queued_tasks, django_capture_on_commit_callbacks, fake_pok
):
    course_key, learners = course_with_certificates

    (out, _err), ran = run_and_queue(
        queued_tasks, django_capture_on_commit_callbacks, "pok_backfill", "--course", str(course_key)
    )

    assert "Done: 3 certificates, queued 2, 1 already had a POK credential, 0 errors." in out
    assert ran == 2
    backfilled = PokCertificate.objects.filter(generation_mode="backfill").order_by("user_id")
    assert [credential.user_id for credential in backfilled] == [learners[1].pk, learners[2].pk]
    assert {credential.grade_percent for credential in backfilled} == {Decimal("88.00")}
    assert {credential.state for credential in backfilled} == {S.PROCESSING}
    posted = sorted(body["receiver"]["identification"] for body in fake_pok.bodies("POST credential"))
    assert posted == sorted([str(learners[1].pk), str(learners[2].pk)])


def test_backfill_counts_a_certificate_that_raised_as_one_error_and_goes_on(
    course_with_certificates, queued_tasks, django_capture_on_commit_callbacks, fake_pok, monkeypatch
):
    course_key, learners = course_with_certificates
    record = creation.record_certificate_request

    def record_or_fail(*, user, **kwargs):
        if user.pk == learners[1].pk:
            raise RuntimeError("a database hiccup")
        return record(user=user, **kwargs)

    monkeypatch.setattr(creation, "record_certificate_request", record_or_fail)

    with pytest.raises(CommandError, match="1 certificate"):
        run_and_queue(
            queued_tasks, django_capture_on_commit_callbacks, "pok_backfill", "--course", str(course_key)
        )

    assert list(
        PokCertificate.objects.filter(generation_mode="backfill").values_list("user_id", flat=True)
    ) == [learners[2].pk]


def test_backfill_twice_queues_nothing_the_second_time(
    course_with_certificates, queued_tasks, django_capture_on_commit_callbacks, fake_pok
):
    course_key, _learners = course_with_certificates
    run_and_queue(
        queued_tasks, django_capture_on_commit_callbacks, "pok_backfill", "--course", str(course_key)
    )

    (out, _err), ran = run_and_queue(
        queued_tasks, django_capture_on_commit_callbacks, "pok_backfill", "--course", str(course_key)
    )

    assert "queued 0, 3 already had a POK credential" in out
    assert ran == 0
    assert fake_pok.calls["POST credential"] == 2


def test_backfill_prints_progress_per_batch(course_with_certificates, queued_tasks):
    course_key, _learners = course_with_certificates

    out, _err = run("pok_backfill", "--course", str(course_key), "--batch-size", "2", "--dry-run")

    assert "  2 certificates read, would queue 1, 1 already had one" in out
    assert "  3 certificates read, would queue 2, 1 already had one" in out


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_backfill_refuses_a_course_where_pok_is_off(make_course, dry_run, queued_tasks):
    course_key = make_course()
    with pytest.raises(CommandError, match="POK is off for"):
        run("pok_backfill", "--course", str(course_key), *dry_run)


def test_backfill_refuses_a_malformed_course_key(db):
    with pytest.raises(CommandError, match="is not a course key"):
        run("pok_backfill", "--course", "Python 101")


# -- pok_sync ---------------------------------------------------------------------------------------

# Long past a credential's next check: its own task was lost.
LOST_CHECK = timezone.now() - policy.OVERDUE_CHECK_AFTER - timedelta(minutes=1)


def test_sync_polls_processing_credentials_and_requeues_due_retries(
    credential_in, queued_tasks, django_capture_on_commit_callbacks, fake_pok
):
    processing = credential_in(S.PROCESSING)
    retrying = credential_in(S.RETRYING)
    # Both tasks were lost: the check is long overdue, the retry is due.
    PokCertificate.objects.filter(pk__in=[processing.pk, retrying.pk]).update(next_attempt_at=LOST_CHECK)

    (out, _err), _ran = run_and_queue(queued_tasks, django_capture_on_commit_callbacks, "pok_sync")

    assert "Sweep: requeued 1, checks requeued 1," in out
    assert "Status sync: polled 1, emitted 1," in out
    assert PokCertificate.objects.get(pk=processing.pk).state == S.EMITTED
    # The re-queued credential was sent by the task the sweep queued.
    assert PokCertificate.objects.get(pk=retrying.pk).state == S.PROCESSING
    assert fake_pok.calls["POST credential"] == 3


def test_sync_dry_run_shows_what_is_due_and_changes_nothing(credential_in, queued_tasks, fake_pok):
    processing = credential_in(S.PROCESSING)
    PokCertificate.objects.filter(pk=processing.pk).update(next_attempt_at=LOST_CHECK)
    gets_before = fake_pok.calls["GET credential"]

    out, _err = run("pok_sync", "--dry-run")

    assert "POK credentials: processing 1" in out
    assert "  status checks due: 1" in out
    assert "  retries due: 0" in out
    assert PokCertificate.objects.get(pk=processing.pk).state == S.PROCESSING
    assert fake_pok.calls["GET credential"] == gets_before
    assert queued_tasks.sent == []


def test_sync_fails_when_pok_cannot_be_polled(credential_in, queued_tasks, fake_pok):
    processing = credential_in(S.PROCESSING)
    PokCertificate.objects.filter(pk=processing.pk).update(next_attempt_at=LOST_CHECK)
    fake_pok.outage = True

    with pytest.raises(CommandError, match="1 status poll"):
        run("pok_sync")
    assert PokCertificate.objects.get(pk=processing.pk).state == S.PROCESSING


# -- pok_retry --------------------------------------------------------------------------------------


def test_retry_failed_queues_them_and_pok_receives_them(
    credential_in, queued_tasks, django_capture_on_commit_callbacks, fake_pok
):
    failed = credential_in(S.FAILED)

    (out, _err), ran = run_and_queue(
        queued_tasks, django_capture_on_commit_callbacks, "pok_retry", "--state", "failed"
    )

    assert "1 failed credential(s)." in out
    assert "Done: 1 queued for another attempt, 0 skipped, 0 errors." in out
    assert ran == 1
    assert PokCertificate.objects.get(pk=failed.pk).state == S.PROCESSING
    assert fake_pok.calls["POST credential"] == 2


def test_retry_dry_run_lists_and_changes_nothing(credential_in, queued_tasks, fake_pok):
    failed = credential_in(S.FAILED)

    out, _err = run("pok_retry", "--state", "failed", "--dry-run")

    assert f"  would retry {failed.pk}: {failed.course_key}, user {failed.user_id}, attempts 1" in out
    assert "Receiver rejected." in out
    assert PokCertificate.objects.get(pk=failed.pk).state == S.FAILED
    assert queued_tasks.sent == []


def test_retry_only_touches_the_given_course(credential_in, make_course, enable_pok_for_course, queued_tasks):
    other_course = make_course()
    enable_pok_for_course(other_course)
    here = credential_in(S.FAILED)
    elsewhere = credential_in(S.FAILED, course=other_course)

    out, _err = run("pok_retry", "--state", "failed", "--course", str(here.course_key))

    assert "Done: 1 queued" in out
    assert PokCertificate.objects.get(pk=here.pk).state == S.PENDING
    assert PokCertificate.objects.get(pk=elsewhere.pk).state == S.FAILED


def test_retry_unknown_refuses_without_accepting_the_duplicate_risk(credential_in, queued_tasks):
    unknown = credential_in(S.OUTCOME_UNKNOWN)

    with pytest.raises(CommandError, match="--accept-duplicate-risk"):
        run("pok_retry", "--state", "unknown")
    assert PokCertificate.objects.get(pk=unknown.pk).state == S.OUTCOME_UNKNOWN


def test_retry_unknown_dry_run_needs_no_flag_and_changes_nothing(credential_in, queued_tasks):
    unknown = credential_in(S.OUTCOME_UNKNOWN)

    out, _err = run("pok_retry", "--state", "unknown", "--dry-run")

    assert f"would retry {unknown.pk}" in out
    assert PokCertificate.objects.get(pk=unknown.pk).state == S.OUTCOME_UNKNOWN


def test_retry_unknown_with_the_flag_resends(
    credential_in, queued_tasks, django_capture_on_commit_callbacks, fake_pok
):
    unknown = credential_in(S.OUTCOME_UNKNOWN)

    (out, _err), ran = run_and_queue(
        queued_tasks,
        django_capture_on_commit_callbacks,
        "pok_retry",
        "--state",
        "unknown",
        "--accept-duplicate-risk",
    )

    assert "Done: 1 queued" in out
    assert ran == 1
    assert PokCertificate.objects.get(pk=unknown.pk).state == S.PROCESSING


def test_retry_skips_failed_credentials_pok_already_holds(credential_in, queued_tasks, fake_pok):
    processing = credential_in(S.PROCESSING)
    fake_pok.set_credential_state(processing.pok_credential_id, "aborted")
    operator_actions.resync_from_pok(processing)
    assert PokCertificate.objects.get(pk=processing.pk).state == S.FAILED

    out, _err = run("pok_retry", "--state", "failed")

    assert f"  skipped {processing.pk}: POK already holds this credential" in out
    assert "Done: 0 queued for another attempt, 1 skipped, 0 errors." in out


@pytest.fixture
def failed_for_want_of_a_parameter(credential_in, make_learner, course_key, course_grade, fake_pok, settings):
    """
    Credentials the issuing task failed, unsent, because the course's template gained a parameter
    nothing fills; next to one POK refused and one re-sent after an unknown outcome.
    """
    refused = credential_in(S.FAILED)
    unknown = credential_in(S.OUTCOME_UNKNOWN)
    fake_pok.add_template("with-dean", parameters=[("dean", "Dean of studies")])
    settings.POK_TEMPLATE_ID = "with-dean"
    unfilled = []
    for _ in range(2):
        credential = creation.record_certificate_request(
            user=make_learner(),
            course_key=course_key,
            mode="verified",
            status=None,
            course_grade=course_grade(),
            generation_mode=None,
        )
        sending.issue(credential.pk)
        unfilled.append(credential)
    operator_actions.retry_now(unknown, accept_duplicate_risk=True)
    sending.issue(unknown.pk)
    for credential in [*unfilled, unknown]:
        credential.refresh_from_db()
        assert credential.state == S.FAILED
        assert credential.last_error.startswith("payload: template parameter 'dean' (Dean of studies) has no")
    return {"unfilled": unfilled, "refused": refused, "unknown": unknown}


def test_pok_check_says_which_command_sends_credentials_failed_for_an_unfilled_parameter(
    failed_for_want_of_a_parameter,
):
    with pytest.raises(CommandError) as raised:
        call_command("pok_check", stdout=(out := StringIO()), stderr=StringIO())

    assert "problem" in str(raised.value)
    assert (
        "note: 2 failed credential(s) were never sent because a template parameter had no value; once that "
        "is fixed, send them with `pok_retry --unfilled-parameters`."
    ) in out.getvalue()


def test_retry_unfilled_parameters_sends_those_never_sent_once_fixed_and_nothing_else(
    failed_for_want_of_a_parameter, queued_tasks, django_capture_on_commit_callbacks, fake_pok, settings
):
    credentials = failed_for_want_of_a_parameter
    posts_before = fake_pok.calls["POST credential"]
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"dean": "signatory_name"}

    dry_run, _err = run("pok_retry", "--unfilled-parameters", "--dry-run")
    (out, _err), ran = run_and_queue(
        queued_tasks, django_capture_on_commit_callbacks, "pok_retry", "--unfilled-parameters"
    )

    assert [line for line in dry_run.splitlines() if "would retry" in line] == [
        f"  would retry {credential.pk}: {credential.course_key}, user {credential.user_id}, attempts 0, "
        f"last error: {credential.last_error[:120]}"
        for credential in credentials["unfilled"]
    ]
    assert "2 failed credential(s) never sent for want of a template parameter value." in out
    assert "Done: 2 queued for another attempt, 0 skipped, 0 errors." in out
    assert ran == 2
    assert fake_pok.calls["POST credential"] == posts_before + 2
    assert [
        body["customization"]["template"]["customParameters"] for body in fake_pok.bodies("POST credential")
    ][-2:] == [{"dean": "Grace Hopper"}] * 2
    for credential in credentials["unfilled"]:
        assert PokCertificate.objects.get(pk=credential.pk).state == S.PROCESSING
    for untouched in (credentials["refused"], credentials["unknown"]):
        assert PokCertificate.objects.get(pk=untouched.pk).state == S.FAILED


def test_retry_needs_a_state_or_the_unfilled_parameters_option(db):
    with pytest.raises(CommandError, match="one of the arguments --state --unfilled-parameters is required"):
        run("pok_retry")


def test_retry_refuses_an_unknown_state(db):
    with pytest.raises(CommandError, match="invalid choice"):
        run("pok_retry", "--state", "emitted")


# -- pok_attach -------------------------------------------------------------------------------------


def test_attach_settles_an_unknown_outcome_with_the_credential_pok_holds_and_no_second_post(
    credential_in, fake_pok, queued_tasks, django_capture_on_commit_callbacks
):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    pok_id = held_in_pok(fake_pok, credential.user, credential.course_key)

    (out, _err), ran = run_and_queue(
        queued_tasks,
        django_capture_on_commit_callbacks,
        "pok_attach",
        str(credential.pk),
        pok_id,
        "--by",
        "ana",
    )

    assert f"Attached POK credential {pok_id} to credential {credential.pk}" in out
    assert ran == 1  # the status check
    credential.refresh_from_db()
    assert (credential.state, credential.pok_credential_id) == (S.EMITTED, pok_id)
    assert "attached by ana (pok_attach)" in credential.history[-2]["note"]
    assert fake_pok.calls["POST credential"] == 1
    assert fake_pok.duplicates() == []


@pytest.mark.parametrize("named_by", ["public id", "verify uuid", "certificate link"])
def test_attach_finds_the_credential_by_its_public_id_or_the_learners_certificate(
    credential_in, fake_pok, make_platform_certificate, named_by
):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    certificate = make_platform_certificate(credential.user, credential.course_key)
    given = {
        "public id": str(credential.public_id),
        "verify uuid": certificate.verify_uuid,
        "certificate link": f"https://lms.example.com/certificates/{certificate.verify_uuid}",
    }[named_by]

    run("pok_attach", given, held_in_pok(fake_pok, credential.user, credential.course_key))

    credential.refresh_from_db()
    assert credential.pok_credential_id is not None


@pytest.mark.parametrize(
    ("whose", "message"),
    [
        ("another learner", r"Not attached: POK credential \S+: it is tagged for another learner"),
        ("another course", r"Not attached: POK credential \S+: it is for another course"),
    ],
)
def test_attach_refuses_a_credential_of_another_learner_or_course(
    credential_in, fake_pok, make_course, enable_pok_for_course, course_grade, whose, message
):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    if whose == "another course":
        other_course = make_course()
        enable_pok_for_course(other_course)
        other = unknown_outcome_for(fake_pok, credential.user, other_course, course_grade())
    else:
        other = credential_in(S.OUTCOME_UNKNOWN)
    history = credential.history

    with pytest.raises(CommandError, match=message):
        run("pok_attach", str(credential.pk), held_in_pok(fake_pok, other.user, other.course_key))

    credential.refresh_from_db()
    assert (credential.state, credential.pok_credential_id, credential.history) == (
        S.OUTCOME_UNKNOWN,
        None,
        history,
    )


@pytest.mark.parametrize("state", [S.PENDING, S.EMITTED])
def test_attach_refuses_a_credential_whose_outcome_is_known(credential_in, fake_pok, state):
    credential = credential_in(state)

    with pytest.raises(CommandError, match="only an unknown outcome can be attached"):
        run("pok_attach", str(credential.pk), "9e80b81b-1441-472b-bbd7-0120ec370042")

    credential.refresh_from_db()
    assert credential.state == state


def test_attach_refuses_an_id_pok_does_not_know(credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)

    with pytest.raises(CommandError, match="Not attached: POK has no credential 9e80b81b"):
        run("pok_attach", str(credential.pk), "9e80b81b")

    credential.refresh_from_db()
    assert credential.state == S.OUTCOME_UNKNOWN


def test_attach_says_when_pok_cannot_be_asked(credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    fake_pok.outage = True

    with pytest.raises(CommandError, match="POK could not be asked, nothing changed"):
        run("pok_attach", str(credential.pk), held_in_pok(fake_pok, credential.user, credential.course_key))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("999999", "No POK credential with id 999999"),
        ("9e80b81b-1441-472b-bbd7-0120ec370042", "No POK credential and no Open edX certificate"),
        ("ana", "is neither a credential's id"),
    ],
)
def test_attach_says_when_the_credential_is_not_found(db, given, message):
    with pytest.raises(CommandError, match=message):
        run("pok_attach", given, "9e80b81b")


# -- pok_check --------------------------------------------------------------------------------------


def test_pok_check_prints_the_credential_counts(credential_in, fake_pok, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        "sweep": {"task": "openedx_pok.tasks.sweep_credentials", "schedule": 60},
        "sync": {"task": "openedx_pok.tasks.sync_credential_statuses", "schedule": 60},
    }
    credential_in(S.PROCESSING)
    credential_in(S.FAILED)

    out, _err = run("pok_check")

    assert "Credentials by state: processing 1, failed 1 (see docs/states.md)" in out
