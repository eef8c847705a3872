"""
POK answering 429: nothing was created and POK is healthy, so the credential comes back when POK
says, without doubling its delay or spending one of its attempts.
"""

import pytest

from openedx_pok.models import CredentialState, PokCertificate
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)


def countdowns_of_queued_issues(queued_tasks):
    return [
        options.get("countdown")
        for task, _, _, options in queued_tasks.sent
        if task.name.endswith("issue_credential")
    ]


@transactional
def test_rate_limited_posts_come_back_after_retry_after_without_spending_attempts(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    settings.POK_MAX_ATTEMPTS = 2
    settings.POK_RETRY_BASE_DELAY = 30
    fake_pok.fail_next("POST credential", status=429, count=5, headers={"Retry-After": "2"})
    request_certificate(learner, pok_course, course_grade())

    countdowns = []
    for _ in range(5):
        queued_tasks.run(limit=1)
        credential = credential_of(learner, pok_course)
        assert credential.state == S.RETRYING
        assert credential.attempts == 0
        assert "429" in credential.last_error
        countdowns.extend(countdowns_of_queued_issues(queued_tasks))
        PokCertificate.objects.filter(pk=credential.pk).update(next_attempt_at=None)

    assert len(countdowns) == 5
    assert all(2 <= countdown <= 2.5 for countdown in countdowns)

    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.attempts == 1
    assert fake_pok.calls["POST credential"] == 6
    assert fake_pok.duplicates() == []


@transactional
def test_a_429_without_retry_after_backs_off_like_any_unavailability(
    fake_pok, queued_tasks, learner, pok_course, course_grade, settings
):
    settings.POK_RETRY_BASE_DELAY = 30
    fake_pok.fail_next("POST credential", status=429, count=1)
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run(limit=1)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.RETRYING
    assert credential.attempts == 1
    [countdown] = countdowns_of_queued_issues(queued_tasks)
    assert 15 <= countdown <= 30
