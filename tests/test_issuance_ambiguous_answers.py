"""
POK answers that may hide a created, paid credential (a 2xx without an id, a gateway timeout)
leave the credential as an unknown outcome: neither the task nor a new request from the platform
sends it again.
"""

import pytest

from openedx_pok.models import CredentialState
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
