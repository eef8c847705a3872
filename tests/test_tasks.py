"""The Celery entry points: names, JSON arguments, queue, and the beat schedule operators install."""

import json

import pytest
from django.utils import timezone

from openedx_pok import celery_schedule, tasks
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import policy
from openedx_pok.services.issuing import sweep
from tests.issuing import request_certificate

transactional = pytest.mark.django_db(transaction=True)


@transactional
@pytest.mark.parametrize("queue", [None, "pok"])
def test_the_issuing_task_is_sent_with_json_arguments_to_the_configured_queue(
    queued_tasks, learner, pok_course, course_grade, settings, queue
):
    settings.POK_CELERY_QUEUE = queue
    request_certificate(learner, pok_course, course_grade())
    [(args, kwargs, options)] = queued_tasks.named("openedx_pok.tasks.issue_credential")
    assert json.loads(json.dumps([args, kwargs])) == [list(args), kwargs]
    assert args == (PokCertificate.objects.get().pk,)
    assert options.get("queue") == queue


@transactional
def test_the_issuing_task_accepts_its_id_as_json_may_deliver_it(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.sent.clear()
    tasks.issue_credential(str(PokCertificate.objects.get().pk))
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_the_issuing_task_ignores_a_deleted_credential(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    credential_id = PokCertificate.objects.get().pk
    PokCertificate.objects.all().delete()
    queued_tasks.run()
    tasks.issue_credential(credential_id)
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_the_periodic_tasks_report_counts(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    fake_pok.emit_after = None
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    fake_pok.emit_all()
    # The credential's own first check was lost: the safety net checks it.
    PokCertificate.objects.update(next_attempt_at=timezone.now() - policy.OVERDUE_CHECK_AFTER)
    assert tasks.sync_credential_statuses()["emitted"] == 1
    assert tasks.sweep_credentials() == {
        "requeued": 0,
        "checks_requeued": 0,
        "outcome_unknown": 0,
        "reopened_failed": 0,
        "resent_unknown": 0,
        "errors": 0,
    }
    assert PokCertificate.objects.get().state == CredentialState.EMITTED


def test_every_task_is_registered_under_its_documented_name():
    names = {
        tasks.issue_credential.name,
        tasks.record_created_credential.name,
        tasks.check_credential_status.name,
        tasks.sweep_credentials.name,
        tasks.sync_credential_statuses.name,
        tasks.reconcile_certificates.name,
        tasks.refresh_credential_image.name,
    }
    assert names == {
        "openedx_pok.tasks.issue_credential",
        "openedx_pok.tasks.record_created_credential",
        "openedx_pok.tasks.check_credential_status",
        "openedx_pok.tasks.sweep_credentials",
        "openedx_pok.tasks.sync_credential_statuses",
        "openedx_pok.tasks.reconcile_certificates",
        "openedx_pok.tasks.refresh_credential_image",
    }


def test_the_beat_schedule_runs_the_sweep_and_the_sync():
    schedule = celery_schedule.beat_schedule()
    assert {entry["task"] for entry in schedule.values()} == {
        tasks.sweep_credentials.name,
        tasks.sync_credential_statuses.name,
        tasks.reconcile_certificates.name,
    }
    assert all(entry["options"] == {} for entry in schedule.values())
    assert all(
        entry["options"] == {"queue": "other"} for entry in celery_schedule.beat_schedule("other").values()
    )


@pytest.mark.parametrize(
    ("task", "service"),
    [(tasks.sweep_credentials, "sweep"), (tasks.sync_credential_statuses, "sync_statuses")],
)
def test_a_periodic_run_is_skipped_while_the_previous_one_is_still_going(monkeypatch, caplog, task, service):
    runs = []

    def slow_run():
        runs.append("outer")
        assert task() == {}  # beat fires again while POK is slow
        return {"polled": 0}

    monkeypatch.setattr(sweep, service, slow_run)
    with caplog.at_level("INFO", logger="openedx_pok.tasks"):
        assert task() == {"polled": 0}
    assert runs == ["outer"]
    assert "skipped: the previous run is still going" in caplog.text

    def failing_run():
        raise ConnectionError("POK unreachable")

    monkeypatch.setattr(sweep, service, failing_run)
    with pytest.raises(ConnectionError):
        task()
    monkeypatch.setattr(sweep, service, lambda: {"polled": 1})
    assert task() == {"polled": 1}  # the lock was released by the failed run
