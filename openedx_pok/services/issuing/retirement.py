"""Learner retirement: forget what the plugin copied of the learner, and never send what POK does not hold."""

import logging

from django.db import transaction

from openedx_pok.models import PokCertificate
from openedx_pok.services import lifecycle

log = logging.getLogger(__name__)

RETIRED_NOTE = "learner retired"


def scrub_learner_pii(user) -> int:
    """
    Forget the names and emails copied from the learner, and POK's error texts and history notes
    that may quote them; returns the rows scrubbed. A credential POK does not hold is revoked, so
    the retired placeholder identity is never sent. One POK holds stays as it is: POK has no
    revoke endpoint.
    """
    scrubbed = 0
    for credential_id in PokCertificate.objects.filter(user=user).values_list("pk", flat=True):
        with transaction.atomic():
            locked = lifecycle.lock(credential_id, skip_locked=False)
            if locked is None:
                continue
            locked.receiver_name = ""
            locked.receiver_email = ""
            locked.last_error = ""
            locked.history = [{**entry, "note": ""} for entry in locked.history]
            if not locked.pok_credential_id and lifecycle.allows(locked, "retired"):
                lifecycle.apply(locked, "retired", reason=RETIRED_NOTE)
            else:
                locked.save()
        scrubbed += 1
    log.info("Scrubbed learner data from %s POK credential(s) of user %s", scrubbed, user.pk)
    return scrubbed
