"""The Python API other Django apps use instead of our models."""

import pytest

from openedx_pok import api
from openedx_pok.models import CredentialState
from tests.issuing import settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)


@transactional
def test_request_then_follow_a_credential(fake_pok, queued_tasks, learner, pok_course, course_grade):
    status = api.request_credential(learner, pok_course, mode="verified", grade=course_grade(percent=0.75))
    assert status.state == S.PENDING
    assert status.is_in_flight
    assert not status.is_emitted
    assert sum(fake_pok.calls.values()) == 0

    settle(queued_tasks)
    status = api.get_credential_status(learner, str(pok_course))
    assert status.is_emitted
    assert status.pok_credential_id in fake_pok.credentials
    assert status.view_url
    assert status.image_url
    assert fake_pok.bodies("POST credential")[0]["credential"]["tags"][-1] == "Mode:verified"


@transactional
def test_a_plain_fraction_is_accepted_as_grade(fake_pok, queued_tasks, learner, pok_course, settings):
    fake_pok.add_template("graded", parameters=[("grade", "Grade")])
    settings.POK_TEMPLATE_ID = "graded"
    api.request_credential(learner, pok_course, mode="honor", grade=0.905)
    settle(queued_tasks)
    assert fake_pok.bodies("POST credential")[0]["customization"]["template"]["customParameters"] == {
        "grade": "91"
    }


@pytest.mark.django_db
def test_no_credential_when_pok_is_off_or_nothing_was_requested(learner, make_course, course_grade):
    course_key = make_course()
    assert api.request_credential(learner, course_key, mode="verified", grade=course_grade()) is None
    assert api.get_credential_status(learner, course_key) is None
    with pytest.raises(api.CredentialNotFound):
        api.reissue(learner, course_key)
    with pytest.raises(api.IssuanceError):
        api.revoke(learner, course_key, "no reason")


@transactional
def test_reissue_and_revoke(fake_pok, queued_tasks, learner, pok_course, course_grade):
    api.request_credential(learner, pok_course, mode="verified", grade=course_grade())
    with pytest.raises(api.IssuanceError):
        api.reissue(learner, pok_course)  # still being issued
    settle(queued_tasks)
    first_id = api.get_credential_status(learner, pok_course).pok_credential_id

    assert api.reissue(learner, pok_course).state == S.PENDING
    settle(queued_tasks)
    assert api.get_credential_status(learner, pok_course).pok_credential_id != first_id
    assert fake_pok.calls["POST credential"] == 2

    status = api.revoke(learner, pok_course, "issued by mistake")
    assert status.state == S.REVOKED
    assert not status.is_in_flight
