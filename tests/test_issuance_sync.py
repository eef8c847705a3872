"""Status sync with POK, revocation, re-requests after revocation, and operator actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from openedx_pok import client
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle, policy, transitions
from openedx_pok.services.issuing import operator_actions, status, sweep
from tests.issuing import credential_of, request_certificate, revoked_certificate_data, settle

S = CredentialState
transactional = pytest.mark.django_db(transaction=True)
# Long enough after a row's last change for the sweep to call its task lost.
LOST = policy.LOST_TASK_AFTER + timedelta(seconds=1)


@pytest.fixture(autouse=True)
def delays(settings):
    settings.POK_RETRY_BASE_DELAY = 30
    settings.POK_STATUS_POLL_INITIAL_DELAY = 30
    settings.POK_STATUS_POLL_MAX_DELAY = 3600


@pytest.fixture
def processing(fake_pok, queued_tasks, learner, pok_course, course_grade):
    """A credential POK accepted and keeps processing until told otherwise."""
    fake_pok.emit_after = None
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    credential = credential_of(learner, pok_course)
    assert credential.state == S.PROCESSING
    return credential


def check_when_due(credential):
    """The credential's own status check, run when its countdown says (the clock moved there)."""
    return status.check(credential.pk, now=PokCertificate.objects.get(pk=credential.pk).next_attempt_at)


@transactional
def test_checks_get_rarer_while_pok_processes_then_the_emitted_credential_is_stored(
    fake_pok, queued_tasks, processing
):
    assert status.check(processing.pk) is None  # not due before the first delay
    gaps = []
    now = processing.next_attempt_at
    for _ in range(4):
        queued_tasks.sent.clear()
        assert status.check(processing.pk, now=now) == S.PROCESSING
        credential = PokCertificate.objects.get(pk=processing.pk)
        gap = (credential.next_attempt_at - now).total_seconds()
        gaps.append(gap)
        # Each check queues the next one itself: no beat, no sweep.
        [(task, args, _, options)] = queued_tasks.sent
        assert (task.name, args) == ("openedx_pok.tasks.check_credential_status", (processing.pk,))
        assert options["countdown"] == pytest.approx(gap, abs=0.01)
        now = credential.next_attempt_at
    assert gaps == sorted(gaps)
    assert gaps[-1] > gaps[0]
    assert fake_pok.calls["GET credential"] == 4

    fake_pok.emit_all()
    queued_tasks.sent.clear()
    assert status.check(processing.pk, now=now) == S.EMITTED
    credential = PokCertificate.objects.get(pk=processing.pk)
    assert credential.state == S.EMITTED
    assert credential.pok_state == "emitted"
    assert credential.view_url == fake_pok.credentials[credential.pok_credential_id]["viewUrl"]
    assert credential.image_url.startswith(fake_pok.url)
    assert credential.emission_date is not None
    assert credential.next_attempt_at is None
    assert queued_tasks.sent == []  # the chain ends at a final state
    assert status.check(processing.pk, now=now + timedelta(days=1)) is None


@transactional
def test_states_pok_has_not_told_us_about_are_kept_and_polled(fake_pok, processing):
    fake_pok.set_credential_state(processing.pok_credential_id, "awaitingSomethingNew")
    check_when_due(processing)
    credential = PokCertificate.objects.get(pk=processing.pk)
    assert credential.state == S.PROCESSING
    assert credential.pok_state == "awaitingSomethingNew"
    assert credential.next_attempt_at is not None


@transactional
@pytest.mark.parametrize(
    ("pok_state", "expected"),
    [("aborted", S.FAILED), ("signatureRejected", S.FAILED), ("revoked", S.REVOKED)],
)
def test_final_pok_states_end_the_polling(fake_pok, processing, pok_state, expected):
    fake_pok.set_credential_state(processing.pok_credential_id, pok_state)
    check_when_due(processing)
    credential = PokCertificate.objects.get(pk=processing.pk)
    assert credential.state == expected
    assert credential.pok_state == pok_state
    assert credential.next_attempt_at is None
    if expected == S.FAILED:
        assert pok_state in credential.last_error
    else:
        assert credential.revoked_by == "pok"


@transactional
def test_a_check_during_an_outage_changes_nothing_but_the_next_check(fake_pok, processing):
    fake_pok.outage = True
    assert check_when_due(processing) == status.POK_NOT_ASKED
    credential = PokCertificate.objects.get(pk=processing.pk)
    assert credential.state == S.PROCESSING
    assert credential.next_attempt_at > processing.next_attempt_at
    assert "status check" in credential.last_error


@transactional
def test_an_emitted_credential_keeps_its_state_when_the_image_cannot_be_fetched(
    fake_pok, queued_tasks, processing
):
    fake_pok.emit_all()
    fake_pok.fail_next("GET credential image", status=404)
    check_when_due(processing)
    credential = PokCertificate.objects.get(pk=processing.pk)
    assert credential.state == S.EMITTED
    assert credential.image_url == ""

    from openedx_pok.tasks import refresh_credential_image

    refresh_credential_image(credential.pk)
    assert PokCertificate.objects.get(pk=processing.pk).image_url.startswith(fake_pok.url)


# --- revocation -------------------------------------------------------------------------------------


def send_revoked(user, course_key):
    """What the platform sends when it invalidates a certificate."""
    from openedx_events.learning.signals import CERTIFICATE_REVOKED

    CERTIFICATE_REVOKED.send_event(certificate=revoked_certificate_data(user, course_key))


@transactional
def test_a_certificate_revoked_before_issuing_is_never_sent(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    send_revoked(learner, pok_course)
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.REVOKED
    assert fake_pok.calls["POST credential"] == 0


@transactional
def test_a_certificate_revoked_after_issuing_is_revoked_here(
    fake_pok, queued_tasks, learner, pok_course, course_grade, tracked_events
):
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    send_revoked(learner, pok_course)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.REVOKED
    assert credential.pok_credential_id in fake_pok.credentials
    assert tracked_events[-1][0] == transitions.EVENT_REVOKED
    send_revoked(learner, pok_course)  # the signal is sent again: nothing changes
    assert [name for name, _ in tracked_events].count(transitions.EVENT_REVOKED) == 1


@transactional
def test_a_revocation_while_the_post_is_on_the_wire_wins(
    fake_pok, queued_tasks, learner, pok_course, course_grade, monkeypatch
):
    real_create = client.PokClient.create_credential

    def revoked_meanwhile(self, body):
        send_revoked(learner, pok_course)
        return real_create(self, body)

    monkeypatch.setattr(client.PokClient, "create_credential", revoked_meanwhile)
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.REVOKED
    assert credential.pok_credential_id in fake_pok.credentials  # the paid credential is on record
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_a_revoked_credential_never_sent_is_issued_when_the_platform_asks_again(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    send_revoked(learner, pok_course)
    request_certificate(learner, pok_course, course_grade(percent=0.91))
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert fake_pok.bodies("POST credential")[0]["receiver"]["identification"] == str(learner.pk)
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_an_issued_credential_requested_again_after_revocation_is_read_back_not_paid_again(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    send_revoked(learner, pok_course)
    request_certificate(learner, pok_course, course_grade())
    assert credential_of(learner, pok_course).state == S.PROCESSING
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 1


@transactional
def test_a_refused_credential_is_sent_again_when_the_platform_asks_again(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    fake_pok.fail_next("POST credential", status=400, message="bad title")
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.FAILED
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.EMITTED
    assert credential.attempts == 1
    assert fake_pok.calls["POST credential"] == 2


@transactional
@pytest.mark.parametrize("revoked_while", ["outcome_unknown", "requesting"])
def test_a_credential_pok_may_hold_is_not_sent_again_when_re_requested_after_revocation(
    fake_pok, queued_tasks, learner, pok_course, course_grade, monkeypatch, revoked_while
):
    real_create = client.PokClient.create_credential

    def create_then_lose_the_answer(self, body):
        if revoked_while == "requesting":
            send_revoked(learner, pok_course)
        real_create(self, body)  # POK creates it (a credit is spent)...
        raise client.PokOutcomeUnknown("read timed out")  # ...but its answer never arrives

    with monkeypatch.context() as patched:
        patched.setattr(client.PokClient, "create_credential", create_then_lose_the_answer)
        request_certificate(learner, pok_course, course_grade())
        queued_tasks.run()
    if revoked_while == "outcome_unknown":
        assert credential_of(learner, pok_course).state == S.OUTCOME_UNKNOWN
        send_revoked(learner, pok_course)
    assert credential_of(learner, pok_course).state == S.REVOKED

    request_certificate(learner, pok_course, course_grade())  # the learner passes again
    settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.OUTCOME_UNKNOWN
    assert credential.history[-1]["from"] == S.REVOKED
    assert len(fake_pok.credentials) == 1
    with pytest.raises(lifecycle.DuplicateRisk):
        operator_actions.retry_now(credential)


@transactional
@pytest.mark.parametrize("issued", [False, True])
def test_an_operators_revocation_survives_a_new_request_from_the_platform(
    fake_pok, queued_tasks, learner, pok_course, course_grade, caplog, issued
):
    request_certificate(learner, pok_course, course_grade())
    if issued:
        settle(queued_tasks)
    operator_actions.revoke(credential_of(learner, pok_course), "issued by mistake")

    with caplog.at_level("INFO", logger="openedx_pok.services.issuing.creation"):
        request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)

    credential = credential_of(learner, pok_course)
    assert credential.state == S.REVOKED
    assert credential.history[-1]["note"] == "issued by mistake"
    assert fake_pok.calls["POST credential"] == (1 if issued else 0)
    assert "not by the platform; its new request is ignored" in caplog.text


# --- retirement ---------------------------------------------------------------------------------------


@transactional
def test_retirement_scrubs_names_and_emails(fake_pok, queued_tasks, make_learner, pok_course, course_grade):
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC

    retiring, staying = make_learner(profile_name="Ana García"), make_learner(profile_name="Bo Li")
    for learner in (retiring, staying):
        request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    assert credential_of(retiring, pok_course).receiver_email == retiring.email

    USER_RETIRE_LMS_MISC.send(sender=None, user=retiring)

    credential = credential_of(retiring, pok_course)
    assert (credential.receiver_name, credential.receiver_email) == ("", "")
    assert credential.state == S.EMITTED
    assert "García" not in str(credential.history)
    assert credential_of(staying, pok_course).receiver_name == "Bo Li"


@transactional
def test_retirement_forgets_poks_words_and_never_sends_what_pok_does_not_hold(
    fake_pok, queued_tasks, make_learner, pok_course, make_course, enable_pok_for_course, course_grade
):
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC

    learner = make_learner(profile_name="Ana García")
    email = learner.email
    refused_course, waiting_course = pok_course, make_course()
    enable_pok_for_course(waiting_course)
    fake_pok.fail_next("POST credential", status=422, message=f"receiver.email {email} is not valid")
    request_certificate(learner, refused_course, course_grade())
    queued_tasks.run()
    request_certificate(learner, waiting_course, course_grade())  # its task has not run yet
    assert email in credential_of(learner, refused_course).last_error

    USER_RETIRE_LMS_MISC.send(sender=None, user=learner)
    learner.email = "retired__user_1@retired.invalid"  # what the platform's retirement leaves
    learner.save()

    for course in (refused_course, waiting_course):
        credential = credential_of(learner, course)
        assert credential.state == S.REVOKED
        assert credential.last_error == ""
        assert all(entry["note"] == "" for entry in credential.history[:-1])
        assert email not in str(credential.history)
        assert credential.history[-1]["note"] == "learner retired"
        assert all(entry["at"] and entry["to"] for entry in credential.history)
    settle(queued_tasks)
    for course in (refused_course, waiting_course):
        request_certificate(learner, course, course_grade())  # e.g. a regrade after retirement
    settle(queued_tasks)
    assert fake_pok.calls["POST credential"] == 1  # only the refused one, before retirement
    assert {credential_of(learner, course).state for course in (refused_course, waiting_course)} == {
        S.REVOKED
    }


@transactional
def test_a_refusal_arriving_after_retirement_is_not_kept(
    fake_pok, queued_tasks, learner, pok_course, course_grade, monkeypatch
):
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC

    def retired_while_on_the_wire(self, body):
        USER_RETIRE_LMS_MISC.send(sender=None, user=learner)
        raise client.PokValidationError(f"receiver.email {body['receiver']['email']} is not valid", 422)

    monkeypatch.setattr(client.PokClient, "create_credential", retired_while_on_the_wire)
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    assert credential.state == S.REVOKED
    assert credential.last_error == ""


# --- operator actions ---------------------------------------------------------------------------------


@transactional
def test_retry_now_refuses_an_unknown_outcome_unless_the_risk_is_accepted(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    fake_pok.drop_next("POST credential")
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    credential = credential_of(learner, pok_course)
    with pytest.raises(lifecycle.DuplicateRisk):
        operator_actions.retry_now(credential)
    queued_tasks.run()
    assert fake_pok.calls["POST credential"] == 1

    operator_actions.retry_now(credential, accept_duplicate_risk=True)
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
    assert fake_pok.calls["POST credential"] == 2


@transactional
def test_retry_now_sends_a_waiting_credential_at_once(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    fake_pok.fail_next("POST credential", status=503)
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.run()
    credential = credential_of(learner, pok_course)
    assert credential.state == S.RETRYING
    assert credential.next_attempt_at > timezone.now()
    queued_tasks.sent.clear()  # the countdown task would arrive later

    operator_actions.retry_now(credential)
    queued_tasks.run()
    assert credential_of(learner, pok_course).state == S.PROCESSING


@transactional
def test_operator_actions_refuse_impossible_states(fake_pok, queued_tasks, learner, pok_course, course_grade):
    request_certificate(learner, pok_course, course_grade())
    credential = credential_of(learner, pok_course)
    with pytest.raises(lifecycle.WrongState):
        operator_actions.reissue(credential)  # still pending
    with pytest.raises(lifecycle.NoPokCredential):
        operator_actions.resync_from_pok(credential)
    settle(queued_tasks)
    credential.refresh_from_db()
    with pytest.raises(lifecycle.WrongState):
        operator_actions.retry_now(credential)  # emitted


@transactional
def test_resync_reads_poks_state_for_a_failed_credential(fake_pok, processing):
    PokCertificate.objects.filter(pk=processing.pk).update(state=S.FAILED, last_error="operator test")
    fake_pok.emit_all()
    credential = PokCertificate.objects.get(pk=processing.pk)
    operator_actions.resync_from_pok(credential)
    assert credential.state == S.EMITTED
    assert credential.image_url


@transactional
def test_reissue_spends_a_new_credit_and_keeps_the_old_id_in_the_history(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    credential = credential_of(learner, pok_course)
    first_pok_id = credential.pok_credential_id
    operator_actions.reissue(credential)
    assert credential.state == S.PENDING
    settle(queued_tasks)
    credential.refresh_from_db()
    assert credential.state == S.EMITTED
    assert credential.pok_credential_id not in (None, first_pok_id)
    assert first_pok_id in str(credential.history)
    assert fake_pok.calls["POST credential"] == 2


# --- the sweep ----------------------------------------------------------------------------------------


@transactional
def test_the_sweep_requeues_a_pending_credential_whose_task_was_lost(
    fake_pok, queued_tasks, learner, pok_course, course_grade
):
    request_certificate(learner, pok_course, course_grade())
    queued_tasks.sent.clear()  # the broker lost the message
    assert sweep.sweep()["requeued"] == 0  # too recent to call it lost
    assert sweep.sweep(now=timezone.now() + LOST)["requeued"] == 1
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED


@transactional
def test_the_sweep_requeues_a_waiting_credential_once_per_period_not_every_run(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade
):
    for _ in range(3):
        request_certificate(make_learner(), pok_course, course_grade())
    queued_tasks.sent.clear()  # the workers are busy elsewhere (a backfill): the tasks wait
    start = timezone.now() + LOST
    requeued = [sweep.sweep(now=start + timedelta(minutes=minute))["requeued"] for minute in range(10)]
    assert requeued == [3] + [0] * 9
    assert sweep.sweep(now=start + policy.LOST_TASK_AFTER + timedelta(seconds=1))["requeued"] == 3
    assert queued_tasks.names.count("openedx_pok.tasks.issue_credential") == 6
    queued_tasks.run()
    assert fake_pok.calls["POST credential"] == 3


@transactional
def test_a_broker_outage_is_survived_by_the_sweep(
    fake_pok, queued_tasks, learner, pok_course, course_grade, monkeypatch
):
    from celery.app.task import Task

    def broker_down(task, *args, **kwargs):
        raise ConnectionError("broker unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(Task, "apply_async", broker_down)
        result = request_certificate(learner, pok_course, course_grade())
    assert result[0] == learner
    assert credential_of(learner, pok_course).state == S.PENDING
    sweep.sweep(now=timezone.now() + LOST)
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED
