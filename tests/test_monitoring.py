"""What operators' monitoring sees: counts per state, and the state of each credential a task moved."""

import pytest
from edx_django_utils import monitoring as edx_monitoring

from openedx_pok.monitoring import counts_by_state, format_counts
from tests.issuing import credential_of, request_certificate, settle


@pytest.fixture
def apm_attributes(monkeypatch):
    recorded = []
    monkeypatch.setattr(
        edx_monitoring, "set_custom_attribute", lambda name, value: recorded.append((name, value))
    )
    return recorded


@pytest.mark.django_db(transaction=True)
def test_each_state_change_reaches_the_apm_transaction(
    fake_pok, queued_tasks, apm_attributes, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    states = [value for name, value in apm_attributes if name == "pok_credential_state"]
    assert states == ["pending", "requesting", "processing", "emitted"]
    assert ("pok_course_key", str(pok_course)) in apm_attributes
    assert credential_of(learner, pok_course).state == "emitted"


def test_counts_list_every_state_and_format_leaves_zeros_out(make_credential, make_learner, course_key):
    make_credential(make_learner(), course_key, state="emitted")
    make_credential(make_learner(), course_key, state="emitted")
    make_credential(make_learner(), course_key, state="failed")

    counts = counts_by_state()

    assert counts["emitted"] == 2
    assert counts["failed"] == 1
    assert counts["pending"] == 0
    assert format_counts(counts) == "emitted 2, failed 1"
