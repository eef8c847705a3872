"""
One chain each, whatever is delivered twice; and chains that outlive the broker.

A broker may deliver a message twice (Redis does when a countdown outlives its visibility
timeout) and a restart loses every waiting one. Copies of the sweep's, the reconciliation's or a
credential's due check leave one chain each, and a chain the broker lost is found overdue in the
database and re-armed by whatever runs next: a worker starting, a certificate request, a page
view, any task. The broker's loss is simulated by clearing the queued tasks (and the cache).
"""

from datetime import timedelta
from io import StringIO

import pytest
from celery import current_app
from celery.signals import task_prerun, worker_ready
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from openedx_pok import client, tasks
from openedx_pok.models import CredentialState, PeriodicRun, PokCertificate
from openedx_pok.services import lifecycle, policy, queueing
from openedx_pok.services.issuing import liveness, reconciliation, status, sweep
from tests.chains import RECONCILE, SWEEP, live_runs
from tests.issuing import request_certificate

S = CredentialState
CHECK = queueing.CHECK_CREDENTIAL_STATUS
COPIES = 20
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def processing(fake_pok, credential_in):
    """Credentials POK accepted and keeps processing (until ``fake_pok.emit_all()``)."""
    fake_pok.emit_after = None

    def make(count=1):
        return [credential_in(S.PROCESSING) for _ in range(count)]

    return make


def time_passes(seconds: float) -> None:
    """The clock moves on: every moment the database holds moves back by ``seconds``."""
    ago = timedelta(seconds=seconds)
    PokCertificate.objects.update(
        next_attempt_at=F("next_attempt_at") - ago,
        requesting_since=F("requesting_since") - ago,
        modified=F("modified") - ago,
        created=F("created") - ago,
    )
    PeriodicRun.objects.update(last_run_at=F("last_run_at") - ago, next_run_at=F("next_run_at") - ago)
    a_new_interval_begins()


def a_new_interval_begins() -> None:
    """The once-per-interval judgement and restoration may happen again."""
    interval = int(timezone.now().timestamp() // policy.SWEEP_INTERVAL)
    cache.delete_many([gate.format(interval) for gate in (liveness.JUDGED_KEY, liveness.RESTORED_KEY)])


def broker_lost(queued_tasks, *, cache_too: bool) -> None:
    """A broker restart: every waiting task is gone (and the cache, when it lived on the same Redis)."""
    queued_tasks.sent.clear()
    if cache_too:
        cache.clear()


def deliver(queued_tasks, task_name: str, copies: int) -> None:
    """The chain's live run, delivered ``copies`` times; the copies arrive while the first runs."""
    [(args, kwargs, _)] = live_runs(queued_tasks, task_name)
    task = current_app.tasks[task_name]
    queued_tasks.sent.clear()
    first_delivery = []

    def run_copies_meanwhile(original):
        def work(*work_args, **work_kwargs):
            if not first_delivery:
                first_delivery.append(True)
                for _ in range(copies - 1):
                    assert task(*args, **kwargs) == {}  # a copy finds the run already going
            return original(*work_args, **work_kwargs)

        return work

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sweep, "sweep", run_copies_meanwhile(sweep.sweep))
        patch.setattr(reconciliation, "reconcile", run_copies_meanwhile(reconciliation.reconcile))
        task(*args, **kwargs)
    for _ in range(copies):  # and copies arriving after it handed over
        assert task(*args, **kwargs) == {}


# -- one chain each, whatever is delivered twice -------------------------------------------------------


@pytest.mark.parametrize("task_name", [SWEEP, RECONCILE])
def test_twenty_copies_of_a_periodic_run_leave_one_chain(queued_tasks, processing, task_name):
    processing()  # its request started both chains; the sweep's goes on while the credential waits
    assert len(live_runs(queued_tasks, task_name)) == 1
    for _ in range(3):  # three generations of the chain, each run delivered twenty times
        deliver(queued_tasks, task_name, COPIES)
        assert len(queued_tasks.named(task_name)) == 1
        assert len(live_runs(queued_tasks, task_name)) == 1


def test_chains_left_over_from_duplicates_merge_into_one(queued_tasks, processing):
    """Several chains (an earlier version's duplicates, a lost marker): one generation later, one."""
    processing()
    for _ in range(6):
        queueing.reschedule(SWEEP, countdown=60)
    cache.delete(queueing.SCHEDULED_KEY.format(SWEEP))  # the cache forgot which one is current
    runs = queued_tasks.named(SWEEP)
    queued_tasks.sent.clear()
    for args, kwargs, _ in runs:
        tasks.sweep_credentials(*args, **kwargs)
    assert len(queued_tasks.named(SWEEP)) == 1
    assert len(live_runs(queued_tasks, SWEEP)) == 1


def test_a_chained_run_hands_over_even_when_its_work_is_skipped_or_fails(
    queued_tasks, processing, monkeypatch
):
    processing()

    def failing_sweep(now=None):
        raise RuntimeError("a bug in this run")

    monkeypatch.setattr(sweep, "sweep", failing_sweep)
    [(args, kwargs, _)] = live_runs(queued_tasks, SWEEP)
    queued_tasks.sent.clear()
    with pytest.raises(RuntimeError):
        tasks.sweep_credentials(*args, **kwargs)
    [(args, kwargs, _)] = live_runs(queued_tasks, SWEEP)

    cache.add("openedx_pok.single_flight.sweep", "running", 60)  # beat's run is still going
    queued_tasks.sent.clear()
    assert tasks.sweep_credentials(*args, **kwargs) == {}
    assert len(live_runs(queued_tasks, SWEEP)) == 1


def test_the_sweep_chain_outlives_a_database_that_refuses_to_say_what_waits(
    queued_tasks, processing, monkeypatch
):
    processing()
    [(args, kwargs, _)] = live_runs(queued_tasks, SWEEP)
    queued_tasks.sent.clear()

    def refused(now=None):
        raise DatabaseError("server has gone away")

    monkeypatch.setattr(sweep, "next_run_in", refused)
    tasks.sweep_credentials(*args, **kwargs)
    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options["countdown"] == policy.SWEEP_INTERVAL


def test_the_sweep_chain_ends_when_nothing_waits_and_a_late_copy_changes_nothing(queued_tasks, db):
    queueing.ensure_scheduled(SWEEP, countdown=60)
    [(args, kwargs, _)] = live_runs(queued_tasks, SWEEP)
    queued_tasks.sent.clear()
    tasks.sweep_credentials(*args, **kwargs)
    assert queued_tasks.sent == []
    assert PeriodicRun.objects.get(task_name=SWEEP).next_run_at is None
    tasks.sweep_credentials(*args, **kwargs)  # delivered again
    assert queued_tasks.sent == []


def test_twenty_copies_of_a_due_check_make_one_call_and_leave_one_next_check(
    fake_pok, queued_tasks, processing, monkeypatch
):
    [credential] = processing()
    due = PokCertificate.objects.get(pk=credential.pk).next_attempt_at
    queued_tasks.sent.clear()
    real_get = client.PokClient.get_credential
    copies_found = []

    def get_credential(self, credential_id):
        if not copies_found:  # the other copies arrive while the first asks POK
            copies_found.extend(status.check(credential.pk, now=due) for _ in range(COPIES - 1))
        return real_get(self, credential_id)

    monkeypatch.setattr(client.PokClient, "get_credential", get_credential)
    assert status.check(credential.pk, now=due) == S.PROCESSING
    assert copies_found == [None] * (COPIES - 1)
    for _ in range(COPIES):  # and copies arriving after it
        assert status.check(credential.pk, now=due) is None

    assert fake_pok.calls["GET credential"] == 1
    [(args, kwargs, options)] = queued_tasks.named(CHECK)
    assert (args, kwargs) == ((credential.pk,), {})
    after = PokCertificate.objects.get(pk=credential.pk)
    assert after.next_attempt_at > due
    assert options["countdown"] == pytest.approx((after.next_attempt_at - due).total_seconds(), abs=0.01)


def test_a_due_check_that_finds_the_row_held_waits_and_records_its_answer(
    fake_pok, queued_tasks, processing, monkeypatch
):
    """
    Another transaction holds the row (a copy of the check, an early check, an operator) when POK's
    answer comes back: the check waits for the row, as a database with row locks makes it, instead
    of skipping it and leaving the credential with no check scheduled anywhere.
    """
    [credential] = processing()
    due = PokCertificate.objects.get(pk=credential.pk).next_attempt_at
    queued_tasks.sent.clear()
    held = []
    real_lock, real_get = lifecycle.lock, client.PokClient.get_credential

    def lock(pok_certificate_id, *, skip_locked=True):
        if held and skip_locked:
            return None  # what SKIP LOCKED answers while the other transaction holds the row
        return real_lock(pok_certificate_id, skip_locked=skip_locked)  # waits, then reads it

    def get_credential(self, credential_id):
        held.append(True)  # the other transaction takes the row while POK answers
        return real_get(self, credential_id)

    monkeypatch.setattr(lifecycle, "lock", lock)
    monkeypatch.setattr(client.PokClient, "get_credential", get_credential)
    assert status.check(credential.pk, now=due) == S.PROCESSING
    assert len(queued_tasks.named(CHECK)) == 1
    assert PokCertificate.objects.get(pk=credential.pk).next_attempt_at > due


def test_a_check_that_outlived_its_lease_leaves_the_chain_to_the_check_that_took_over(
    fake_pok, queued_tasks, processing, monkeypatch
):
    [credential] = processing()
    due = PokCertificate.objects.get(pk=credential.pk).next_attempt_at
    queued_tasks.sent.clear()
    real_get = client.PokClient.get_credential
    stalled = []

    def get_credential(self, credential_id):
        if not stalled:  # this worker stalls past its lease; the sweep's check takes the row over
            stalled.append(True)
            lease_end = PokCertificate.objects.get(pk=credential.pk).next_attempt_at
            assert status.check(credential.pk, now=lease_end) == S.PROCESSING
        return real_get(self, credential_id)

    monkeypatch.setattr(client.PokClient, "get_credential", get_credential)
    assert status.check(credential.pk, now=due) == S.PROCESSING
    assert len(queued_tasks.named(CHECK)) == 1  # the later check's; the stalled one only recorded


# -- chains that outlive the broker --------------------------------------------------------------------


def test_after_the_broker_and_cache_are_lost_a_worker_start_has_every_overdue_credential_checked(
    fake_pok, queued_tasks, processing
):
    credentials = processing(3)
    broker_lost(queued_tasks, cache_too=True)
    time_passes(10 * 60)  # nobody came for ten minutes: no beat, no page views
    fake_pok.emit_all()
    gets = fake_pok.calls["GET credential"]

    worker_ready.send(sender=None)

    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options.get("countdown", 0) == 0  # overdue: at once
    queued_tasks.run()  # the sweep re-queues every lost check, which runs
    assert fake_pok.calls["GET credential"] - gets == len(credentials)
    assert set(PokCertificate.objects.values_list("state", flat=True)) == {S.EMITTED}


def test_with_the_cache_kept_a_worker_start_replaces_the_chain_its_stale_marker_vouches_for(
    fake_pok, queued_tasks, processing
):
    """The cache still says a sweep is scheduled (for 35 minutes): the database knows better."""
    processing(2)
    broker_lost(queued_tasks, cache_too=False)
    fake_pok.emit_all()
    a_new_interval_begins()

    worker_ready.send(sender=None)  # at once: the broker restarted, and so did the worker

    # Their checks were due within seconds: within two sweep intervals each credential is checked.
    elapsed = 0.0
    while PokCertificate.objects.filter(state=S.PROCESSING).exists():
        [(_, _, options)] = live_runs(queued_tasks, SWEEP)
        countdown = options.get("countdown", 0)
        elapsed += countdown
        assert elapsed <= 2 * policy.SWEEP_INTERVAL
        time_passes(countdown)
        queued_tasks.run(delayed=True)
    assert set(PokCertificate.objects.values_list("state", flat=True)) == {S.EMITTED}


@pytest.mark.parametrize("cache_too", [True, False], ids=["broker-and-cache-lost", "cache-kept"])
def test_after_the_broker_is_lost_a_certificate_request_restores_the_chains_once_an_interval(
    fake_pok, queued_tasks, processing, make_learner, pok_course, course_grade, cache_too
):
    credentials = processing(2)
    broker_lost(queued_tasks, cache_too=cache_too)
    time_passes(5 * 60)
    fake_pok.emit_all()

    for _ in range(3):  # learners passing within the same minute
        request_certificate(make_learner(), pok_course, course_grade())

    assert len(queued_tasks.named(SWEEP)) == 1
    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options.get("countdown", 0) == 0  # overdue: at once
    assert len(queued_tasks.named(RECONCILE)) == 1
    [(_, _, options)] = live_runs(queued_tasks, RECONCILE)
    assert 0 < options["countdown"] <= policy.MAX_COUNTDOWN  # when the database expects it
    queued_tasks.run()
    assert all(PokCertificate.objects.get(pk=c.pk).state == S.EMITTED for c in credentials)


def test_a_worker_starting_on_a_quiet_site_leaves_the_first_certificate_requests_their_turn(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade
):
    """No credential yet: the worker has nothing to restore, and the learners passing next minute
    still get the sweep and the reconciliation chains."""
    worker_ready.send(sender=None)
    assert queued_tasks.named(SWEEP) == []
    assert queued_tasks.named(RECONCILE) == []

    request_certificate(make_learner(), pok_course, course_grade())

    assert len(live_runs(queued_tasks, SWEEP)) == 1
    assert len(live_runs(queued_tasks, RECONCILE)) == 1


def test_once_the_chains_are_restored_later_requests_in_the_interval_ask_the_database_nothing(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, django_assert_num_queries
):
    request_certificate(make_learner(), pok_course, course_grade())
    assert len(live_runs(queued_tasks, SWEEP)) == 1

    with django_assert_num_queries(0):
        assert liveness.restore_chains() == []


def test_a_lost_chain_is_rearmed_by_any_task_at_most_once_per_interval(fake_pok, queued_tasks, processing):
    [credential] = processing()

    def tasks_run_anyway(count):  # another credential's checks, say
        for _ in range(count):
            task_prerun.send(
                sender=tasks.check_credential_status, task_id="1", task=None, args=[credential.pk]
            )

    for _ in range(2):
        broker_lost(queued_tasks, cache_too=False)
        time_passes(policy.MAX_COUNTDOWN + 5 * 60)  # every run is long overdue
        tasks_run_anyway(5)
        for chain in (SWEEP, RECONCILE):
            assert len(queued_tasks.named(chain)) == 1
            [(_, _, options)] = live_runs(queued_tasks, chain)
            assert options.get("countdown", 0) == 0
        broker_lost(queued_tasks, cache_too=False)
        tasks_run_anyway(5)  # lost again, within the same interval: judged once an interval
        assert queued_tasks.sent == []


def test_the_periodic_tasks_do_not_judge_themselves(queued_tasks, processing):
    processing()
    broker_lost(queued_tasks, cache_too=True)
    time_passes(10 * 60)
    for task in (tasks.sweep_credentials, tasks.reconcile_certificates):
        task_prerun.send(sender=task, task_id="1", task=task, args=[])
    assert queued_tasks.sent == []


def test_a_learner_waiting_on_the_page_rearms_the_sweep_for_a_lost_credential(
    client, fake_pok, queued_tasks, credential_in, settings
):
    settings.POK_RETRY_BASE_DELAY = 1
    settings.POK_STATUS_POLL_INITIAL_DELAY = 0
    credential = credential_in(S.RETRYING)  # its retry's task is lost with the broker
    broker_lost(queued_tasks, cache_too=False)
    time_passes(5 * 60)

    for _ in range(3):
        assert client.get(f"/pok/credentials/{credential.public_id}/status").json() == {"state": "issuing"}
    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options.get("countdown", 0) == 0
    assert len(queued_tasks.named(SWEEP)) == 1
    queued_tasks.run()
    assert PokCertificate.objects.get(pk=credential.pk).state == S.EMITTED


def test_a_viewed_credential_whose_check_was_lost_takes_its_chain_up_within_seconds(
    client, fake_pok, queued_tasks, processing
):
    [credential] = processing()
    broker_lost(queued_tasks, cache_too=False)
    time_passes(60)

    client.get(f"/pok/credentials/{credential.public_id}/status")
    [(args, kwargs, options)] = queued_tasks.named(CHECK)
    assert kwargs == {"early": True}
    assert "countdown" not in options
    queued_tasks.sent.clear()
    tasks.check_credential_status(*args, **kwargs)
    [(_, kwargs, options)] = queued_tasks.named(CHECK)  # it was due: the chain goes on from it
    assert kwargs == {}
    assert options["countdown"] > 0


def test_nothing_is_rearmed_while_the_chains_are_alive(queued_tasks, processing):
    processing()
    queueing.ensure_scheduled(SWEEP, countdown=policy.SWEEP_INTERVAL)
    queued_tasks.sent.clear()
    assert liveness.rearm_overdue() == []
    assert queued_tasks.sent == []


def test_nothing_is_rearmed_in_eager_mode_or_in_studio(queued_tasks, processing, settings):
    processing()
    broker_lost(queued_tasks, cache_too=True)
    time_passes(10 * 60)
    settings.ROOT_URLCONF = "cms.urls"  # Studio: its workers run none of these tasks
    assert liveness.restore_chains() == []
    settings.ROOT_URLCONF = "tests.urls"
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        assert liveness.restore_chains() == []
        assert liveness.rearm_overdue() == []
    finally:
        current_app.conf.task_always_eager = was_eager
    assert queued_tasks.sent == []
    assert liveness.restore_chains() == [SWEEP, RECONCILE]


def test_no_run_waits_in_the_broker_longer_than_the_longest_countdown(queued_tasks, db):
    assert queueing.reschedule(SWEEP, countdown=10 * policy.MAX_COUNTDOWN)
    [(_, _, options)] = live_runs(queued_tasks, SWEEP)
    assert options["countdown"] == policy.MAX_COUNTDOWN


def test_pok_sync_hurries_the_recovery_and_schedules_the_chains_again(fake_pok, queued_tasks, processing):
    processing(2)
    broker_lost(queued_tasks, cache_too=False)
    time_passes(5 * 60)
    fake_pok.emit_all()

    out = StringIO()
    call_command("pok_sync", stdout=out)

    assert set(PokCertificate.objects.values_list("state", flat=True)) == {S.EMITTED}
    assert f"Scheduled again: {RECONCILE}" in out.getvalue()
    assert len(live_runs(queued_tasks, RECONCILE)) == 1
