"""
Single values from POK, checked before the plugin keeps or logs them.

POK's answers are data from outside: an id must fit the ``pok_credential_id`` column and a URL path
segment, a date must be one any database here can hold, and anything that reaches a log line goes
through :func:`log_safe`. Each check returns the value it keeps (or "" / None) and, where the caller
records problems, why a value was dropped, in readable words.
"""

import re
import reprlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MAX_LOGGED_VALUE_LENGTH = 100

# What POK sends must fit where it is kept (models.PokCertificate's columns) and stay readable.
MAX_POK_ID_LENGTH = 64
MAX_POK_STATE_LENGTH = 64
MAX_VIEW_URL_LENGTH = 500
MAX_IMAGE_URL_LENGTH = 1000
MAX_PREVIEW_URL_LENGTH = 2000
MAX_TEXT_LENGTH = 1000
MAX_TIMESTAMP_LENGTH = 64
# What POK echoes of a credential's receiver and tags, read only to compare it with a row.
MAX_EMAIL_LENGTH = 254
MAX_TAGS = 50
POK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
POK_STATE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)


def pok_id(value: Any, name: str = "id") -> tuple[str, str | None]:
    """POK's id, when it fits the ``pok_credential_id`` column and a URL path segment."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    return _fitting_text(
        value, name, MAX_POK_ID_LENGTH, POK_ID, "holds characters other than letters, digits and . _ : -"
    )


def pok_state(value: Any, name: str = "state") -> tuple[str, str | None]:
    return _fitting_text(value, name, MAX_POK_STATE_LENGTH, POK_STATE, "is not a state name")


def view_url(value: Any, name: str = "viewUrl") -> tuple[str, str | None]:
    """Whether the URL may be shown is url_safety's business at render time; here only its size."""
    return _fitting_text(value, name, MAX_VIEW_URL_LENGTH)


def _fitting_text(
    value: Any, name: str, max_length: int, pattern: re.Pattern | None = None, unfit: str = ""
) -> tuple[str, str | None]:
    """``value`` and None when it is text that fits, else "" and why not; absent is not a problem."""
    if value is None or value == "":
        return "", None
    if not isinstance(value, str):
        return "", f"{name} is {_json_kind(value)}, not text"
    if len(value) > max_length:
        return "", f"{name} is {len(value)} characters long, more than {max_length}"
    if pattern is not None and not pattern.fullmatch(value):
        return "", f"{name} {log_safe(value)} {unfit}"
    return value, None


def moment(value: Any, name: str) -> tuple[datetime | None, str | None]:
    """An ISO 8601 timestamp as an aware UTC datetime, within the years any database here can hold."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_LENGTH:
        return None, f"{name} is not an ISO 8601 date"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None, f"{name} {log_safe(value)} is not an ISO 8601 date"
    if not EARLIEST_TIMESTAMP <= parsed < LATEST_TIMESTAMP:
        return None, (
            f"{name} {log_safe(value)} is outside the years "
            f"{EARLIEST_TIMESTAMP.year} to {LATEST_TIMESTAMP.year - 1}"
        )
    return parsed, None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {dict: "an object", list: "a list"}.get(type(value), f"a {type(value).__name__}")


def text(value: Any, limit: int = MAX_TEXT_LENGTH) -> str:
    """A display value (a name, a label, a URL) as text cut to ``limit``; "" for none or a structure."""
    return "" if value is None or isinstance(value, Mapping | list) else str(value)[:limit]


def integer(value: Any) -> int | None:
    """A count as an int, or None when POK sent none or something that is not a number."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def log_safe(value: Any, limit: int = MAX_LOGGED_VALUE_LENGTH) -> str:
    """
    A value from POK fit for one log line or a stored reason: at most ``limit`` of its characters,
    with line breaks, control and invisible (bidi, zero-width) characters escaped, so it can
    neither forge a log line nor flood one.
    """
    written = value if isinstance(value, str) else reprlib.repr(value)
    shown = "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode("ascii")
        for character in written[:limit]
    )
    return shown + ("..." if len(written) > limit else "")
