"""
Odd input to the creation step never loses a credential: the row is recorded (with no grade, and
the reason, when the grade is unusable), stays readable everywhere, and is sent. On MariaDB too:
a grade of 1000 % once overflowed DECIMAL(5,2) and recorded nothing.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from openedx_pok.models import CredentialState, PokCertificate
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
pytestmark = pytest.mark.django_db(transaction=True)


class GradeThatRaises:
    letter_grade = "Pass"

    @property
    def percent(self):
        raise ValueError("grade service unavailable")


@pytest.mark.parametrize(
    ("grade", "problem"),
    [
        (SimpleNamespace(percent=float("nan"), letter_grade="Pass"), "not a fraction from 0 to 1"),
        (SimpleNamespace(percent=10.0, letter_grade="Pass"), "not a fraction from 0 to 1"),
        (SimpleNamespace(percent=-0.1, letter_grade="Pass"), "not a fraction from 0 to 1"),
        (SimpleNamespace(percent=float("inf"), letter_grade="Pass"), "not a fraction from 0 to 1"),
        (SimpleNamespace(percent="eighty", letter_grade="Pass"), "not a number"),
        (GradeThatRaises(), "could not be read (ValueError)"),
    ],
    ids=["nan", "1000-percent", "negative", "infinite", "text", "raises"],
)
def test_an_unusable_grade_is_kept_as_none_with_the_reason_and_the_credential_is_sent(
    client, admin_client, fake_pok, queued_tasks, learner, pok_course, grade, problem
):
    request_certificate(learner, pok_course, grade)

    credential = credential_of(learner, pok_course)
    assert credential.grade_percent is None
    assert problem in credential.history[0]["note"]
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    # The row reads back everywhere: the admin's list and page, the learner's own list.
    assert admin_client.get("/admin/openedx_pok/pokcertificate/").status_code == 200
    assert admin_client.get(f"/admin/openedx_pok/pokcertificate/{credential.pk}/change/").status_code == 200
    client.force_login(learner)
    assert client.get("/pok/credentials/mine").json()["credentials"][0]["state"] == "emitted"


def test_a_perfect_grade_is_kept(fake_pok, queued_tasks, learner, pok_course, course_grade):
    request_certificate(learner, pok_course, course_grade(percent=1.0))
    assert credential_of(learner, pok_course).grade_percent == Decimal("100.00")


def test_modes_that_are_not_text_are_coerced(fake_pok, queued_tasks, learner, pok_course, course_grade):
    request_certificate(learner, pok_course, course_grade(), mode=5, generation_mode=object())
    credential = PokCertificate.objects.get()
    assert credential.mode == "5"
    assert credential.generation_mode.startswith("<object object")
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED


def test_texts_longer_than_their_fields_are_kept_as_far_as_they_fit(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade(letter_grade="A" * 100))

    assert credential_of(learner, pok_course).letter_grade == "A" * 64
