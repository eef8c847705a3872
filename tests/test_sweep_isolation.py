"""
One poisoned row never stalls a batch: whatever a row raises in the sweep, the status sync, a
backfill or a retry is logged once and written on that row, and every other row moves on.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from openedx_pok import client
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import policy
from openedx_pok.services.issuing import operator_actions, sending, sweep

S = CredentialState
pytestmark = pytest.mark.django_db(transaction=True)
LONG_AGO = timedelta(hours=1)


@pytest.fixture
def poisoned_status(fake_pok, monkeypatch):
    """POK's answer about one credential makes the code raise (as a JSON nested thousands deep once did)."""
    poisoned = set()
    real_get = client.PokClient.get_credential

    def get_credential(self, credential_id):
        if credential_id in poisoned:
            raise RecursionError("maximum recursion depth exceeded")
        return real_get(self, credential_id)

    monkeypatch.setattr(client.PokClient, "get_credential", get_credential)
    return poisoned


def test_the_status_sync_goes_on_past_a_poisoned_answer(fake_pok, credential_in, poisoned_status, caplog):
    fake_pok.emit_after = None
    bad, good = credential_in(S.PROCESSING), credential_in(S.PROCESSING)
    poisoned_status.add(bad.pok_credential_id)
    fake_pok.emit_all()
    PokCertificate.objects.update(next_attempt_at=timezone.now() - policy.OVERDUE_CHECK_AFTER - LONG_AGO)

    with caplog.at_level("ERROR"):
        counts = sweep.sync_statuses()

    assert counts["errors"] == 1
    assert counts["emitted"] == 1
    assert PokCertificate.objects.get(pk=good.pk).state == S.EMITTED
    bad = PokCertificate.objects.get(pk=bad.pk)
    assert bad.state == S.PROCESSING
    assert "status check: unexpected RecursionError" in bad.last_error
    assert caplog.text.count("the batch goes on") == 1


def test_the_sweep_goes_on_past_a_row_that_raises(fake_pok, credential_in, settings, monkeypatch):
    settings.POK_MAX_ATTEMPTS = 1
    first, second = credential_in(S.FAILED), credential_in(S.FAILED)
    PokCertificate.objects.update(next_attempt_at=timezone.now() - LONG_AGO)
    real_reopen = sending.reopen_for_sending

    def reopen(credential_id, name, **kwargs):
        if credential_id == first.pk:
            raise OverflowError("date value out of range")
        return real_reopen(credential_id, name, **kwargs)

    monkeypatch.setattr(sending, "reopen_for_sending", reopen)
    counts = sweep.sweep()
    assert (counts["errors"], counts["reopened_failed"]) == (1, 1)
    assert PokCertificate.objects.get(pk=second.pk).state == S.PENDING
    assert "sweep: unexpected OverflowError" in PokCertificate.objects.get(pk=first.pk).last_error


def test_a_retry_batch_goes_on_past_a_row_that_raises(fake_pok, queued_tasks, credential_in, monkeypatch):
    first, second = credential_in(S.FAILED), credential_in(S.FAILED)
    real_retry = operator_actions.retry_now

    def retry(credential, **kwargs):
        if credential.pk == first.pk:
            raise RuntimeError("broker unreachable")
        return real_retry(credential, **kwargs)

    monkeypatch.setattr(operator_actions, "retry_now", retry)
    out = StringIO()
    with pytest.raises(CommandError, match="1 credential"):
        call_command("pok_retry", "--state", "failed", stdout=out)
    assert "1 queued for another attempt, 0 skipped, 1 errors" in out.getvalue()
    assert PokCertificate.objects.get(pk=second.pk).state == S.PENDING
    assert "retry: unexpected RuntimeError" in PokCertificate.objects.get(pk=first.pk).last_error
