"""
The reconciliation finds downloadable certificates the creation step missed and requests their
credentials, by the creation step's own rules; a database failure under the creation step loses
nothing, since the reconciliation comes back for it.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.utils import timezone

from openedx_pok import tasks
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services.issuing import reconciliation
from tests.chains import RECONCILE, live_runs
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
pytestmark = pytest.mark.django_db(transaction=True)


def backdate(certificate, days):
    type(certificate).objects.filter(pk=certificate.pk).update(
        modified_date=timezone.now() - timedelta(days=days)
    )


def test_a_certificate_the_creation_step_missed_is_requested_once(
    fake_pok, queued_tasks, make_learner, pok_course, make_platform_certificate
):
    missed = make_learner()
    make_platform_certificate(missed, pok_course)  # the filter never ran for it

    counts = reconciliation.reconcile()
    assert (counts["scanned"], counts["missing"], counts["requested"]) == (1, 1, 1)
    settle(queued_tasks)
    credential = credential_of(missed, pok_course)
    assert credential.state == S.EMITTED
    assert credential.generation_mode == "reconciliation"
    assert reconciliation.reconcile()["requested"] == 0
    assert fake_pok.calls["POST credential"] == 1


def test_only_what_the_creation_step_would_have_requested(
    fake_pok, queued_tasks, make_learner, pok_course, make_course, make_platform_certificate, make_credential
):
    make_platform_certificate(make_learner(), make_course())  # POK is off for that course
    make_platform_certificate(make_learner(), pok_course, status="notpassing")
    old = make_platform_certificate(make_learner(), pok_course)
    backdate(old, days=30)  # a backfill's business: it costs a credit, an operator decides
    revoked = make_learner()
    make_platform_certificate(revoked, pok_course)
    make_credential(revoked, pok_course, state=S.REVOKED, revoked_by="operator")

    counts = reconciliation.reconcile()
    assert counts["requested"] == 0
    assert counts["not_wanted"] == 1
    assert PokCertificate.objects.count() == 1
    assert credential_of(revoked, pok_course).state == S.REVOKED


def test_a_run_is_bounded_and_the_next_takes_the_rest(
    fake_pok, queued_tasks, make_learner, pok_course, make_platform_certificate
):
    for _ in range(3):
        make_platform_certificate(make_learner(), pok_course)
    assert reconciliation.reconcile(limit=2)["left_for_next_run"] == 1
    assert reconciliation.reconcile(limit=2)["requested"] == 1
    assert PokCertificate.objects.count() == 3


def test_a_database_failure_under_the_creation_step_loses_nothing(
    fake_pok, queued_tasks, learner, pok_course, course_grade, make_platform_certificate, monkeypatch
):
    make_platform_certificate(learner, pok_course)

    def database_down(*args, **kwargs):
        raise DatabaseError("server has gone away")

    with monkeypatch.context() as patch:
        patch.setattr(PokCertificate, "save", database_down)
        request_certificate(learner, pok_course, course_grade())  # returns; the platform goes on
    assert PokCertificate.objects.count() == 0
    [(_, _, options)] = live_runs(queued_tasks, RECONCILE)
    assert options["countdown"] == 300

    queued_tasks.run(delayed=True)  # the reconciliation comes
    settle(queued_tasks)
    assert credential_of(learner, pok_course).state == S.EMITTED


def test_the_scheduled_reconciliation_keeps_coming_back(fake_pok, queued_tasks):
    tasks.reconcile_certificates(scheduled=True)
    assert [options["countdown"] for _, _, options in queued_tasks.named(RECONCILE)] == [1800]


def test_pok_reconcile_reports_and_requests(
    fake_pok, queued_tasks, make_learner, pok_course, make_platform_certificate
):
    make_platform_certificate(make_learner(), pok_course)
    out = StringIO()
    call_command("pok_reconcile", "--dry-run", stdout=out)
    assert "without a POK credential: 1" in out.getvalue()
    assert PokCertificate.objects.count() == 0

    out = StringIO()
    call_command("pok_reconcile", "--days", "1", stdout=out)
    assert "Requested: 1;" in out.getvalue()
    assert PokCertificate.objects.count() == 1
