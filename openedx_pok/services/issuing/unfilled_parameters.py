"""
Credentials that failed because a template parameter had no value (no source, an unknown source, or
an empty one): the payload could not be built, so nothing was sent to POK. Once the operator fixes
the mapping, the template or the course, sending them again cannot create a duplicate.
"""

from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services.issuing.sending import PAYLOAD_FAILURE
from openedx_pok.services.templates.value_sources import UNFILLED_PARAMETER

# How the issuing task words these failures: its payload failure, then value_sources' UnfilledParameter.
FAILURE_PREFIX = PAYLOAD_FAILURE + UNFILLED_PARAMETER


def never_sent_for_unfilled_parameters(queryset=None) -> list[PokCertificate]:
    """Failed credentials whose last error is an unfilled parameter and that no request ever carried."""
    candidates = (queryset if queryset is not None else PokCertificate.objects).filter(
        state=CredentialState.FAILED,
        pok_credential_id__isnull=True,
        last_error__startswith=FAILURE_PREFIX,
    )
    return [
        credential
        for credential in candidates.order_by("pk")
        if not any(entry.get("to") == CredentialState.REQUESTING for entry in credential.history or [])
    ]
