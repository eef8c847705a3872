"""
POK misbehaving: every learner is issued exactly once, refusals fail without a retry storm, and a
POST whose answer was lost is never repeated on its own.
"""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from openedx_pok import client
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import transitions
from openedx_pok.services.issuing import sweep
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)
LEARNERS = 3


@pytest.fixture(autouse=True)
def retry_delays(settings):
    """Real backoff delays: the tests move the clock (``settle``) instead of waiting."""
    settings.POK_RETRY_BASE_DELAY = 30
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    settings.POK_MAX_ATTEMPTS = 4


@pytest.fixture
def learners(make_learner):
    return [make_learner() for _ in range(LEARNERS)]


def assert_each_issued_once(fake_pok, learners, course_key):
    assert fake_pok.duplicates() == []
    issued = {credential["receiver"]["email"] for credential in fake_pok.credentials.values()}
    assert issued == {learner.email for learner in learners}
    for learner in learners:
        credential = credential_of(learner, course_key)
        assert credential.state == S.EMITTED
        assert credential.pok_credential_id in fake_pok.credentials


def closed_port_url():
    """A local URL where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@transactional
@pytest.mark.parametrize(
    ("status", "headers"),
    [(503, None), (429, {"Retry-After": "1"})],
)
def test_transient_answers_are_retried_until_every_learner_is_issued_once(
    fake_pok, queued_tasks, learners, pok_course, course_grade, status, headers
):
    fake_pok.fail_next("POST credential", status=status, count=LEARNERS * 2, headers=headers)
    for learner in learners:
        request_certificate(learner, pok_course, course_grade())

    queued_tasks.run()
    retrying = PokCertificate.objects.filter(state=S.RETRYING)
    assert retrying.count() == LEARNERS
    if headers:
        for credential in retrying:
            assert "429" in credential.last_error
            assert credential.next_attempt_at >= credential.requesting_since + timedelta(seconds=1)

    settle(queued_tasks)
    assert_each_issued_once(fake_pok, learners, pok_course)
    assert fake_pok.calls["POST credential"] == LEARNERS * 3


@transactional
def test_retry_after_sets_the_countdown_of_the_next_attempt(
    fake_pok, queued_tasks, learners, pok_course, course_grade
):
    fake_pok.fail_next("POST credential", status=429, count=1, headers={"Retry-After": "120"})
    request_certificate(learners[0], pok_course, course_grade())
    queued_tasks.run(limit=1)

    [(_, _, options)] = queued_tasks.named("openedx_pok.tasks.issue_credential")
    assert options["countdown"] >= 120
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.RETRYING
    assert credential.next_attempt_at >= timezone.now() + timedelta(seconds=110)

    queued_tasks.run()  # delivered early: not due, nothing sent
    assert fake_pok.calls["POST credential"] == 1
    assert credential_of(learners[0], pok_course).state == S.RETRYING


@transactional
def test_connection_refused_is_retried_and_issued_once_pok_is_back(
    fake_pok, queued_tasks, learners, pok_course, course_grade, settings
):
    settings.POK_API_URL = closed_port_url()
    for learner in learners:
        request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    assert PokCertificate.objects.filter(state=S.RETRYING).count() == LEARNERS
    assert "PokUnavailable" in credential_of(learners[0], pok_course).last_error

    settings.POK_API_URL = fake_pok.url
    settle(queued_tasks)
    assert_each_issued_once(fake_pok, learners, pok_course)


@transactional
def test_an_outage_then_recovery_loses_no_learner_and_pays_for_none_twice(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade
):
    cohort = [make_learner() for _ in range(6)]
    fake_pok.outage = True
    for learner in cohort:
        request_certificate(learner, pok_course, course_grade())
    for _ in range(2):  # two rounds of retries while POK is still down
        queued_tasks.run()
        PokCertificate.objects.update(next_attempt_at=timezone.now())
        sweep.sweep()
    assert PokCertificate.objects.filter(state=S.RETRYING).count() == len(cohort)
    assert fake_pok.credentials == {}

    fake_pok.outage = False
    settle(queued_tasks)
    assert_each_issued_once(fake_pok, cohort, pok_course)


@transactional
def test_a_long_outage_fails_after_the_last_attempt_and_the_sweep_tries_again_later(
    fake_pok, queued_tasks, learners, pok_course, course_grade, settings
):
    settings.POK_MAX_ATTEMPTS = 2
    settings.POK_FAILED_RETRY_ROUNDS = 1
    fake_pok.outage = True
    request_certificate(learners[0], pok_course, course_grade())
    for _ in range(3):
        queued_tasks.run()
        PokCertificate.objects.filter(state=S.RETRYING).update(next_attempt_at=timezone.now())
        sweep.sweep()
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.FAILED
    assert credential.attempts == 2
    assert "after 2 attempts" in credential.last_error
    assert credential.next_attempt_at > timezone.now()

    assert sweep.sweep()["reopened_failed"] == 0  # not due yet
    later = credential.next_attempt_at + timedelta(seconds=1)
    assert sweep.sweep(now=later)["reopened_failed"] == 1
    queued_tasks.run()
    PokCertificate.objects.filter(state=S.RETRYING).update(next_attempt_at=timezone.now())
    sweep.sweep()
    queued_tasks.run()
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.FAILED
    assert credential.attempts == 4
    assert credential.next_attempt_at is None  # the rounds are spent: an operator decides now

    fake_pok.outage = False
    sweep.sweep(now=timezone.now() + timedelta(days=30))
    queued_tasks.run()
    assert fake_pok.calls["POST credential"] == 0


@transactional
@pytest.mark.parametrize(
    ("status", "error_name", "message"),
    [
        (400, "PokValidationError", "receiver.email is not accepted"),
        (422, "PokValidationError", "title too long"),
        (401, "PokAuthError", "Invalid API key"),
        (403, "PokAuthError", "Forbidden"),
    ],
)
def test_a_refusal_fails_with_poks_reason_and_no_retry_storm(
    fake_pok, queued_tasks, learners, pok_course, course_grade, status, error_name, message, tracked_events
):
    fake_pok.fail_next("POST credential", status=status, count=1, message=message)
    request_certificate(learners[0], pok_course, course_grade())
    settle(queued_tasks)

    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.FAILED
    assert error_name in credential.last_error
    assert message in credential.last_error
    assert credential.next_attempt_at is None
    for _ in range(3):
        sweep.sweep(now=timezone.now() + timedelta(days=1))
        sweep.sync_statuses(now=timezone.now() + timedelta(days=1))
        queued_tasks.run()
    assert fake_pok.calls["POST credential"] == 1
    assert credential_of(learners[0], pok_course).state == S.FAILED
    assert transitions.EVENT_FAILED in [name for name, _ in tracked_events]


@transactional
def test_a_lost_answer_after_pok_created_the_credential_is_an_unknown_outcome_posted_once(
    fake_pok, queued_tasks, learners, pok_course, course_grade
):
    fake_pok.timeout_after_create_next(count=1)
    request_certificate(learners[0], pok_course, course_grade())
    queued_tasks.run()

    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert "PokOutcomeUnknown" in credential.last_error
    assert len(fake_pok.credentials) == 1  # POK did create it

    for _ in range(3):
        sweep.sweep(now=timezone.now() + timedelta(days=1))
        queued_tasks.run()
    request_certificate(learners[0], pok_course, course_grade())  # the platform asks again
    queued_tasks.run()
    assert fake_pok.calls["POST credential"] == 1
    assert credential_of(learners[0], pok_course).state == S.OUTCOME_UNKNOWN


@transactional
def test_a_dropped_connection_during_the_post_is_an_unknown_outcome(
    fake_pok, queued_tasks, learners, pok_course, course_grade
):
    fake_pok.drop_next("POST credential", count=1)
    request_certificate(learners[0], pok_course, course_grade())
    settle_without_resending = queued_tasks.run
    settle_without_resending()
    assert credential_of(learners[0], pok_course).state == S.OUTCOME_UNKNOWN
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_unknown_outcomes_are_resent_only_when_the_operator_set_a_delay(
    fake_pok, queued_tasks, learners, pok_course, course_grade, settings
):
    fake_pok.drop_next("POST credential", count=1)
    request_certificate(learners[0], pok_course, course_grade())
    queued_tasks.run()
    assert credential_of(learners[0], pok_course).state == S.OUTCOME_UNKNOWN

    settings.POK_UNKNOWN_OUTCOME_RETRY_AFTER = 3600
    assert sweep.sweep()["resent_unknown"] == 0  # too recent
    assert sweep.sweep(now=timezone.now() + timedelta(hours=2))["resent_unknown"] == 1
    settle(queued_tasks)
    assert credential_of(learners[0], pok_course).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 2


class WorkerKilled(BaseException):
    """What a worker's sudden death looks like from inside the task: nothing after it runs."""


@transactional
def test_a_crash_between_marking_requesting_and_the_answer_becomes_an_unknown_outcome(
    fake_pok, queued_tasks, learners, pok_course, course_grade, monkeypatch, settings
):
    def killed_during_post(self, body):
        raise WorkerKilled

    monkeypatch.setattr(client.PokClient, "create_credential", killed_during_post)
    request_certificate(learners[0], pok_course, course_grade())
    with pytest.raises(WorkerKilled):
        queued_tasks.run()

    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.REQUESTING  # committed before the POST
    assert credential.attempts == 1
    monkeypatch.undo()

    assert sweep.sweep()["outcome_unknown"] == 0  # a live POST may still answer
    later = credential.requesting_since + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1)
    assert sweep.sweep(now=later)["outcome_unknown"] == 1
    for _ in range(3):
        sweep.sweep(now=later + timedelta(days=1))
        queued_tasks.run()
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_a_late_answer_after_the_sweep_gave_up_is_still_recorded(
    fake_pok, queued_tasks, learners, pok_course, course_grade, monkeypatch, settings
):
    real_create = client.PokClient.create_credential

    def slow_create(self, body):
        # The sweep runs while this POST is still on the wire.
        sweep.sweep(now=timezone.now() + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1))
        return real_create(self, body)

    monkeypatch.setattr(client.PokClient, "create_credential", slow_create)
    request_certificate(learners[0], pok_course, course_grade())
    queued_tasks.run()
    monkeypatch.undo()
    settle(queued_tasks)
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 1
    assert [step["to"] for step in credential.history][:4] == [
        "pending",
        "requesting",
        "outcome_unknown",
        "processing",
    ]


@transactional
def test_a_rate_limited_backfill_issues_everyone_once(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, settings
):
    settings.POK_RETRY_BASE_DELAY = 0.1
    settings.POK_MAX_ATTEMPTS = 50
    cohort = [make_learner() for _ in range(6)]
    fake_pok.rate_limit(per_second=5)
    for learner in cohort:
        request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks, rounds=600, pause=0.05)
    assert_each_issued_once(fake_pok, cohort, pok_course)


@transactional
def test_logs_never_carry_the_learners_name_or_email_even_when_pok_quotes_them(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, caplog
):
    learner = make_learner(profile_name="Zoë Quintana", email="zoe.quintana@example.com")
    fake_pok.fail_next(
        "POST credential", status=503, message="cannot reach mailer for zoe.quintana@example.com"
    )
    fake_pok.fail_next(
        "POST credential", status=400, message="Zoë Quintana <zoe.quintana@example.com> rejected"
    )
    with caplog.at_level("INFO"):
        request_certificate(learner, pok_course, course_grade())
        settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.FAILED
    assert "zoe.quintana@example.com" in credential.last_error  # operators see POK's words in the admin
    assert "PokValidationError, HTTP 400" in caplog.text
    assert "zoe.quintana" not in caplog.text
    assert "Quintana" not in caplog.text


@transactional
def test_a_late_refusal_after_the_sweep_gave_up_is_retried_since_nothing_was_created(
    fake_pok, queued_tasks, learners, pok_course, course_grade, monkeypatch, settings
):
    real_create = client.PokClient.create_credential

    def slow_failing_create(self, body):
        sweep.sweep(now=timezone.now() + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1))
        return real_create(self, body)

    fake_pok.fail_next("POST credential", status=503)
    monkeypatch.setattr(client.PokClient, "create_credential", slow_failing_create)
    request_certificate(learners[0], pok_course, course_grade())
    queued_tasks.run(limit=1)
    monkeypatch.undo()
    assert credential_of(learners[0], pok_course).state == S.RETRYING
    settle(queued_tasks)
    assert_each_issued_once(fake_pok, learners[:1], pok_course)
    assert fake_pok.calls["POST credential"] == 2


@transactional
def test_an_unexpected_error_before_sending_is_retried_then_failed_where_operators_see_it(
    fake_pok, queued_tasks, learners, pok_course, course_grade, monkeypatch, caplog
):
    from openedx_pok import platform_adapter

    def modulestore_hiccup(course_key):
        raise RuntimeError("modulestore hiccup")

    monkeypatch.setattr(platform_adapter, "get_course_details", modulestore_hiccup)
    request_certificate(learners[0], pok_course, course_grade())
    with caplog.at_level("INFO"):
        queued_tasks.run()  # the task does not raise

    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.RETRYING
    assert credential.attempts == 1
    assert credential.last_error.startswith("unexpected error before sending: RuntimeError")
    assert any(record.levelname == "ERROR" and record.exc_info for record in caplog.records)

    settle(queued_tasks)
    credential = credential_of(learners[0], pok_course)
    assert credential.state == S.FAILED
    assert credential.attempts == 4
    assert fake_pok.calls["POST credential"] == 0
