"""
HTTP client for the POK API: sessions, timeouts, typed results and typed errors, nothing else.

The rest of the plugin never sees ``requests`` or raw JSON: every call returns a frozen dataclass
or raises a :class:`PokError` subclass. The one rule that matters for money: ``POST credential``
is sent at most once per call, because POK has no idempotency key and every credential costs a
credit. When the request left but no usable answer came back, :class:`PokOutcomeUnknown` says so.

POK's answers are data from outside: a call ends by its deadline however they trickle in, reads a
bounded amount of them (``client_transport``), and checks every value it hands on against what the
plugin can store; values from POK that reach a log line go through :func:`log_safe`.
"""

import email.utils
import logging
import os
import re
import reprlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urljoin, urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from openedx_pok import accounts, client_transport
from openedx_pok.client_transport import Deadline
from openedx_pok.conf import setting

log = logging.getLogger(__name__)

# GETs cost nothing to repeat: a few quick attempts hide a blip without holding a worker for long.
GET_ATTEMPTS = 3
GET_RETRY_BACKOFF = 0.25
# A Retry-After longer than this is not waited for inside the client: the caller reschedules.
MAX_INLINE_RETRY_WAIT = 2.0
# The longest Retry-After honoured; a longer one, or a date far ahead, is cut to this.
MAX_RETRY_AFTER_SECONDS = 3600.0
MAX_RETRY_AFTER_HEADER_LENGTH = 64
MAX_ERROR_MESSAGE_LENGTH = 500
MAX_LOGGED_VALUE_LENGTH = 100
# A gateway that timed out waiting for POK cannot say whether POK went on to create the credential.
AMBIGUOUS_POST_STATUSES = frozenset({504})
# GETs follow this many redirects, on POK_API_URL's own scheme and host only.
MAX_REDIRECTS = 3

# What POK sends must fit where it is kept (models.PokCertificate's columns) and stay readable.
MAX_POK_ID_LENGTH = 64
MAX_POK_STATE_LENGTH = 64
MAX_VIEW_URL_LENGTH = 500
MAX_IMAGE_URL_LENGTH = 1000
MAX_PREVIEW_URL_LENGTH = 2000
MAX_TEXT_LENGTH = 1000
MAX_TIMESTAMP_LENGTH = 64
POK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
POK_STATE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)


def call_deadline(timeout: float, connect_timeout: float) -> float:
    """Seconds a POK call may take in all, however its answer trickles in: connecting, then the answer."""
    return float(connect_timeout) + float(timeout)


class PokError(Exception):
    """Any failure talking to POK. ``status_code`` is None when no HTTP answer arrived."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class PokAuthError(PokError):
    """POK refused the API key (401/403): a configuration problem, retrying will not help."""


class PokAccountNotConfigured(PokAuthError):
    """The credential's POK account is not in POK_ACCOUNTS (any more): there is no key to use."""


class PokNotFound(PokError):
    """POK does not know the template, page or credential id (404)."""


class PokValidationError(PokError):
    """POK rejected the request (400/422), or answered 2xx without what the call needs."""


class PokRateLimited(PokError):
    """POK asked us to slow down (429); ``retry_after`` is in seconds when POK said so."""

    def __init__(self, message: str, status_code: int | None = 429, retry_after: float | None = None):
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PokUnavailable(PokError):
    """
    POK could not be reached or failed on its side (refused, connect timeout, 5xx, GET read timeout).

    For ``POST credential`` this means nothing was sent, except for its subclass
    :class:`PokCreationServerError`.
    """

    def __init__(self, message: str, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PokCreationServerError(PokUnavailable):
    """
    POK answered ``POST credential`` with a server error (5xx other than 504, which is an unknown
    outcome). POK may have created, and charged for, the credential before failing: the issuing code
    decides whether to send it again. A PokUnavailable, so callers that retry outages still do.
    """


class PokInvalidAnswer(PokUnavailable):
    """
    POK answered a GET (or the template preview) with 2xx but with something this client cannot
    use: too large, not JSON, nested too deep, or without the values the call needs. Nothing was
    created, so it is treated as POK misbehaving for a while: a later attempt may succeed.
    ``reason`` says what was wrong.
    """

    def __init__(self, message: str, status_code: int | None = None, reason: str = ""):
        super().__init__(message, status_code)
        self.reason = reason or message


class PokOutcomeUnknown(PokError):
    """
    A POST was sent but no usable answer came back: POK may or may not have created the
    credential, and re-sending it risks paying twice (ADR 0002).
    """


class PokInvalidCreationAnswer(PokOutcomeUnknown):
    """
    POK accepted ``POST credential`` (2xx) but its answer cannot be used: no credential id, an id
    this plugin cannot store (not text, longer than 64 characters, odd characters), or a body too
    large, not JSON or nested too deep. POK may hold a paid credential; ``reason`` says what was
    wrong and ``status_code`` is POK's 2xx.
    """

    def __init__(self, reason: str, status_code: int | None = None):
        super().__init__(
            f"POK accepted the credential request but its answer cannot be used: {reason}; "
            "the credential may exist in POK.",
            status_code,
        )
        self.reason = reason


@dataclass(frozen=True)
class PokOrganization:
    name: str
    available_credits: int | None
    emitted_credentials: int | None
    processing_credentials: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokOrganization":
        return cls(
            name=_text(data.get("name")),
            available_credits=_integer(data.get("availableCredits")),
            emitted_credentials=_integer(data.get("emittedCredentials")),
            processing_credentials=_integer(data.get("processingCredentials")),
        )


@dataclass(frozen=True)
class TemplateParameter:
    id: str
    label: str

    @classmethod
    def from_json(cls, data: Any) -> "TemplateParameter | None":
        if isinstance(data, str | int):
            return cls(id=_text(data), label=_text(data))
        if not isinstance(data, Mapping) or data.get("id") in (None, ""):
            return None
        parameter_id = _text(data.get("id"))
        return cls(id=parameter_id, label=_text(data.get("label")) or parameter_id)


@dataclass(frozen=True)
class PokTemplate:
    id: str
    name: str
    custom_parameters: tuple[TemplateParameter, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokTemplate":
        raw_parameters = data.get("customParameters")
        parameters = (
            tuple(
                parameter
                for parameter in (TemplateParameter.from_json(item) for item in raw_parameters)
                if parameter is not None
            )
            if isinstance(raw_parameters, list)
            else ()
        )
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            custom_parameters=parameters,
        )


@dataclass(frozen=True)
class PokPage:
    id: str
    name: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokPage":
        return cls(id=_text(data.get("id")), name=_text(data.get("name")))


@dataclass(frozen=True)
class PokCredential:
    """
    A credential as POK reports it, checked before anything is stored: what the plugin keeps of it.

    ``state`` is kept verbatim when it reads as a state name, even one this code does not know;
    the emission date is an aware UTC datetime. A value that does not fit (wrong type, too long,
    odd characters, a date out of range) is dropped, to "" or None, and ``problems`` says why in
    readable words. An empty ``id`` means POK sent none that can be used.
    """

    id: str
    state: str
    view_url: str
    emission_date: datetime | None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokCredential":
        details = data.get("credential") if isinstance(data.get("credential"), Mapping) else {}
        problems: list[str] = []

        def checked(check, value, name):
            kept, problem = check(value, name)
            if problem:
                problems.append(problem)
            return kept

        return cls(
            id=checked(_pok_id, data.get("id"), "id"),
            state=checked(_pok_state, data.get("state"), "state"),
            view_url=checked(_view_url, data.get("viewUrl"), "viewUrl"),
            emission_date=checked(
                _moment, details.get("emissionDate", data.get("emissionDate")), "emissionDate"
            ),
            problems=tuple(problems),
        )


def _pok_id(value: Any, name: str = "id") -> tuple[str, str | None]:
    """POK's id, when it fits the ``pok_credential_id`` column and a URL path segment."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    return _fitting_text(
        value, name, MAX_POK_ID_LENGTH, POK_ID, "holds characters other than letters, digits and . _ : -"
    )


def _pok_state(value: Any, name: str = "state") -> tuple[str, str | None]:
    return _fitting_text(value, name, MAX_POK_STATE_LENGTH, POK_STATE, "is not a state name")


def _view_url(value: Any, name: str = "viewUrl") -> tuple[str, str | None]:
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


def _moment(value: Any, name: str) -> tuple[datetime | None, str | None]:
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


def _text(value: Any, limit: int = MAX_TEXT_LENGTH) -> str:
    return "" if value is None or isinstance(value, Mapping | list) else str(value)[:limit]


def _integer(value: Any) -> int | None:
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
    text = value if isinstance(value, str) else reprlib.repr(value)
    shown = "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode("ascii")
        for character in text[:limit]
    )
    return shown + ("..." if len(text) > limit else "")


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


def _error_message(status: int, reason: str | None, body: Any) -> str:
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


def _why_nothing_was_sent(error: requests.RequestException) -> str | None:
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


_session_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid: int | None = None


def shared_session() -> requests.Session:
    """One keep-alive session per process (a forked Celery worker builds its own)."""
    global _session, _session_pid  # noqa: PLW0603
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            _session = _new_session()
            _session_pid = os.getpid()
        return _session


class _ClientSession(requests.Session):
    """
    A session that never follows a redirect itself: requests would first read the redirect's whole
    body, however large. The client follows a GET's redirects on POK's own host.
    """

    def get_redirect_target(self, resp):
        return None


def _new_session() -> requests.Session:
    session = _ClientSession()
    # No transport-level retries: this module decides what may be repeated.
    adapter = client_transport.DeadlineAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _Answer(NamedTuple):
    status: int
    data: Any


class PokClient:
    """
    Calls the POK endpoints listed in POK_API.md; one instance per task or request is cheap.

    Every call is over within ``deadline`` seconds (connect timeout plus timeout), inline GET
    retries included, and reads at most ``max_answer_bytes`` of an answer.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 10,
        connect_timeout: float = 5,
        *,
        session: requests.Session | None = None,
        get_attempts: int = GET_ATTEMPTS,
        retry_backoff: float = GET_RETRY_BACKOFF,
        max_answer_bytes: int = client_transport.MAX_ANSWER_BYTES,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self._api_key = api_key
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.deadline = call_deadline(self.timeout, self.connect_timeout)
        self.session = session or shared_session()
        self.get_attempts = max(1, get_attempts)
        self.retry_backoff = retry_backoff
        self.max_answer_bytes = max_answer_bytes

    def __repr__(self):
        return f"PokClient(base_url={self.base_url!r})"

    # -- endpoints -------------------------------------------------------------------------------

    def get_organization(self) -> PokOrganization:
        return PokOrganization.from_json(self._get_object("organization/me"))

    def list_templates(self, limit: int | None = None) -> list[PokTemplate]:
        params = {"limit": int(limit)} if limit is not None else None
        return [PokTemplate.from_json(item) for item in self._get_list("template", params=params)]

    def get_template(self, template_id: str) -> PokTemplate:
        template = PokTemplate.from_json(self._get_object(f"template/{_segment(template_id)}"))
        return template if template.id else replace(template, id=str(template_id))

    def list_pages(self) -> list[PokPage]:
        return [PokPage.from_json(item) for item in self._get_list("page")]

    def preview_template(self, body: dict) -> str:
        """Render a preview image of a template; returns the image URL."""
        try:
            data = self._post("template/preview", body).data
        except _UnusableBody as error:
            raise PokInvalidAnswer(
                f"POK answered the template preview with an unusable body: {error.reason}.",
                error.status_code,
                error.reason,
            ) from error
        url = _text(data.get("url"), MAX_PREVIEW_URL_LENGTH + 1) if isinstance(data, Mapping) else ""
        if not url:
            raise PokValidationError("POK answered the template preview without an image url.")
        if len(url) > MAX_PREVIEW_URL_LENGTH:
            raise PokInvalidAnswer(
                f"POK answered the template preview with an image url longer than {MAX_PREVIEW_URL_LENGTH}."
            )
        return url

    def create_credential(self, body: dict) -> PokCredential:
        """
        Issue one credential. Sent exactly once: never retried here, whatever happens.

        Every answer that may hide a created (and paid) credential is an unknown outcome
        (:class:`PokOutcomeUnknown`), never an error the caller would answer by sending again: no
        answer at all or none within the deadline, a gateway timeout, or a 2xx whose body cannot
        be used (:class:`PokInvalidCreationAnswer`). Any other 5xx is a
        :class:`PokCreationServerError`. Values POK sent that cannot be stored are dropped and
        listed in the credential's ``problems``.
        """
        try:
            answer = self._post("credential", body)
        except _UnusableBody as error:
            raise PokInvalidCreationAnswer(error.reason, error.status_code) from error
        except PokUnavailable as error:
            if error.status_code in AMBIGUOUS_POST_STATUSES:
                raise PokOutcomeUnknown(
                    f"POST credential: HTTP {error.status_code} from a gateway; "
                    "POK may have created the credential.",
                    error.status_code,
                ) from error
            if error.status_code is not None and error.status_code >= 500:
                raise PokCreationServerError(
                    f"{error.message} (POK may have created the credential before failing)",
                    error.status_code,
                    error.retry_after,
                ) from error
            raise
        if not isinstance(answer.data, Mapping):
            raise PokInvalidCreationAnswer("the answer is not a JSON object", answer.status)
        credential = PokCredential.from_json(answer.data)
        if not credential.id:
            _, id_problem = _pok_id(answer.data.get("id"))
            raise PokInvalidCreationAnswer(id_problem or "the answer carries no credential id", answer.status)
        log.info(
            "POK credential created: id %s, state %s",
            log_safe(credential.id),
            log_safe(credential.state or "(none)"),
        )
        if credential.problems:
            log.warning(
                "POK credential %s: values POK sent were dropped: %s",
                log_safe(credential.id),
                log_safe("; ".join(credential.problems), MAX_ERROR_MESSAGE_LENGTH),
            )
        return credential

    def get_credential(self, credential_id: str) -> PokCredential:
        data = self._get_object(f"credential/{_segment(credential_id)}")
        credential = PokCredential.from_json(data)
        if not credential.id:
            reason = _pok_id(data.get("id"))[1] or "no id"
            raise PokInvalidAnswer(
                f"POK returned credential {log_safe(credential_id)} without a usable id ({reason}).",
                reason=reason,
            )
        return credential

    def get_credential_image(self, credential_id: str) -> str:
        """The (possibly expiring) public URL of the credential's image."""
        data = self._get_object(f"credential/{_segment(credential_id)}/decrypted-image")
        location = _text(data.get("location"), MAX_IMAGE_URL_LENGTH + 1)
        if not location:
            raise PokValidationError(
                f"POK returned no image location for credential {log_safe(credential_id)}."
            )
        if len(location) > MAX_IMAGE_URL_LENGTH:
            raise PokInvalidAnswer(
                f"POK returned an image location longer than {MAX_IMAGE_URL_LENGTH} characters "
                f"for credential {log_safe(credential_id)}."
            )
        return location

    # -- transport -------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path.strip("/")

    @property
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"ApiKey {self._api_key}",
            "Accept": "application/json",
            # Compressed answers could unpack far past the size limit before it is checked.
            "Accept-Encoding": "identity",
        }

    def _new_deadline(self) -> Deadline:
        return Deadline.after(self.deadline, self.timeout)

    def _get_object(self, path: str, params=None) -> Mapping[str, Any]:
        data = self._get(path, params)
        if not isinstance(data, Mapping):
            raise PokInvalidAnswer(f"POK answered GET {path} with something other than a JSON object.")
        return data

    def _get_list(self, path: str, params=None) -> list[Mapping[str, Any]]:
        data = self._get(path, params)
        items = data.get("data") if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise PokInvalidAnswer(f"POK answered GET {path} without a list of items.")
        return [item for item in items if isinstance(item, Mapping)]

    def _get(self, path: str, params=None) -> Any:
        """A GET, retried a few times on outages while the call's deadline allows."""
        deadline = self._new_deadline()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send("GET", path, deadline, params=params).data
            except _UnusableBody as error:
                raise PokInvalidAnswer(
                    f"POK answered GET {path} with an unusable body: {error.reason}.",
                    error.status_code,
                    error.reason,
                ) from error
            except (PokUnavailable, _LostAnswer) as error:
                failure = error.as_unavailable() if isinstance(error, _LostAnswer) else error
                wait = self.retry_backoff * (2 ** (attempt - 1))
                if failure.retry_after is not None:
                    wait = max(wait, failure.retry_after)
                if (
                    attempt >= self.get_attempts
                    or wait > MAX_INLINE_RETRY_WAIT
                    or wait >= deadline.remaining()
                ):
                    raise failure from error
                log.info(
                    "POK GET %s failed (status %s); retry %d in %.2f s",
                    path,
                    failure.status_code,
                    attempt,
                    wait,
                )
                time.sleep(wait)

    def _post(self, path: str, body: dict) -> _Answer:
        try:
            return self._send("POST", path, self._new_deadline(), json_body=body)
        except _LostAnswer as error:
            raise PokOutcomeUnknown(
                f"POST {path}: the request was sent but no answer came back ({error.reason}); "
                "POK may have acted on it."
            ) from error

    def _send(self, method: str, path: str, deadline: Deadline, *, params=None, json_body=None) -> _Answer:
        """
        One HTTP exchange within ``deadline``: the 2xx status and parsed body, or a typed error.
        An unreadable 2xx body raises :class:`_UnusableBody`, for the caller to name.
        """
        headers = self._headers
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        with client_transport.bounded_by(deadline):
            response = self._request(
                method, path, deadline, started, params=params, json_body=json_body, headers=headers
            )
            try:
                return self._read_answer(method, path, response, deadline, started)
            finally:
                response.close()

    def _request(self, method, path, deadline, started, *, params, json_body, headers) -> requests.Response:
        """Send and read the status and headers; a GET follows redirects on POK_API_URL's host."""
        url = self.url(path)
        redirects = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=deadline.timeouts(self.connect_timeout),
                    stream=True,
                    # A redirected POST would arrive as a GET without its body: never follow one.
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                raise self._transport_failure(method, path, error, deadline, started) from error
            target = self._redirect_target(method, response) if redirects < MAX_REDIRECTS else None
            if target is None:
                return response
            response.close()
            redirects += 1
            url, params = target, None

    def _redirect_target(self, method: str, response: requests.Response) -> str | None:
        if method != "GET" or not response.is_redirect:
            return None
        target = urljoin(response.url, response.headers["Location"])
        try:
            same_origin = urlsplit(target)[:2] == urlsplit(self.base_url)[:2]
        except ValueError:
            return None
        return target if same_origin else None

    def _read_answer(self, method, path, response, deadline, started) -> _Answer:
        status = response.status_code
        success = 200 <= status < 300
        try:
            data = client_transport.parse_json(client_transport.read_body(response, self.max_answer_bytes))
        except client_transport.UnusableAnswer as error:
            if success:
                log.warning("POK %s %s -> %s with an unusable body: %s", method, path, status, error.reason)
                raise _UnusableBody(error.reason, status) from error
            data = None  # an error's explanation is optional: the status line will do
        except requests.RequestException as error:
            if success:
                raise self._transport_failure(method, path, error, deadline, started) from error
            data = None
        elapsed = (time.monotonic() - started) * 1000
        if success:
            log.info("POK %s %s -> %s in %.0f ms", method, path, status, elapsed)
            return _Answer(status, data)
        message = _error_message(status, response.reason, data)
        log.warning("POK %s %s -> %s in %.0f ms", method, path, status, elapsed)
        log.debug("POK %s %s error message: %s", method, path, message)
        raise _error_for(status, message, response.headers)

    def _transport_failure(self, method, path, error, deadline, started) -> Exception:
        """PokUnavailable when the request never left, else _LostAnswer: it may have reached POK."""
        elapsed = (time.monotonic() - started) * 1000
        unreachable = _why_nothing_was_sent(error)
        if unreachable:
            log.warning("POK %s %s: %s after %.0f ms", method, path, unreachable, elapsed)
            return PokUnavailable(f"POK is not reachable: {unreachable}.")
        if deadline.expired:
            reason = f"no complete answer within the call's {self.deadline:g} s deadline"
        else:
            reason = type(error).__name__
        log.warning("POK %s %s: no answer (%s) after %.0f ms", method, path, reason, elapsed)
        return _LostAnswer(reason)


class _LostAnswer(Exception):
    """The request may have reached POK but its answer did not reach us (internal to this module)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def as_unavailable(self) -> PokUnavailable:
        return PokUnavailable(f"POK did not answer ({self.reason}).")


class _UnusableBody(Exception):
    """A 2xx whose body cannot be used (internal: each endpoint names it for its callers)."""

    def __init__(self, reason: str, status_code: int):
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


_CLIENT_ERRORS = {401: PokAuthError, 403: PokAuthError, 404: PokNotFound}


def _error_for(status: int, message: str, headers: Mapping[str, str]) -> PokError:
    """The typed error for a non-2xx answer; other 4xx (and a 3xx) will not succeed when repeated."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        return PokRateLimited(message, status, retry_after)
    if status >= 500 or status < 300:
        return PokUnavailable(message, status, retry_after)
    if status < 400:
        message = f"POK redirected the request (HTTP {status}): check POK_API_URL, POK expects https."
    return _CLIENT_ERRORS.get(status, PokValidationError)(message, status)


def _segment(value: str) -> str:
    """An id placed in a URL path, escaped so it can never add segments or a query."""
    return quote(str(value), safe="")


def get_client(account: str | None = None) -> PokClient:
    """
    A client for one of the site's POK accounts (``default`` when None), sharing this process's
    session. An account no longer configured raises PokAccountNotConfigured: its credentials are
    never sent, nor checked, with another account's key.
    """
    try:
        details = accounts.get(account)
    except accounts.UnknownAccount as error:
        raise PokAccountNotConfigured(
            f"POK account {log_safe(str(account))} is not configured (POK_ACCOUNTS)."
        ) from error
    return PokClient(
        base_url=details.api_url,
        api_key=details.api_key,
        timeout=setting("POK_TIMEOUT"),
        connect_timeout=setting("POK_CONNECT_TIMEOUT"),
        session=shared_session(),
    )
