"""
What a failed exchange with POK means: which :class:`PokError` an answer other than 2xx is, how
long POK asked us to wait, POK's own explanation fit for a log line, and whether a request that
failed can have left at all (only then may a POST have created a credential).

Plain functions over a status, headers, a body or a ``requests`` exception, with no I/O, so each
rule can be read, and tested, without a server.
"""

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from openedx_pok.client.errors import (
    PokAuthError,
    PokError,
    PokNotFound,
    PokRateLimited,
    PokUnavailable,
    PokValidationError,
)
from openedx_pok.client.values import log_safe

# The longest Retry-After honoured; a longer one, or a date far ahead, is cut to this.
MAX_RETRY_AFTER_SECONDS = 3600.0
MAX_RETRY_AFTER_HEADER_LENGTH = 64
MAX_ERROR_MESSAGE_LENGTH = 500

_DELAY_SECONDS = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,6})?")


def parse_retry_after(value: str | None) -> float | None:
    """
    Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date, at most
    MAX_RETRY_AFTER_SECONDS. Anything else (``inf``, ``1e309``, a date no calendar holds) is
    ignored: None, as if POK had not said.
    """
    if not value or len(value) > MAX_RETRY_AFTER_HEADER_LENGTH:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def error_message(status: int, reason: str | None, body: Any) -> str:
    """POK's own explanation when the body carries one, else the HTTP status line; fit for a log line."""
    fallback = f"HTTP {status} {log_safe(reason or '')}".strip()
    message = None
    if isinstance(body, Mapping):
        for key in ("message", "error_description", "detail", "error", "errors"):
            if body.get(key):
                message = body[key]
                break
    elif isinstance(body, str):
        message = body
    if isinstance(message, list):
        message = "; ".join(
            str(item.get("message", item)) if isinstance(item, Mapping) else str(item) for item in message
        )
    elif isinstance(message, Mapping):
        message = "; ".join(f"{key}: {value}" for key, value in message.items())
    return log_safe(str(message), MAX_ERROR_MESSAGE_LENGTH) if message else fallback


_CLIENT_ERRORS = {401: PokAuthError, 403: PokAuthError, 404: PokNotFound}


def error_for(status: int, message: str, headers: Mapping[str, str]) -> PokError:
    """The typed error for a non-2xx answer; other 4xx (and a 3xx) will not succeed when repeated."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        return PokRateLimited(message, status, retry_after)
    if status >= 500 or status < 300:
        return PokUnavailable(message, status, retry_after)
    if status < 400:
        message = f"POK redirected the request (HTTP {status}): check POK_API_URL, POK expects https."
    return _CLIENT_ERRORS.get(status, PokValidationError)(message, status)


# Failures that happen before a request can leave: re-sending cannot create a duplicate.
_NOT_SENT = (
    (NameResolutionError, "the host name does not resolve"),
    (requests.ConnectTimeout | ConnectTimeoutError, "no connection within the connect timeout"),
    (requests.exceptions.SSLError, "TLS handshake failed"),
    (
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
        "POK_API_URL is not a valid http(s) URL",
    ),
)


def why_nothing_was_sent(error: requests.RequestException) -> str | None:
    """
    Why the request never left (refused, connect timeout, TLS, bad URL), or None when it may have
    reached POK: only then is a POST's outcome unknown.
    """
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    if type(reason) is NewConnectionError:
        # Checked first: urllib3 makes NewConnectionError a subclass of ConnectTimeoutError.
        return "connection refused" if _is_refusal(reason) else "cannot connect"
    for kinds, why in _NOT_SENT:
        if isinstance(error, kinds) or isinstance(reason, kinds):
            return why
    return None


def _is_refusal(error: Exception) -> bool:
    cause = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "refused" in str(error).lower()
