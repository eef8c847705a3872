"""
Celery tasks (LMS autodiscovers this module). Thin: JSON arguments in, a service call, nothing out.

Queue them with ``apply_async(queue=setting("POK_CELERY_QUEUE"))``, as the issuance service does;
the beat schedule in :mod:`openedx_pok.celery_schedule` runs the periodic ones.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache

from openedx_pok import client
from openedx_pok.models import PokCertificate
from openedx_pok.services import issuance

log = logging.getLogger(__name__)

# How long a periodic run keeps others out if its worker dies before releasing the lock.
SINGLE_FLIGHT_TIMEOUT = 5 * 60


@shared_task(name="openedx_pok.tasks.issue_credential", ignore_result=True)
def issue_credential(pok_certificate_id: int) -> None:
    """Issue one credential in POK (one POST at most)."""
    issuance.issue(int(pok_certificate_id))


@contextmanager
def _single_flight(name: str) -> Iterator[bool]:
    """
    Whether this run may go ahead: a slow POK must not make beat's runs overlap and pile up on the
    workers. The shared cache's add() is atomic, so only one run holds the lock.
    """
    key = f"openedx_pok.single_flight.{name.replace(' ', '_')}"
    acquired = cache.add(key, "running", SINGLE_FLIGHT_TIMEOUT)
    try:
        yield acquired
    finally:
        if acquired:
            cache.delete(key)


def _run_periodic(name: str, work) -> dict:
    with _single_flight(name) as acquired:
        if not acquired:
            log.info("POK %s skipped: the previous run is still going", name)
            return {}
        counts = work()
    log.info("POK %s: %s", name, counts)
    return counts


@shared_task(name="openedx_pok.tasks.sweep_credentials", ignore_result=True)
def sweep_credentials() -> dict:
    """Re-queue credentials due for a retry and settle the ones stuck mid-request."""
    return _run_periodic("sweep", issuance.sweep)


@shared_task(name="openedx_pok.tasks.sync_credential_statuses", ignore_result=True)
def sync_credential_statuses() -> dict:
    """Poll POK for the credentials it is still processing."""
    return _run_periodic("status sync", issuance.sync_statuses)


@shared_task(name="openedx_pok.tasks.refresh_credential_image", ignore_result=True)
def refresh_credential_image(pok_certificate_id: int) -> None:
    """Fetch a fresh image URL for an emitted credential (they expire)."""
    credential = PokCertificate.objects.filter(pk=int(pok_certificate_id)).first()
    if credential is None or not credential.pok_credential_id:
        return
    try:
        issuance.refresh_image(credential)
    except client.PokError as error:
        log.warning("POK image of credential %s not refreshed: %s", credential.pk, type(error).__name__)
