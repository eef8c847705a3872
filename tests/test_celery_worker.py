"""
A real Celery worker (separate processes, Redis broker, MariaDB) issues 50 learners end to end,
through the creation filter, the issuing task with injected POK failures, and the status sync; and
with no beat, it brings every credential to emission after the broker lost everything.
Runs in the MariaDB lane (``make test DB=mysql``) with Redis on 127.0.0.1:6379.
"""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery, _state
from django.db import connection
from django.db.models import F

from openedx_pok import tasks
from openedx_pok.models import CredentialState, PeriodicRun, PokCertificate
from tests.issuing import request_certificate

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.celery_worker,
    pytest.mark.skipif(os.environ.get("DB_ENGINE") != "mysql", reason="needs the MariaDB and Redis lane"),
    pytest.mark.django_db(transaction=True),
]
LEARNERS = 50
REDIS_URL = os.environ.get("POK_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
# The broker-loss test's own database: it flushes it, as a Redis restart (broker and cache) would.
LOST_REDIS_URL = os.environ.get("POK_TEST_LOST_REDIS_URL", "redis://127.0.0.1:6379/10")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def queue_name():
    return f"openedx-pok-test-{uuid.uuid4().hex[:8]}"


@contextmanager
def producer_on(redis_url: str, queue_name: str):
    """Our tasks go to Redis while the test runs: a producer application made current."""
    previous = _state.get_current_app()
    producer = Celery("openedx_pok_test_producer", broker=redis_url, set_as_current=False)
    producer.conf.task_default_queue = queue_name
    producer.set_current()
    try:
        yield producer
    finally:
        previous.set_current()
        with producer.connection_for_write() as broker_connection:
            broker_connection.default_channel.client.delete(queue_name)
        producer.close()


@pytest.fixture
def redis_broker(queue_name):
    with producer_on(REDIS_URL, queue_name) as producer:
        yield producer


def start_worker(fake_pok, redis_url: str, queue_name: str, **environment) -> subprocess.Popen:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform_stand_ins")]),
        "DJANGO_SETTINGS_MODULE": "tests.celery_worker_settings",
        "DB_ENGINE": "mysql",
        "POK_WORKER_DB_NAME": connection.settings_dict["NAME"],
        "POK_WORKER_BROKER_URL": redis_url,
        "POK_WORKER_QUEUE": queue_name,
        "POK_WORKER_API_URL": fake_pok.url,
        **environment,
    }
    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "-Q", queue_name]
    command += ["-c", "4", "-P", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    command += ["-l", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker(fake_pok, redis_broker, queue_name, settings):
    settings.POK_CELERY_QUEUE = queue_name
    process = start_worker(fake_pok, REDIS_URL, queue_name)
    yield process
    stop_worker(process)


def test_a_real_worker_issues_fifty_learners_exactly_once(
    fake_pok, celery_worker, make_learner, pok_course, course_grade
):
    fake_pok.fail_next("POST credential", status=503, count=5)
    fake_pok.fail_next("GET credential", status=500, count=3)
    learners = [make_learner() for _ in range(LEARNERS)]
    for learner in learners:
        request_certificate(learner, pok_course, course_grade())

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert celery_worker.poll() is None, "the Celery worker exited"
        if PokCertificate.objects.filter(state=CredentialState.EMITTED).count() == LEARNERS:
            break
        tasks.sync_credential_statuses.apply_async()
        tasks.sweep_credentials.apply_async()
        time.sleep(1)

    states = list(PokCertificate.objects.values_list("state", flat=True))
    assert states == [CredentialState.EMITTED] * LEARNERS
    assert fake_pok.duplicates() == []
    assert len(fake_pok.credentials) == LEARNERS
    assert fake_pok.calls["POST credential"] == LEARNERS + 5
    issued_to = {credential["receiver"]["email"] for credential in fake_pok.credentials.values()}
    assert issued_to == {learner.email for learner in learners}


def test_with_no_beat_each_credential_checks_itself_until_emitted_then_stops(
    fake_pok, celery_worker, make_learner, pok_course, course_grade, make_platform_certificate, client
):
    fake_pok.emit_after = 1.0
    learners = [make_learner() for _ in range(10)]
    for learner in learners:
        request_certificate(learner, pok_course, course_grade())

    # Nothing sends the sweep or the status sync: the credentials' own checks must do it all.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert celery_worker.poll() is None, "the Celery worker exited"
        if PokCertificate.objects.filter(state=CredentialState.EMITTED).count() == len(learners):
            break
        time.sleep(0.2)
    assert list(PokCertificate.objects.values_list("state", flat=True)) == [CredentialState.EMITTED] * len(
        learners
    )
    certificate = make_platform_certificate(learners[0], pok_course)
    assert "being issued" not in client.get(f"/certificates/{certificate.verify_uuid}").content.decode()

    # The chains have ended; a check delivered again, even twice, changes nothing.
    gets = fake_pok.calls["GET credential"]
    credential = PokCertificate.objects.first()
    tasks.check_credential_status.apply_async(args=[credential.pk])
    tasks.check_credential_status.apply_async(args=[credential.pk])
    time.sleep(3)
    assert fake_pok.calls["GET credential"] == gets
    assert PokCertificate.objects.get(pk=credential.pk).state == CredentialState.EMITTED
    assert fake_pok.calls["POST credential"] == len(learners)
    assert fake_pok.duplicates() == []


@pytest.fixture
def lost_redis(queue_name, settings):
    """
    One Redis database for the broker and the cache, as under Tutor, shared by the test's process
    and its workers; the test flushes it to lose everything, and it is flushed afterwards.
    """
    import redis

    settings.POK_CELERY_QUEUE = queue_name
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": LOST_REDIS_URL}
    }
    database = redis.Redis.from_url(LOST_REDIS_URL)
    database.flushdb()
    with producer_on(LOST_REDIS_URL, queue_name):
        yield database
    database.flushdb()


def wait_until(condition, workers, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert all(worker.poll() is None for worker in workers), "a Celery worker exited"
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_after_the_broker_loses_everything_a_worker_start_has_every_credential_emitted(
    fake_pok, lost_redis, queue_name, make_learner, pok_course, course_grade
):
    fake_pok.emit_after = None  # POK keeps them processing: their chains of checks run
    learners = [make_learner() for _ in range(10)]
    worker = start_worker(fake_pok, LOST_REDIS_URL, queue_name, POK_WORKER_CACHE_URL=LOST_REDIS_URL)
    try:
        for learner in learners:
            request_certificate(learner, pok_course, course_grade())
        processing = PokCertificate.objects.filter(state=CredentialState.PROCESSING)
        assert wait_until(lambda: processing.count() == len(learners), [worker], 120)
        assert wait_until(lambda: fake_pok.calls["GET credential"] >= 2 * len(learners), [worker], 60)
    finally:
        stop_worker(worker)

    # Redis restarts: every waiting task and the cache's markers are gone. POK emits meanwhile;
    # the outage lasted five minutes, with no beat and no page views.
    lost_redis.flushdb()
    fake_pok.emit_all()
    five_minutes = timedelta(minutes=5)
    PokCertificate.objects.update(
        next_attempt_at=F("next_attempt_at") - five_minutes, modified=F("modified") - five_minutes
    )
    PeriodicRun.objects.update(
        last_run_at=F("last_run_at") - five_minutes, next_run_at=F("next_run_at") - five_minutes
    )

    worker = start_worker(fake_pok, LOST_REDIS_URL, queue_name, POK_WORKER_CACHE_URL=LOST_REDIS_URL)
    try:
        emitted = PokCertificate.objects.filter(state=CredentialState.EMITTED)
        assert wait_until(lambda: emitted.count() == len(learners), [worker], 60)
    finally:
        stop_worker(worker)
    assert fake_pok.calls["POST credential"] == len(learners)
    assert fake_pok.duplicates() == []
