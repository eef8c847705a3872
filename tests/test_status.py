"""
Status checks drive themselves: POK's acceptance schedules the first, each check the next, a
duplicated check changes nothing, and a learner waiting on the "being issued" page may bring one
forward through a task, never inside the request.
"""

import pytest
from celery import current_app
from django.core.cache import cache

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services.issuing import status
from tests.issuing import credential_of, request_certificate

S = CredentialState
CHECK = "openedx_pok.tasks.check_credential_status"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def processing(fake_pok, queued_tasks, certified, course_grade):
    """The certified learner's credential, accepted by a POK that keeps processing it."""
    fake_pok.emit_after = None
    request_certificate(certified.user, certified.course_id, course_grade())
    queued_tasks.run()
    credential = credential_of(certified.user, certified.course_id)
    assert credential.state == S.PROCESSING
    return credential


def pok_calls(fake_pok):
    return sum(fake_pok.calls.values())


def early_checks(queued_tasks):
    return [
        args
        for task, args, kwargs, _ in queued_tasks.sent
        if task.name == CHECK and kwargs == {"early": True}
    ]


def test_pok_accepting_the_credential_schedules_its_first_check_within_seconds(
    fake_pok, processing, queued_tasks
):
    [(args, kwargs, options)] = queued_tasks.named(CHECK)
    assert (args, kwargs) == ((processing.pk,), {})
    assert 0 < options["countdown"] <= 5


def test_a_duplicated_or_redelivered_check_changes_nothing(fake_pok, processing):
    due = PokCertificate.objects.get(pk=processing.pk).next_attempt_at
    assert status.check(processing.pk, now=due) == S.PROCESSING
    after_first = PokCertificate.objects.get(pk=processing.pk)
    assert status.check(processing.pk, now=due) is None  # the same task, delivered twice
    assert PokCertificate.objects.get(pk=processing.pk).next_attempt_at == after_first.next_attempt_at
    assert fake_pok.calls["GET credential"] == 1


def test_a_waiting_learner_asks_for_one_early_check_per_interval_and_no_view_calls_pok(
    client, fake_pok, processing, queued_tasks, certified
):
    queued_tasks.sent.clear()
    calls_before = pok_calls(fake_pok)
    # The first check is due within seconds: no early check is worth it yet.
    client.get(f"/certificates/{certified.verify_uuid}")
    assert early_checks(queued_tasks) == []

    PokCertificate.objects.filter(pk=processing.pk).update(
        next_attempt_at=processing.created.replace(year=2999)
    )
    for _ in range(3):
        assert "being issued" in client.get(f"/certificates/{certified.verify_uuid}").content.decode()
        assert client.get(f"/pok/credentials/{processing.public_id}/status").json() == {"state": "issuing"}
    assert early_checks(queued_tasks) == [(processing.pk,)]
    assert pok_calls(fake_pok) == calls_before

    cache.delete(status.CHECKED_RECENTLY_KEY.format(processing.pk))  # the interval has passed
    client.get(f"/pok/credentials/{processing.public_id}/status")
    assert early_checks(queued_tasks) == [(processing.pk,), (processing.pk,)]
    assert pok_calls(fake_pok) == calls_before


def test_an_early_check_shows_the_emission_without_moving_the_credentials_own_schedule(
    client, fake_pok, processing, queued_tasks, certified
):
    far = processing.created.replace(year=2999)
    PokCertificate.objects.filter(pk=processing.pk).update(next_attempt_at=far)
    assert status.check(processing.pk, early=True) == S.PROCESSING
    assert PokCertificate.objects.get(pk=processing.pk).next_attempt_at == far  # still processing: kept

    fake_pok.emit_all()
    queued_tasks.sent.clear()
    assert status.check(processing.pk, early=True) == S.EMITTED
    assert queued_tasks.sent == []  # a final state: nothing more is scheduled
    assert (
        "This certificate is being issued"
        not in client.get(f"/certificates/{certified.verify_uuid}").content.decode()
    )


def test_a_check_of_a_credential_that_moved_on_does_nothing(fake_pok, processing):
    fake_pok.emit_all()
    due = PokCertificate.objects.get(pk=processing.pk).next_attempt_at
    assert status.check(processing.pk, now=due) == S.EMITTED
    gets = fake_pok.calls["GET credential"]
    assert status.check(processing.pk, now=due, early=True) is None
    assert fake_pok.calls["GET credential"] == gets


@pytest.fixture
def eager_celery():
    """Celery as devstack runs it (CELERY_ALWAYS_EAGER): tasks run inside the caller."""
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = was_eager


def test_in_eager_mode_one_pass_issues_and_the_page_shows_the_credential_after_emission(
    client, fake_pok, eager_celery, certified, course_grade
):
    fake_pok.emit_after = None
    request_certificate(certified.user, certified.course_id, course_grade())  # the POST runs here
    credential = credential_of(certified.user, certified.course_id)
    assert credential.state == S.PROCESSING
    assert (fake_pok.calls["POST credential"], fake_pok.calls["GET credential"]) == (1, 0)  # no chain loops

    page = client.get(f"/certificates/{certified.verify_uuid}").content.decode()
    assert "being issued" in page
    assert fake_pok.calls["GET credential"] == 1  # one early check, inside the request: eager mode

    fake_pok.emit_all()
    cache.delete(status.CHECKED_RECENTLY_KEY.format(credential.pk))
    page = client.get(f"/certificates/{certified.verify_uuid}").content.decode()
    assert "being issued" not in page
    assert credential_of(certified.user, certified.course_id).state == S.EMITTED
    assert fake_pok.calls["GET credential"] == 2
