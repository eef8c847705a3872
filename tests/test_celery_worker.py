"""
A real Celery worker (separate processes, Redis broker, MariaDB) issues 50 learners end to end,
through the creation filter, the issuing task with injected POK failures, and the status sync.
Runs in the MariaDB lane (``make test DB=mysql``) with Redis on 127.0.0.1:6379.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery, _state
from django.db import connection

from openedx_pok import tasks
from openedx_pok.models import CredentialState, PokCertificate
from tests.issuing import request_certificate

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.celery_worker,
    pytest.mark.skipif(os.environ.get("DB_ENGINE") != "mysql", reason="needs the MariaDB and Redis lane"),
    pytest.mark.django_db(transaction=True),
]
LEARNERS = 50
REDIS_URL = os.environ.get("POK_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def queue_name():
    return f"openedx-pok-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_broker(queue_name):
    """Our tasks go to Redis while the test runs: a producer application made current."""
    previous = _state.get_current_app()
    producer = Celery("openedx_pok_test_producer", broker=REDIS_URL, set_as_current=False)
    producer.conf.task_default_queue = queue_name
    producer.set_current()
    yield producer
    previous.set_current()
    with producer.connection_for_write() as broker_connection:
        broker_connection.default_channel.client.delete(queue_name)
    producer.close()


@pytest.fixture
def celery_worker(fake_pok, redis_broker, queue_name, settings):
    settings.POK_CELERY_QUEUE = queue_name
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform_stand_ins")]),
        "DJANGO_SETTINGS_MODULE": "tests.celery_worker_settings",
        "DB_ENGINE": "mysql",
        "POK_WORKER_DB_NAME": connection.settings_dict["NAME"],
        "POK_WORKER_BROKER_URL": REDIS_URL,
        "POK_WORKER_QUEUE": queue_name,
        "POK_WORKER_API_URL": fake_pok.url,
    }
    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "-Q", queue_name]
    command += ["-c", "4", "-P", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    command += ["-l", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment)  # noqa: S603
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
