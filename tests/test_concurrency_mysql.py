"""
Real row locks on a MySQL-family database: ten workers triggered for the same learner at the same
moment cost one POST. Runs in the MariaDB lane (``make test DB=mysql``); SQLite has no row locks.
"""

import os
import threading
import time

import pytest
from django.db import connection, transaction

from openedx_pok import client
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import queueing
from openedx_pok.services.issuing import creation, sending, status, sweep
from tests.issuing import request_certificate, settle

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.skipif(os.environ.get("DB_ENGINE") != "mysql", reason="needs the MySQL-family lane"),
    pytest.mark.django_db(transaction=True),
]
THREADS = 10


def run_in_threads(work):
    """Start ``work`` in THREADS threads released together; each thread uses its own connection."""
    barrier = threading.Barrier(THREADS)
    errors = []

    def worker():
        try:
            barrier.wait()
            work()
        except Exception as error:  # noqa: BLE001  (collected and asserted below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_ten_concurrent_triggers_for_the_same_learner_make_one_row_and_one_post(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    fake_pok.latency = 0.2  # keep the POST on the wire while the other workers arrive

    def trigger_and_issue():
        request_certificate(learner, pok_course, course_grade())
        sending.issue(PokCertificate.objects.get(user=learner, course_key=pok_course).pk)

    run_in_threads(trigger_and_issue)

    assert PokCertificate.objects.count() == 1
    assert fake_pok.calls["POST credential"] == 1
    settle(queued_tasks)  # every queued task runs too: still one POST
    assert fake_pok.calls["POST credential"] == 1
    assert PokCertificate.objects.get().state == CredentialState.EMITTED
    assert fake_pok.duplicates() == []


def test_ten_workers_running_the_same_task_make_one_post(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    credential_id = PokCertificate.objects.get().pk
    fake_pok.latency = 0.2

    run_in_threads(lambda: sending.issue(credential_id))

    assert fake_pok.calls["POST credential"] == 1
    assert PokCertificate.objects.get().attempts == 1


def test_concurrent_sweeps_and_syncs_do_not_double_anything(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, settings
):
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    learners = [make_learner() for _ in range(5)]
    for learner in learners:
        request_certificate(learner, pok_course, course_grade())
    queued_tasks.sent.clear()
    ids = list(PokCertificate.objects.values_list("pk", flat=True))

    def every_worker_issues_everything():
        for credential_id in ids:
            sending.issue(credential_id)
        sweep.sweep()
        sweep.sync_statuses()

    run_in_threads(every_worker_issues_everything)
    settle(queued_tasks)
    assert fake_pok.calls["POST credential"] == len(learners)
    assert fake_pok.duplicates() == []
    assert set(PokCertificate.objects.values_list("state", flat=True)) == {CredentialState.EMITTED}


def test_a_request_losing_the_race_in_a_repeatable_read_transaction_finds_the_winners_row(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    """The platform's transaction read before the creation step (MySQL's default isolation)."""

    def record():
        return creation.record_certificate_request(
            user=learner,
            course_key=pok_course,
            mode="verified",
            status=None,
            course_grade=course_grade(),
            generation_mode="batch",
        )

    def other_worker():
        record()
        connection.close()

    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    try:
        with transaction.atomic():
            assert not PokCertificate.objects.filter(user=learner).exists()  # the snapshot is taken
            winner = threading.Thread(target=other_worker)
            winner.start()
            winner.join(timeout=60)
            credential = record()
    finally:
        connection.close()  # the next connection is opened with the configured isolation level

    assert credential is not None
    assert credential.pk == PokCertificate.objects.get().pk
    settle(queued_tasks)
    assert fake_pok.calls["POST credential"] == 1


@pytest.fixture
def due_check(fake_pok, queued_tasks, learner, pok_course, course_grade):
    """A credential POK keeps processing, its first status check due; the queued tasks cleared."""
    fake_pok.emit_after = None
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    credential = PokCertificate.objects.get()
    assert credential.state == CredentialState.PROCESSING
    queued_tasks.sent.clear()
    return credential


def test_ten_copies_of_a_due_check_make_one_call_and_leave_one_next_check(fake_pok, queued_tasks, due_check):
    fake_pok.latency = 0.2  # keep the GET on the wire while the other copies arrive

    run_in_threads(lambda: status.check(due_check.pk, now=due_check.next_attempt_at))

    assert fake_pok.calls["GET credential"] == 1
    assert len(queued_tasks.named(queueing.CHECK_CREDENTIAL_STATUS)) == 1
    assert PokCertificate.objects.get().next_attempt_at > due_check.next_attempt_at


def test_a_due_check_waits_for_the_row_another_transaction_holds_when_pok_answers(
    fake_pok, queued_tasks, due_check, monkeypatch
):
    """It once skipped the locked row, dropping POK's answer: the credential had no check anywhere."""
    asking, held = threading.Event(), threading.Event()
    real_get = client.PokClient.get_credential

    def get_credential(self, credential_id):
        asking.set()
        held.wait(timeout=30)  # POK answers while another transaction holds the row
        return real_get(self, credential_id)

    monkeypatch.setattr(client.PokClient, "get_credential", get_credential)
    checked = []

    def check():
        try:
            checked.append(status.check(due_check.pk, now=due_check.next_attempt_at))
        finally:
            connection.close()

    checking = threading.Thread(target=check)
    checking.start()
    assert asking.wait(timeout=30)
    with transaction.atomic():
        PokCertificate.objects.select_for_update().get(pk=due_check.pk)
        held.set()
        time.sleep(0.5)  # the check comes back for the row meanwhile
    checking.join(timeout=60)

    assert checked == [CredentialState.PROCESSING]
    assert len(queued_tasks.named(queueing.CHECK_CREDENTIAL_STATUS)) == 1
    assert PokCertificate.objects.get().next_attempt_at > due_check.next_attempt_at
