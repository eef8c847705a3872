"""
HTTP to POK, and only here: the rest of the plugin imports what it needs from this package.

``pok_client`` holds :class:`PokClient` and :func:`get_client`; ``answers`` the dataclasses it
returns; ``errors`` the errors it raises; ``values`` the checks on each value POK sends;
``failures`` which error a failed exchange is; ``transport`` the session whose exchanges end by
their deadline and read a bounded answer. The names below are what ``openedx_pok.client`` offered
when it was one module, and stay importable from here.
"""

from openedx_pok.client.answers import PokCredential, PokOrganization, PokPage, PokTemplate, TemplateParameter
from openedx_pok.client.errors import (
    PokAccountNotConfigured,
    PokAuthError,
    PokCreationServerError,
    PokError,
    PokInvalidAnswer,
    PokInvalidCreationAnswer,
    PokNotFound,
    PokOutcomeUnknown,
    PokRateLimited,
    PokUnavailable,
    PokValidationError,
)
from openedx_pok.client.failures import (
    MAX_ERROR_MESSAGE_LENGTH,
    MAX_RETRY_AFTER_HEADER_LENGTH,
    MAX_RETRY_AFTER_SECONDS,
    parse_retry_after,
)
from openedx_pok.client.pok_client import (
    AMBIGUOUS_POST_STATUSES,
    GET_ATTEMPTS,
    GET_RETRY_BACKOFF,
    MAX_INLINE_RETRY_WAIT,
    MAX_REDIRECTS,
    PokClient,
    call_deadline,
    get_client,
)
from openedx_pok.client.transport import shared_session
from openedx_pok.client.values import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_IMAGE_URL_LENGTH,
    MAX_LOGGED_VALUE_LENGTH,
    MAX_POK_ID_LENGTH,
    MAX_POK_STATE_LENGTH,
    MAX_PREVIEW_URL_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_TIMESTAMP_LENGTH,
    MAX_VIEW_URL_LENGTH,
    POK_ID,
    POK_STATE,
    log_safe,
)

__all__ = [
    "AMBIGUOUS_POST_STATUSES",
    "EARLIEST_TIMESTAMP",
    "GET_ATTEMPTS",
    "GET_RETRY_BACKOFF",
    "LATEST_TIMESTAMP",
    "MAX_ERROR_MESSAGE_LENGTH",
    "MAX_IMAGE_URL_LENGTH",
    "MAX_INLINE_RETRY_WAIT",
    "MAX_LOGGED_VALUE_LENGTH",
    "MAX_POK_ID_LENGTH",
    "MAX_POK_STATE_LENGTH",
    "MAX_PREVIEW_URL_LENGTH",
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER_HEADER_LENGTH",
    "MAX_RETRY_AFTER_SECONDS",
    "MAX_TEXT_LENGTH",
    "MAX_TIMESTAMP_LENGTH",
    "MAX_VIEW_URL_LENGTH",
    "POK_ID",
    "POK_STATE",
    "PokAccountNotConfigured",
    "PokAuthError",
    "PokClient",
    "PokCreationServerError",
    "PokCredential",
    "PokError",
    "PokInvalidAnswer",
    "PokInvalidCreationAnswer",
    "PokNotFound",
    "PokOrganization",
    "PokOutcomeUnknown",
    "PokPage",
    "PokRateLimited",
    "PokTemplate",
    "PokUnavailable",
    "PokValidationError",
    "TemplateParameter",
    "call_deadline",
    "get_client",
    "log_safe",
    "parse_retry_after",
    "shared_session",
]
