"""The plugin's receivers are wired to the platform's signals, the way LMS wires plugin signals."""

from types import SimpleNamespace

import pytest
from django.db import DatabaseError
from django.test import override_settings
from django.utils import timezone

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services.issuing import operator_actions, retirement
from tests.issuing import revoked_certificate_data


@pytest.mark.django_db
@pytest.mark.parametrize(
    "state", [CredentialState.PENDING, CredentialState.PROCESSING, CredentialState.EMITTED]
)
def test_certificate_revoked_revokes_only_that_learners_credential_in_that_course(
    make_learner, make_course, state
):
    from openedx_events.learning.signals import CERTIFICATE_REVOKED

    learner, other = make_learner(), make_learner()
    course_key, other_course = make_course(), make_course()
    revoked = PokCertificate.objects.create(user=learner, course_key=course_key, state=state)
    same_learner_elsewhere = PokCertificate.objects.create(user=learner, course_key=other_course, state=state)
    other_learner = PokCertificate.objects.create(user=other, course_key=course_key, state=state)

    CERTIFICATE_REVOKED.send_event(
        certificate=revoked_certificate_data(learner, course_key), time=timezone.now()
    )

    revoked.refresh_from_db()
    assert revoked.state == CredentialState.REVOKED
    assert revoked.history[-1]["note"] == "certificate revoked in Open edX"
    for untouched in (same_learner_elsewhere, other_learner):
        untouched.refresh_from_db()
        assert untouched.state == state


@pytest.mark.django_db
def test_retirement_only_scrubs_the_retired_learner(make_learner, course_key):
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC

    retired, other = make_learner(), make_learner()
    for user in (retired, other):
        PokCertificate.objects.create(
            user=user, course_key=course_key, receiver_name="Ana García", receiver_email=user.email
        )
    USER_RETIRE_LMS_MISC.send(sender=None, user=retired)
    assert PokCertificate.objects.filter(user=retired, receiver_name="", receiver_email="").count() == 1
    assert PokCertificate.objects.get(user=other).receiver_email == other.email


@pytest.mark.django_db
@pytest.mark.parametrize(
    "certificate",
    [
        SimpleNamespace(user=None, course=None),
        SimpleNamespace(user=SimpleNamespace(id=1), course=SimpleNamespace()),
        SimpleNamespace(),
    ],
)
def test_a_malformed_revocation_is_logged_not_raised(certificate, caplog):
    from openedx_pok.signals import mark_credential_revoked

    mark_credential_revoked(certificate=certificate)
    assert "without a learner id or course key" in caplog.text


@pytest.mark.django_db
def test_a_failing_revocation_does_not_break_the_platforms_signal(learner, course_key, monkeypatch, caplog):
    from openedx_events.learning.signals import CERTIFICATE_REVOKED

    def database_down(**kwargs):
        raise DatabaseError("server has gone away")

    monkeypatch.setattr(operator_actions, "revoke_for_platform", database_down)
    with override_settings(DEBUG=True):  # openedx-events re-raises receivers' errors under DEBUG
        CERTIFICATE_REVOKED.send_event(certificate=revoked_certificate_data(learner, course_key))
    assert "could not be marked revoked" in caplog.text
    assert learner.email not in caplog.text


@pytest.mark.django_db
def test_a_failing_scrub_does_not_abort_the_learners_retirement(learner, monkeypatch, caplog):
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_MISC

    def database_down(user):
        raise DatabaseError("server has gone away")

    monkeypatch.setattr(retirement, "scrub_learner_pii", database_down)
    USER_RETIRE_LMS_MISC.send(sender=None, user=learner)  # a plain Signal.send: an error would propagate
    assert "could not be scrubbed" in caplog.text
    assert learner.email not in caplog.text
