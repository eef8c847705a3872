"""
The lifecycle table against the code: every move the table declares is made by the real services
(one scenario each, over real HTTP to the fake POK), every move the code makes is declared, and
docs/states.md describes the same table.
"""

import ast
import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.utils import timezone

from openedx_pok import client
from openedx_pok.conf import setting
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions, retirement, sending, status, sweep
from openedx_pok.services.transitions import NEW, TRANSITIONS
from tests.issuing import held_in_pok, request_certificate

S = CredentialState
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


# -- what the code may not do ----------------------------------------------------------------------


def test_allowed_transitions_are_derived_from_the_table_only():
    declared = {
        (source, transition.target_from(source))
        for transition in TRANSITIONS
        for source in transition.sources
        if source != NEW
    }
    allowed = {
        (source, target) for source, targets in lifecycle.ALLOWED_TRANSITIONS.items() for target in targets
    }
    assert allowed == declared
    # The moves the earlier hand-written table allowed and no code could make.
    for impossible in [(S.FAILED, S.REQUESTING), (S.OUTCOME_UNKNOWN, S.REQUESTING), (S.REVOKED, S.EMITTED)]:
        assert impossible not in allowed


def test_a_transition_from_a_state_it_does_not_leave_is_refused(learner, course_key):
    credential = PokCertificate.objects.create(user=learner, course_key=course_key, state=S.EMITTED)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.apply(credential, "claimed")
    assert PokCertificate.objects.get(pk=credential.pk).state == S.EMITTED


def test_only_the_lifecycle_writes_a_credentials_state():
    """No module assigns ``.state`` or updates ``state=`` in the database but lifecycle.apply."""
    offenders = []
    for path in (ROOT / "openedx_pok").rglob("*.py"):
        if "migrations" in path.parts or path.name == "lifecycle.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(target, ast.Attribute) and target.attr == "state" for target in targets):
                offenders.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "update"
                and any(keyword.arg == "state" for keyword in node.keywords)
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_each_state_change_names_its_transition_in_the_history(fake_pok, credential_in):
    credential = credential_in(S.EMITTED)
    assert [(entry["from"], entry["to"], entry["transition"]) for entry in credential.history] == [
        (NEW, S.PENDING, "requested"),
        (S.PENDING, S.REQUESTING, "claimed"),
        (S.REQUESTING, S.PROCESSING, "accepted"),
        (S.PROCESSING, S.EMITTED, "emitted"),
    ]


# -- docs/states.md ----------------------------------------------------------------------------------


def documented_transitions() -> set[tuple[str, frozenset[str], str]]:
    """The rows of the transition table in docs/states.md: name, sources, target."""
    rows = set()
    for line in (ROOT / "docs" / "states.md").read_text().splitlines():
        match = re.match(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", line)
        if match:
            name, sources, target = match.groups()
            rows.add((name, frozenset(source.strip() for source in sources.split(",")), target.strip()))
    return rows


def test_docs_states_md_lists_every_transition_as_the_code_declares_it():
    declared = {
        (transition.name, transition.sources, transition.target or "(stays)") for transition in TRANSITIONS
    }
    assert documented_transitions() == declared


def test_docs_states_md_describes_every_state():
    text = (ROOT / "docs" / "states.md").read_text()
    for state in S.values:
        assert f"| **{state}** |" in text


# -- every declared move is made by the code -----------------------------------------------------------

SCENARIOS = {}


def reaches(name: str, *sources: str):
    """Register a scenario that makes the real code apply transition ``name`` from each of ``sources``."""

    def register(scenario):
        for source in sources:
            SCENARIOS[(name, source)] = scenario
        return scenario

    return register


@pytest.fixture
def world(
    fake_pok, queued_tasks, credential_in, make_credential, make_learner, pok_course, course_grade, settings
):
    return SimpleNamespace(
        fake_pok=fake_pok,
        queued_tasks=queued_tasks,
        credential_in=credential_in,
        make_credential=make_credential,
        make_learner=make_learner,
        course=pok_course,
        course_grade=course_grade,
        settings=settings,
    )


@pytest.fixture
def applied(monkeypatch):
    """(transition, source state) of every transition applied while the test runs."""
    moves = []
    real_apply = lifecycle.apply

    def recording_apply(credential, name, **kwargs):
        moves.append((name, NEW if credential.pk is None else credential.state))
        return real_apply(credential, name, **kwargs)

    monkeypatch.setattr(lifecycle, "apply", recording_apply)
    return moves


def reloaded(credential):
    return PokCertificate.objects.get(pk=credential.pk)


def make_due(credential):
    PokCertificate.objects.filter(pk=credential.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def row_in(world, state, **fields):
    """A row written directly in ``state``, for the states no fault leaves a credential in for long."""
    if state == S.REQUESTING:
        fields = {"requesting_since": timezone.now(), "attempts": 1, **fields}
    return world.make_credential(world.make_learner(), world.course, state=state, **fields)


def pok_answers_post_with(monkeypatch, pok_state):
    """POK creates the credential (over HTTP, really) but answers the POST with another state."""
    real_create = client.PokClient.create_credential

    def create(self, body):
        return dataclasses.replace(real_create(self, body), state=pok_state)

    monkeypatch.setattr(client.PokClient, "create_credential", create)


def sweep_gives_up_during_the_post(monkeypatch, settings):
    """The sweep calls the request unanswered while its POST is still on the wire."""
    real_create = client.PokClient.create_credential

    def slow_create(self, body):
        sweep.sweep(now=timezone.now() + timedelta(seconds=setting("POK_REQUESTING_TIMEOUT") + 1))
        return real_create(self, body)

    monkeypatch.setattr(client.PokClient, "create_credential", slow_create)


def failed_in_pok(world):
    """A credential POK accepted and then aborted: failed here, with its POK id."""
    world.fake_pok.emit_after = None
    credential = world.credential_in(S.PROCESSING)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "aborted")
    status.check(credential.pk, now=reloaded(credential).next_attempt_at)
    assert reloaded(credential).state == S.FAILED
    return credential


def check_when_due(credential):
    return status.check(credential.pk, now=reloaded(credential).next_attempt_at)


def request_again(world, credential):
    request_certificate(credential.user, credential.course_key, world.course_grade())


@reaches("requested", NEW)
def new_request(world, source, monkeypatch):
    request_certificate(world.make_learner(), world.course, world.course_grade())


@reaches("reopened", S.REVOKED)
def platform_asks_again_after_revoking_before_sending(world, source, monkeypatch):
    credential = world.credential_in(S.PENDING)
    operator_actions.revoke_for_platform(user_id=credential.user_id, course_key=credential.course_key)
    request_again(world, credential)


@reaches("reopened", S.FAILED)
def platform_asks_again_after_a_refusal(world, source, monkeypatch):
    request_again(world, world.credential_in(S.FAILED))


@reaches("reopened_to_recheck", S.REVOKED)
def platform_asks_again_for_what_pok_holds(world, source, monkeypatch):
    credential = world.credential_in(S.EMITTED)
    operator_actions.revoke_for_platform(user_id=credential.user_id, course_key=credential.course_key)
    request_again(world, credential)


@reaches("reopened_as_unknown", S.REVOKED)
def platform_asks_again_for_an_unknown_outcome(world, source, monkeypatch):
    credential = world.credential_in(S.OUTCOME_UNKNOWN)
    operator_actions.revoke_for_platform(user_id=credential.user_id, course_key=credential.course_key)
    request_again(world, credential)


@reaches("claimed", S.PENDING, S.RETRYING)
@reaches("retry_scheduled", S.REQUESTING)
def a_send_and_its_retry(world, source, monkeypatch):
    credential = world.credential_in(S.RETRYING)
    make_due(credential)
    sending.issue(credential.pk)


@reaches("accepted", S.REQUESTING)
@reaches("check_started", S.PROCESSING)
@reaches("still_processing", S.PROCESSING)
def pok_takes_its_time(world, source, monkeypatch):
    world.fake_pok.emit_after = None
    check_when_due(world.credential_in(S.PROCESSING))


@reaches("accepted", S.OUTCOME_UNKNOWN)
@reaches("answer_lost", S.REQUESTING)
def a_late_acceptance(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.credential_in(S.PROCESSING)


@reaches("accepted", S.FAILED)
@reaches("failed_in_pok", S.PROCESSING)
def pok_takes_an_aborted_credential_back(world, source, monkeypatch):
    credential = failed_in_pok(world)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "processing")
    operator_actions.resync_from_pok(credential)


@reaches("emitted", S.REQUESTING)
def pok_emits_at_once(world, source, monkeypatch):
    pok_answers_post_with(monkeypatch, "emitted")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("emitted", S.PROCESSING)
def pok_emits(world, source, monkeypatch):
    world.credential_in(S.EMITTED)


@reaches("emitted", S.OUTCOME_UNKNOWN)
def a_late_emission(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    pok_answers_post_with(monkeypatch, "emitted")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("emitted", S.FAILED)
def pok_emits_an_aborted_credential_after_all(world, source, monkeypatch):
    credential = failed_in_pok(world)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "emitted")
    operator_actions.resync_from_pok(credential)


@reaches("rate_limited", S.REQUESTING)
def pok_asks_to_slow_down(world, source, monkeypatch):
    world.fake_pok.fail_next("POST credential", status=429, headers={"Retry-After": "5"})
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("rate_limited", S.OUTCOME_UNKNOWN)
def pok_asks_to_slow_down_late(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.fake_pok.fail_next("POST credential", status=429, headers={"Retry-After": "5"})
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("retry_scheduled", S.OUTCOME_UNKNOWN)
def pok_fails_late(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.credential_in(S.RETRYING)


@reaches("round_failed", S.REQUESTING)
def pok_down_for_a_round(world, source, monkeypatch):
    world.settings.POK_MAX_ATTEMPTS = 1
    world.fake_pok.fail_next("POST credential", status=503)
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("round_failed", S.OUTCOME_UNKNOWN)
def pok_down_for_a_round_late(world, source, monkeypatch):
    world.settings.POK_MAX_ATTEMPTS = 1
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.fake_pok.fail_next("POST credential", status=503)
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("preparation_retry", S.PENDING)
def template_unavailable(world, source, monkeypatch):
    world.fake_pok.fail_next("GET template", status=503, count=3)
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("preparation_retry", S.RETRYING)
def template_unavailable_on_a_retry(world, source, monkeypatch):
    credential = world.credential_in(S.RETRYING)
    cache.clear()  # the template definition is fetched again
    world.fake_pok.fail_next("GET template", status=503, count=3)
    make_due(credential)
    sending.issue(credential.pk)


@reaches("preparation_round_failed", S.PENDING)
def template_unavailable_for_a_round(world, source, monkeypatch):
    world.settings.POK_MAX_ATTEMPTS = 1
    template_unavailable(world, source, monkeypatch)


@reaches("preparation_round_failed", S.RETRYING)
def template_unavailable_for_the_rest_of_a_round(world, source, monkeypatch):
    world.settings.POK_MAX_ATTEMPTS = 2
    template_unavailable_on_a_retry(world, source, monkeypatch)


@reaches("refused", S.PENDING)
def nothing_to_issue_from(world, source, monkeypatch):
    credential = world.credential_in(S.PENDING)
    world.settings.POK_TEMPLATE_ID = ""
    sending.issue(credential.pk)


@reaches("refused", S.RETRYING)
def nothing_to_issue_from_on_a_retry(world, source, monkeypatch):
    credential = world.credential_in(S.RETRYING)
    world.settings.POK_TEMPLATE_ID = ""
    make_due(credential)
    sending.issue(credential.pk)


@reaches("refused", S.REQUESTING)
def pok_refuses(world, source, monkeypatch):
    world.credential_in(S.FAILED)


@reaches("refused", S.OUTCOME_UNKNOWN)
def pok_refuses_late(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.credential_in(S.FAILED)


@reaches("answer_lost", S.OUTCOME_UNKNOWN)
def an_answer_lost_after_the_sweep_gave_up(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    world.fake_pok.drop_next("POST credential")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("check_failed", S.PROCESSING)
def pok_down_during_a_check(world, source, monkeypatch):
    world.fake_pok.emit_after = None
    credential = world.credential_in(S.PROCESSING)
    world.fake_pok.outage = True
    check_when_due(credential)


@reaches("pok_state_seen", S.PROCESSING)
def an_early_check(world, source, monkeypatch):
    world.fake_pok.emit_after = None
    status.check(world.credential_in(S.PROCESSING).pk, early=True)


@reaches("pok_state_seen", S.EMITTED)
def an_emitted_credential_read_again(world, source, monkeypatch):
    operator_actions.resync_from_pok(world.credential_in(S.EMITTED))


@reaches("pok_state_seen", S.FAILED)
def an_aborted_credential_read_again(world, source, monkeypatch):
    operator_actions.resync_from_pok(failed_in_pok(world))


@reaches("pok_state_seen", S.REVOKED)
def a_revoked_credential_read_again(world, source, monkeypatch):
    operator_actions.resync_from_pok(world.credential_in(S.REVOKED))


@reaches("failed_in_pok", S.REQUESTING)
def pok_aborts_at_once(world, source, monkeypatch):
    pok_answers_post_with(monkeypatch, "aborted")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("failed_in_pok", S.OUTCOME_UNKNOWN)
def pok_aborts_late(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    pok_answers_post_with(monkeypatch, "aborted")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("revoked_in_pok", S.REQUESTING)
def pok_answers_revoked(world, source, monkeypatch):
    pok_answers_post_with(monkeypatch, "revoked")
    sending.issue(world.credential_in(S.PENDING).pk)


@reaches("revoked_in_pok", S.OUTCOME_UNKNOWN)
def pok_answers_revoked_late(world, source, monkeypatch):
    sweep_gives_up_during_the_post(monkeypatch, world.settings)
    pok_answers_revoked(world, source, monkeypatch)


@reaches("revoked_in_pok", S.PROCESSING)
def pok_revokes_while_processing(world, source, monkeypatch):
    world.fake_pok.emit_after = None
    credential = world.credential_in(S.PROCESSING)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "revoked")
    check_when_due(credential)


@reaches("revoked_in_pok", S.EMITTED)
def pok_revokes_an_emitted_credential(world, source, monkeypatch):
    credential = world.credential_in(S.EMITTED)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "revoked")
    operator_actions.resync_from_pok(credential)


@reaches("revoked_in_pok", S.FAILED)
def pok_revokes_an_aborted_credential(world, source, monkeypatch):
    credential = failed_in_pok(world)
    world.fake_pok.set_credential_state(credential.pok_credential_id, "revoked")
    operator_actions.resync_from_pok(credential)


def credential_in_any(world, state):
    return row_in(world, state) if state == S.REQUESTING else world.credential_in(state)


@reaches("revoked_by_platform", *lifecycle.TRANSITIONS_BY_NAME["revoked_by_platform"].sources)
def the_platform_revokes(world, source, monkeypatch):
    credential = credential_in_any(world, source)
    operator_actions.revoke_for_platform(user_id=credential.user_id, course_key=credential.course_key)


@reaches("revoked_by_operator", *lifecycle.TRANSITIONS_BY_NAME["revoked_by_operator"].sources)
def an_operator_revokes(world, source, monkeypatch):
    operator_actions.revoke(credential_in_any(world, source), "issued by mistake")


@reaches("retired", *lifecycle.TRANSITIONS_BY_NAME["retired"].sources)
def the_learner_is_retired(world, source, monkeypatch):
    retirement.scrub_learner_pii(credential_in_any(world, source).user)


@reaches("retried_by_operator", S.PENDING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN)
def an_operator_retries(world, source, monkeypatch):
    operator_actions.retry_now(world.credential_in(source), accept_duplicate_risk=True)


@reaches("reissued", S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN, S.REVOKED)
def an_operator_reissues(world, source, monkeypatch):
    operator_actions.reissue(world.credential_in(source))


@reaches("attached", S.OUTCOME_UNKNOWN)
def an_operator_attaches_what_pok_holds(world, source, monkeypatch):
    credential = world.credential_in(S.OUTCOME_UNKNOWN)
    pok_id = held_in_pok(world.fake_pok, credential.user, credential.course_key)
    operator_actions.attach_pok_credential(credential, pok_id, actor="operator")


@reaches("another_round", S.FAILED)
def another_round_after_an_outage(world, source, monkeypatch):
    world.settings.POK_MAX_ATTEMPTS = 1
    world.fake_pok.fail_next("POST credential", status=503)
    credential = world.credential_in(S.PENDING)
    sending.issue(credential.pk)
    assert reloaded(credential).state == S.FAILED
    make_due(credential)
    sending.issue(credential.pk)  # the round's own follow-up, when its delay has passed


@reaches("resent_after_unknown", S.OUTCOME_UNKNOWN)
def an_unknown_outcome_resent_as_configured(world, source, monkeypatch):
    world.settings.POK_UNKNOWN_OUTCOME_RETRY_AFTER = 60
    credential = world.credential_in(S.OUTCOME_UNKNOWN)
    assert reloaded(credential).next_attempt_at is not None
    make_due(credential)
    sending.issue(credential.pk)


def test_every_declared_move_has_a_scenario():
    declared = {(transition.name, source) for transition in TRANSITIONS for source in transition.sources}
    assert set(SCENARIOS) == declared


@pytest.mark.parametrize(("name", "source"), sorted(SCENARIOS), ids=str)
def test_the_code_makes_every_declared_move(world, applied, monkeypatch, name, source):
    SCENARIOS[(name, source)](world, source, monkeypatch)
    assert (name, source) in applied
