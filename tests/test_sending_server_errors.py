"""
A 5xx answer to POST credential (ADR 0002): POK may have created, and charged for, the credential
before failing. By default the issuing task asks POK a free question: if POK answers, the
credential may exist and is never sent again on its own; if POK is down, nothing was created and
the credential is retried until POK is back.
"""

import pytest

from openedx_pok import client
from openedx_pok.models import CredentialState
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pok_fails_after_creating(monkeypatch):
    """POK creates the credential (really, over HTTP), then answers the POST with a server error."""

    def fail_after(status):
        real_create = client.PokClient.create_credential

        def create(self, body):
            real_create(self, body)
            monkeypatch.setattr(client.PokClient, "create_credential", real_create)
            raise client.PokCreationServerError("Internal Server Error", status)

        monkeypatch.setattr(client.PokClient, "create_credential", create)

    return fail_after


@pytest.mark.parametrize("status", [500, 502])
def test_an_error_after_the_work_is_an_unknown_outcome_and_never_paid_twice(
    fake_pok, queued_tasks, learner, pok_course, course_grade, pok_fails_after_creating, status
):
    pok_fails_after_creating(status)
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert "may have created it" in credential.last_error
    assert fake_pok.calls["POST credential"] == 1
    assert fake_pok.calls["GET organization"] == 1  # the free question
    assert len(fake_pok.credentials) == 1  # the one POK holds, paid once


def test_a_server_error_during_an_outage_is_retried_until_pok_is_back(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    fake_pok.fail_next("POST credential", status=500)
    fake_pok.fail_next("GET organization", status=503, count=3)  # POK is down as a whole
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    credential = credential_of(learner, pok_course)
    assert credential.state == S.RETRYING
    assert "POK is down, so it created nothing" in credential.last_error

    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 2
    assert fake_pok.duplicates() == []


def test_a_503_is_retried_without_asking(fake_pok, queued_tasks, learner, pok_course, course_grade):
    fake_pok.fail_next("POST credential", status=503)
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    assert credential_of(learner, pok_course).state == S.RETRYING
    assert fake_pok.calls["GET organization"] == 0


@pytest.mark.parametrize(
    ("policy", "expected"), [("retry", S.RETRYING), ("outcome_unknown", S.OUTCOME_UNKNOWN)]
)
def test_the_operator_chooses_another_policy(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings, policy, expected
):
    settings.POK_POST_SERVER_ERROR_POLICY = policy
    fake_pok.fail_next("POST credential", status=500)
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    assert credential_of(learner, pok_course).state == expected
    assert fake_pok.calls["GET organization"] == 0


def test_an_id_pok_already_gave_another_credential_is_kept_aside_not_lost(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, monkeypatch
):
    first, second = make_learner(), make_learner()
    request_certificate(first, pok_course, course_grade())
    queued_tasks.run()
    taken_id = credential_of(first, pok_course).pok_credential_id
    real_create = client.PokClient.create_credential

    def create_answering_a_used_id(self, body):
        import dataclasses

        return dataclasses.replace(real_create(self, body), id=taken_id)

    monkeypatch.setattr(client.PokClient, "create_credential", create_answering_a_used_id)
    request_certificate(second, pok_course, course_grade())
    queued_tasks.run()

    credential = credential_of(second, pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert credential.pok_credential_id is None
    assert taken_id in credential.last_error
    assert credential_of(first, pok_course).pok_credential_id == taken_id
