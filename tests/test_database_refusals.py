"""
The database refuses the workers (down, restarting, a dropped connection): no task is dropped, and
an answer POK gave to a POST reaches its row, once the database is back, without a second POST.
"""

import uuid
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, connection
from django.utils import timezone

from openedx_pok import tasks
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState
from openedx_pok.services import policy, queueing
from openedx_pok.services.issuing import operator_actions, reconciliation, sending, status, sweep
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_checks(settings):
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0


def gone_away():
    return OperationalError(2006, "MySQL server has gone away")


class RefusedPokIdWrites:
    """The database refuses the first ``times`` writes that carry a POK id: the recording of POK's answer."""

    def __init__(self, fake_pok, times=1):
        self.fake_pok, self.left = fake_pok, times

    def __call__(self, execute, sql, params, many, context):
        carries_pok_id = any(
            isinstance(value, str) and value in self.fake_pok.credentials for value in params or ()
        )
        if self.left and sql.lstrip().upper().startswith("UPDATE") and carries_pok_id:
            self.left -= 1
            raise gone_away()
        return execute(sql, params, many, context)


def refuse_every_query(execute, sql, params, many, context):
    raise gone_away()


def run_as_a_worker(task, args=(), kwargs=None, retries=0):
    """
    Run a task as a Celery worker does (not called directly), so that a retry it asks for is sent
    to the broker (``queued_tasks``) and raised as Retry instead of the error.
    """
    kwargs = kwargs or {}
    task.push_request(
        id=uuid.uuid4().hex,
        args=list(args),
        kwargs=kwargs,
        retries=retries,
        called_directly=False,
        delivery_info={},
    )
    try:
        return task.run(*args, **kwargs)
    finally:
        task.pop_request()


def deliver_as_a_worker(queued_tasks, task, deliveries=10):
    """
    Deliver the queued ``task`` and the retries it asks for (countdowns passed), as a worker would,
    ``deliveries`` at most; returns the retries' countdowns.
    """
    countdowns = []
    while deliveries and (delivered := queued_tasks.named(task.name)):
        deliveries -= 1
        args, kwargs, options = delivered[0]
        queued_tasks.sent = [entry for entry in queued_tasks.sent if entry[3] is not options]
        try:
            run_as_a_worker(task, args, kwargs, retries=options.get("retries", 0))
        except Retry as retry:
            countdowns.append(retry.when)
    return countdowns


def only_post(fake_pok):
    assert fake_pok.calls["POST credential"] == 1
    [pok_id] = fake_pok.credentials
    return pok_id


def states_passed(credential):
    return [step["to"] for step in credential.history]


# -- an answer received is never lost -------------------------------------------------------------------


@transactional
def test_an_answer_the_database_refused_once_reaches_the_row_and_is_never_posted_again(
    fake_pok, queued_tasks, learner, pok_course, course_grade, caplog
):
    request_certificate(learner, pok_course, course_grade())
    with connection.execute_wrapper(RefusedPokIdWrites(fake_pok)):
        queued_tasks.run()
    pok_id = only_post(fake_pok)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.REQUESTING
    assert credential.pok_credential_id is None
    [(args, _, options)] = queued_tasks.named(queueing.RECORD_CREATED_CREDENTIAL)
    assert 0 < options["countdown"] <= policy.MAX_COUNTDOWN
    assert args[0] == credential.pk

    tasks.issue_credential(credential.pk)  # the issuing task delivered again meanwhile
    assert fake_pok.calls["POST credential"] == 1

    queued_tasks.run(delayed=True)
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.pok_credential_id == pok_id
    assert S.OUTCOME_UNKNOWN not in states_passed(credential)
    assert fake_pok.calls["POST credential"] == 1

    history = credential.history
    with caplog.at_level("INFO"):
        tasks.record_created_credential(*args)  # the recording task delivered twice
    assert credential_of(learner, pok_course).history == history
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


@transactional
def test_the_recording_task_is_retried_while_the_database_refuses_then_the_checks_take_over(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    with connection.execute_wrapper(RefusedPokIdWrites(fake_pok, times=4)):
        queued_tasks.run()
        countdowns = deliver_as_a_worker(queued_tasks, tasks.record_created_credential)
    assert len(countdowns) == 3
    assert all(0 <= countdown <= policy.DATABASE_RETRY_MAX_DELAY for countdown in countdowns)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.PROCESSING
    assert credential.pok_credential_id == only_post(fake_pok)
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_a_late_answer_after_the_sweep_called_the_outcome_unknown_is_still_recorded(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    with connection.execute_wrapper(RefusedPokIdWrites(fake_pok)):
        queued_tasks.run()
    later = timezone.now() + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1)
    assert sweep.sweep(now=later)["outcome_unknown"] == 1  # the database came back after a while

    queued_tasks.run(delayed=True)
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.pok_credential_id == only_post(fake_pok)
    assert states_passed(credential)[-3:] == [S.OUTCOME_UNKNOWN, S.PROCESSING, S.EMITTED]


@transactional
def test_a_late_answer_after_the_row_moved_on_changes_nothing(
    fake_pok, queued_tasks, learner, pok_course, course_grade, caplog
):
    request_certificate(learner, pok_course, course_grade())
    with connection.execute_wrapper(RefusedPokIdWrites(fake_pok)):
        queued_tasks.run()
    [(late_answer, _, late_options)] = queued_tasks.named(queueing.RECORD_CREATED_CREDENTIAL)
    queued_tasks.sent = [entry for entry in queued_tasks.sent if entry[3] is not late_options]
    [first_pok_id] = fake_pok.credentials
    later = timezone.now() + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1)
    sweep.sweep(now=later)
    operator_actions.reissue(credential_of(learner, pok_course))  # the operator paid for another one
    settle(queued_tasks)
    settled = credential_of(learner, pok_course)
    assert settled.state == S.EMITTED
    assert settled.pok_credential_id != first_pok_id

    with caplog.at_level("INFO"):
        tasks.record_created_credential(*late_answer)
    credential = credential_of(learner, pok_course)
    assert (credential.state, credential.pok_credential_id) == (S.EMITTED, settled.pok_credential_id)
    assert credential.history == settled.history
    assert (
        f"POK credential {first_pok_id} created for row {credential.pk}, which is now emitted" in caplog.text
    )


# -- every task the database refuses is retried --------------------------------------------------------


def refused(*args, **kwargs):
    raise gone_away()


ANSWER = {"id": "pok-1", "state": "processing", "view_url": "", "emission_date": None, "problems": []}
TASKS_AND_THEIR_WORK = [
    (tasks.issue_credential, sending, "issue", (7,)),
    (
        tasks.record_created_credential,
        sending,
        "record_created_later",
        (7, "2026-01-01T00:00:00+00:00", "", ANSWER),
    ),
    (tasks.check_credential_status, status, "check", (7,)),
    (tasks.refresh_credential_image, status, "refresh_image_of", (7,)),
    (tasks.sweep_credentials, sweep, "sweep", ()),
    (tasks.sync_credential_statuses, sweep, "sync_statuses", ()),
    (tasks.reconcile_certificates, reconciliation, "reconcile", ()),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("task", "service", "work", "args"), TASKS_AND_THEIR_WORK)
def test_a_task_the_database_refuses_is_sent_again_with_the_same_arguments(
    queued_tasks, monkeypatch, task, service, work, args
):
    monkeypatch.setattr(service, work, refused)
    with pytest.raises(Retry):
        run_as_a_worker(task, args)
    [(retried_args, _, options)] = queued_tasks.named(task.name)
    assert retried_args == args
    assert options["retries"] == 1
    assert 0 <= options["countdown"] <= 1  # the first retry comes at once

    queued_tasks.sent.clear()
    with pytest.raises(Retry):
        run_as_a_worker(task, args, retries=20)
    [(_, _, options)] = queued_tasks.named(task.name)
    assert 0 <= options["countdown"] <= policy.DATABASE_RETRY_MAX_DELAY

    queued_tasks.sent.clear()
    with pytest.raises(OperationalError):  # bounded: then the sweep and the reconciliation take over
        run_as_a_worker(task, args, retries=task.max_retries)
    assert queued_tasks.sent == []


def test_database_retries_are_bounded_and_never_outlive_the_brokers_visibility_timeout():
    assert policy.DATABASE_RETRY_MAX_DELAY <= policy.MAX_COUNTDOWN
    for task, *_ in TASKS_AND_THEIR_WORK:
        assert task.max_retries is not None
        assert task.retry_backoff_max == policy.DATABASE_RETRY_MAX_DELAY
        assert task.retry_jitter


def test_a_query_the_database_refuses_on_its_merits_is_not_retried(queued_tasks, monkeypatch):
    from django.db import IntegrityError

    def duplicate(*args):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(sending, "issue", duplicate)
    with pytest.raises(IntegrityError):
        run_as_a_worker(tasks.issue_credential, (7,))
    assert queued_tasks.sent == []


@transactional
def test_an_issuing_task_the_database_refused_issues_the_credential_once_it_is_back(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    with connection.execute_wrapper(refuse_every_query):
        deliver_as_a_worker(queued_tasks, tasks.issue_credential, deliveries=1)
    [(_, _, options)] = queued_tasks.named(tasks.issue_credential.name)
    assert options["retries"] == 1
    assert fake_pok.calls["POST credential"] == 0

    deliver_as_a_worker(queued_tasks, tasks.issue_credential)
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.attempts == 1
    assert credential.pok_credential_id == only_post(fake_pok)


@transactional
def test_a_database_refusal_while_preparing_spends_no_attempt(
    fake_pok, queued_tasks, learner, pok_course, course_grade, monkeypatch
):
    request_certificate(learner, pok_course, course_grade())
    monkeypatch.setattr(sending, "credential_payload", refused)
    with pytest.raises(OperationalError):
        queued_tasks.run()  # called directly, the task raises what a worker retries
    credential = credential_of(learner, pok_course)
    assert (credential.state, credential.attempts, credential.last_error) == (S.PENDING, 0, "")
    assert fake_pok.calls["POST credential"] == 0
