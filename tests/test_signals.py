"""The plugin's receivers are wired to the platform's signals, the way LMS wires plugin signals."""

import pytest
from django.utils import timezone

from openedx_pok.models import CredentialState, PokCertificate
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
