"""
POK answers that may hide a created, paid credential (a 2xx without an id, a gateway timeout)
leave the credential as an unknown outcome: neither the task nor a new request from the platform
sends it again.
"""

import json

import pytest
from django.core.cache import cache

from openedx_pok.models import CredentialState
from openedx_pok.testing.server import DEFAULT_TEMPLATE_ID
from tests.hostile_server import Answer, HostileServer
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("status", "message"), [(200, "Accepted"), (504, "Gateway Timeout")])
def test_an_answer_that_may_hide_a_credential_is_never_sent_again(
    fake_pok, queued_tasks, learner, pok_course, course_grade, status, message
):
    fake_pok.fail_next("POST credential", status=status, message=message)
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    assert credential_of(learner, pok_course).state == S.OUTCOME_UNKNOWN

    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert credential.pok_credential_id is None
    assert fake_pok.calls["POST credential"] == 1


# -- answers only a hostile server sends -----------------------------------------------------------


@pytest.fixture
def hostile_pok(settings):
    """POK replaced by the hostile server; its GETs answer the default template."""
    with HostileServer() as server:
        server.answers["GET"] = Answer(body=json.dumps({"id": DEFAULT_TEMPLATE_ID, "name": "T"}).encode())
        settings.POK_API_URL = server.url
        settings.POK_API_KEY = "test-api-key"
        settings.POK_TIMEOUT = 0.5
        settings.POK_CONNECT_TIMEOUT = 0.3
        cache.clear()
        yield server
        cache.clear()


def accepted(**fields) -> Answer:
    body = {"id": "9e80b81b-1441-472b-bbd7-0120ec370042", "state": "processing", **fields}
    return Answer(body=json.dumps(body).encode())


def posts(server) -> int:
    return sum(request.method == "POST" for request in server.received)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(body=b'{"id": "x", "state": "processing"}', trickle=True, pause=0.02), "deadline"),
        (accepted(id="x" * 65), "65 characters long"),
        (accepted(id=["a list"]), "is a list"),
        (accepted(id="id\nERROR forged"), "characters other than"),
        (Answer(body=b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
        (Answer(body=b" " * (2 * 1024 * 1024)), "larger than"),
    ],
    ids=["trickled", "id too long", "id not text", "id with a newline", "deep JSON", "2 MB"],
)
def test_an_answer_that_cannot_be_read_after_the_post_is_an_unknown_outcome_with_its_reason(
    hostile_pok, queued_tasks, learner, pok_course, course_grade, answer, reason
):
    hostile_pok.answers["POST"] = answer
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert credential.pok_credential_id is None
    assert reason in credential.last_error
    assert "\n" not in credential.last_error
    assert posts(hostile_pok) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "odd",
    [
        {"state": "pro\ncessing"},
        {"state": "s" * 5000},
        {"viewUrl": "https://view.pok.tech/" + "a" * 600},
        {"credential": {"emissionDate": "9999-12-31T23:59:59-05:00"}},
    ],
    ids=["state with a newline", "state of 5000 characters", "view url too long", "date past 9999"],
)
def test_odd_values_beside_a_good_id_keep_the_id(
    hostile_pok, queued_tasks, learner, pok_course, course_grade, odd
):
    hostile_pok.answers["POST"] = accepted(**odd)
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()

    credential = credential_of(learner, pok_course)
    assert credential.pok_credential_id == "9e80b81b-1441-472b-bbd7-0120ec370042"
    assert credential.state == S.PROCESSING
    assert "\n" not in credential.pok_state
    assert len(credential.view_url) <= 500
    assert posts(hostile_pok) == 1
