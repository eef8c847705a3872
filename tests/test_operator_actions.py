"""
Attaching the credential an operator found in POK's dashboard to an unknown outcome: what POK's
answer is checked against, over real HTTP to the fake POK (the admin and pok_attach have their own
tests in test_admin.py and test_commands.py).
"""

import dataclasses
import re

import pytest

from openedx_pok import client
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions
from openedx_pok.services.issuing.operator_actions import PokCredentialMismatch, PokCredentialNotFound
from tests.issuing import held_in_pok

S = CredentialState


@pytest.fixture
def unknown(credential_in, fake_pok):
    """A credential whose POST's answer was lost, and the id of the credential POK created for it."""
    credential = credential_in(S.OUTCOME_UNKNOWN)
    return credential, held_in_pok(fake_pok, credential.user, credential.course_key)


@pytest.fixture
def pok_answers(monkeypatch):
    """POK's answer to GET credential (read over HTTP, really) with some of its values changed."""

    def answer_with(**changes):
        real_get = client.PokClient.get_credential
        monkeypatch.setattr(
            client.PokClient,
            "get_credential",
            lambda self, pok_id: dataclasses.replace(real_get(self, pok_id), **changes),
        )

    return answer_with


def reloaded(credential):
    return PokCertificate.objects.get(pk=credential.pk)


def assert_unchanged(credential):
    row = reloaded(credential)
    assert (row.state, row.pok_credential_id, row.history) == (S.OUTCOME_UNKNOWN, None, credential.history)


def test_a_match_goes_to_processing_with_pok_id_and_state_and_who_attached_it(credential_in, fake_pok):
    fake_pok.emit_after = None
    credential = credential_in(S.OUTCOME_UNKNOWN)
    pok_id = held_in_pok(fake_pok, credential.user, credential.course_key)

    operator_actions.attach_pok_credential(credential, pok_id, actor="ana")

    row = reloaded(credential)
    assert (row.state, row.pok_credential_id, row.pok_state, row.last_error) == (
        S.PROCESSING,
        pok_id,
        "processing",
        "",
    )
    assert row.history[-1]["transition"] == "attached"
    assert row.history[-1]["note"].startswith(
        f"POK credential {pok_id} (POK state processing) attached by ana"
    )
    assert fake_pok.calls["POST credential"] == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"tags": ()},  # POK echoes no tags: the email and the title are compared
        {"tags": (), "receiver_email": ""},  # nor any email: the name the row was sent with
        {"receiver_email": "", "receiver_name": ""},  # the StudentId tag says who
    ],
    ids=["email and title", "name and title", "tags only"],
)
def test_what_pok_echoes_is_enough_to_match(unknown, pok_answers, changes):
    credential, pok_id = unknown
    pok_answers(**changes)

    operator_actions.attach_pok_credential(credential, pok_id, actor="ana")

    assert reloaded(credential).pok_credential_id == pok_id


def test_the_email_is_compared_without_case_and_the_learners_current_one_counts(unknown, pok_answers):
    credential, pok_id = unknown
    credential.user.email = "ana.new@example.com"
    credential.user.save()
    pok_answers(tags=(), receiver_email=" ANA.NEW@example.com")

    operator_actions.attach_pok_credential(credential, pok_id, actor="ana")

    assert reloaded(credential).state != S.OUTCOME_UNKNOWN


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tags": (), "receiver_email": "someone@example.com"}, "another email address"),
        ({"tags": (), "receiver_email": "", "receiver_name": "Bea Pérez"}, "another name"),
        ({"tags": ("StudentId:999999",)}, "tagged for another learner"),
        ({"tags": (), "title": "Cooking 101"}, "its title (Cooking 101) is not this course's"),
        ({"tags": (), "receiver_email": "", "receiver_name": ""}, "does not say who received it"),
        ({"tags": (), "title": ""}, "names no course"),
    ],
    ids=["email", "name", "student tag", "title", "no receiver", "no course"],
)
def test_a_credential_that_is_not_the_rows_or_cannot_be_told_is_refused(
    unknown, pok_answers, changes, reason
):
    credential, pok_id = unknown
    pok_answers(**changes)

    with pytest.raises(PokCredentialMismatch, match=re.escape(reason)):
        operator_actions.attach_pok_credential(credential, pok_id, actor="ana")

    assert_unchanged(credential)


@pytest.mark.parametrize("given", ["", "   ", "../organization/me", "a b"])
def test_what_cannot_be_a_pok_id_is_refused_before_asking_pok(unknown, fake_pok, given):
    credential, _pok_id = unknown

    with pytest.raises(PokCredentialNotFound, match="is not a POK credential id"):
        operator_actions.attach_pok_credential(credential, given, actor="ana")

    assert fake_pok.calls["GET credential"] == 0
    assert_unchanged(credential)


def test_an_id_pok_does_not_know_is_refused(unknown, fake_pok):
    credential, _pok_id = unknown

    with pytest.raises(PokCredentialNotFound, match="POK has no credential 9e80b81b"):
        operator_actions.attach_pok_credential(credential, "9e80b81b", actor="ana")

    assert_unchanged(credential)


@pytest.mark.parametrize("state", [S.PENDING, S.RETRYING, S.PROCESSING, S.EMITTED, S.FAILED, S.REVOKED])
def test_only_an_unknown_outcome_can_be_attached(credential_in, fake_pok, state):
    credential = credential_in(state)

    with pytest.raises(lifecycle.WrongState, match="only an unknown outcome can be attached"):
        operator_actions.attach_pok_credential(credential, "9e80b81b", actor="ana")

    assert reloaded(credential).state == state


def test_the_refusal_is_what_the_lifecycle_says(unknown, credential_in):
    credential, _pok_id = unknown

    assert lifecycle.refusal(credential, "attach") is None
    assert lifecycle.refusal(credential_in(S.EMITTED), "attach") == (
        "Emitted, only an unknown outcome can be attached"
    )
