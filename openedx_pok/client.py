"""
HTTP client for the POK API: sessions, timeouts, typed results and typed errors, nothing else.

The rest of the plugin never sees ``requests`` or raw JSON: every call returns a frozen dataclass
or raises a :class:`PokError` subclass. The one rule that matters for money: ``POST credential``
is sent at most once per call, because POK has no idempotency key and every credential costs a
credit. When the request left but no answer came back, :class:`PokOutcomeUnknown` says so.
"""

import email.utils
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from openedx_pok.conf import setting

log = logging.getLogger(__name__)

# GETs cost nothing to repeat: a few quick attempts hide a blip without holding a worker for long.
GET_ATTEMPTS = 3
GET_RETRY_BACKOFF = 0.25
# A Retry-After longer than this is not waited for inside the client: the caller reschedules.
MAX_INLINE_RETRY_WAIT = 2.0
MAX_ERROR_MESSAGE_LENGTH = 500
# A gateway that timed out waiting for POK cannot say whether POK went on to create the credential.
AMBIGUOUS_POST_STATUSES = frozenset({504})


class PokError(Exception):
    """Any failure talking to POK. ``status_code`` is None when no HTTP answer arrived."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class PokAuthError(PokError):
    """POK refused the API key (401/403): a configuration problem, retrying will not help."""


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

    For a POST this is only raised when nothing was sent, so re-sending cannot create a duplicate.
    """

    def __init__(self, message: str, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PokOutcomeUnknown(PokError):
    """A POST was sent but its answer never came: POK may or may not have created the credential."""


@dataclass(frozen=True)
class PokOrganization:
    name: str
    wallet: str
    available_credits: int | None
    emitted_credentials: int | None
    processing_credentials: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokOrganization":
        return cls(
            name=_text(data.get("name")),
            wallet=_text(data.get("wallet")),
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
            return cls(id=str(data), label=str(data))
        if not isinstance(data, Mapping) or data.get("id") in (None, ""):
            return None
        parameter_id = _text(data.get("id"))
        return cls(id=parameter_id, label=_text(data.get("label")) or parameter_id)


@dataclass(frozen=True)
class PokTemplate:
    id: str
    name: str
    version: str | None
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
        version = data.get("version")
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            version=None if version is None else str(version),
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
    A credential as POK reports it. ``state`` is kept verbatim, even when this code does not know
    it; timestamps are aware datetimes, or None when absent or unreadable.
    """

    id: str
    state: str
    view_url: str
    created_at: datetime | None
    emission_date: datetime | None
    title: str
    emitter: str
    emission_type: str
    tags: tuple[str, ...]
    receiver_name: str
    receiver_email: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokCredential":
        details = data.get("credential") if isinstance(data.get("credential"), Mapping) else {}
        receiver = data.get("receiver") if isinstance(data.get("receiver"), Mapping) else {}

        def detail(key):
            return details.get(key, data.get(key))

        receiver_name = _text(receiver.get("name")) or " ".join(
            part for part in (_text(receiver.get("firstName")), _text(receiver.get("lastName"))) if part
        )
        tags = detail("tags")
        return cls(
            id=_text(data.get("id")),
            state=_text(data.get("state")),
            view_url=_text(data.get("viewUrl")),
            created_at=_timestamp(data.get("createdAt")),
            emission_date=_timestamp(detail("emissionDate")),
            title=_text(detail("title")),
            emitter=_text(detail("emitter")),
            emission_type=_text(detail("emissionType")),
            tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
            receiver_name=receiver_name,
            receiver_email=_text(receiver.get("email")),
        )


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, Mapping | list) else str(value)


def _integer(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_message(response: requests.Response) -> str:
    """POK's own explanation when the body carries one, else the HTTP status line."""
    fallback = f"HTTP {response.status_code} {response.reason or ''}".strip()
    try:
        body = response.json()
    except ValueError:
        return fallback
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
    return str(message)[:MAX_ERROR_MESSAGE_LENGTH] if message else fallback


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


def _new_session() -> requests.Session:
    session = requests.Session()
    # No transport-level retries: this module decides what may be repeated.
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class PokClient:
    """Calls the POK endpoints listed in POK_API.md; one instance per task or request is cheap."""

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
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self._api_key = api_key
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.session = session or shared_session()
        self.get_attempts = max(1, get_attempts)
        self.retry_backoff = retry_backoff

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
        data = self._post("template/preview", body)
        url = _text(data.get("url")) if isinstance(data, Mapping) else ""
        if not url:
            raise PokValidationError("POK answered the template preview without an image url.")
        return url

    def create_credential(self, body: dict) -> PokCredential:
        """
        Issue one credential. Sent exactly once: never retried here, whatever happens.

        Every answer that may hide a created (and paid) credential is an unknown outcome, never an
        error the caller would answer by sending again: no answer at all, a gateway timeout, or a
        2xx whose body carries no readable credential id.
        """
        try:
            data = self._post("credential", body)
        except PokUnavailable as error:
            if error.status_code in AMBIGUOUS_POST_STATUSES:
                raise PokOutcomeUnknown(
                    f"POST credential: HTTP {error.status_code} from a gateway; "
                    "POK may have created the credential.",
                    error.status_code,
                ) from error
            raise
        credential = PokCredential.from_json(data) if isinstance(data, Mapping) else None
        if credential is None or not credential.id:
            raise PokOutcomeUnknown(
                "POK accepted the credential request but its answer carries no credential id; "
                "the credential may exist in POK."
            )
        log.info("POK credential created: id %s, state %s", credential.id, credential.state or "(none)")
        return credential

    def get_credential(self, credential_id: str) -> PokCredential:
        credential = PokCredential.from_json(self._get_object(f"credential/{_segment(credential_id)}"))
        if not credential.id:
            raise PokValidationError(f"POK returned credential {credential_id} without its id.")
        return credential

    def get_credential_image(self, credential_id: str) -> str:
        """The (possibly expiring) public URL of the credential's image."""
        data = self._get_object(f"credential/{_segment(credential_id)}/decrypted-image")
        location = _text(data.get("location"))
        if not location:
            raise PokValidationError(f"POK returned no image location for credential {credential_id}.")
        return location

    # -- transport -------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path.strip("/")

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self._api_key}", "Accept": "application/json"}

    def _get_object(self, path: str, params=None) -> Mapping[str, Any]:
        data = self._get(path, params)
        if not isinstance(data, Mapping):
            raise PokUnavailable(f"POK answered GET {path} with something other than a JSON object.")
        return data

    def _get_list(self, path: str, params=None) -> list[Mapping[str, Any]]:
        data = self._get(path, params)
        items = data.get("data") if isinstance(data, Mapping) else data
        if not isinstance(items, list):
            raise PokUnavailable(f"POK answered GET {path} without a list of items.")
        return [item for item in items if isinstance(item, Mapping)]

    def _get(self, path: str, params=None) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send("GET", path, params=params)
            except (PokUnavailable, _LostAnswer) as error:
                failure = error.as_unavailable() if isinstance(error, _LostAnswer) else error
                wait = self.retry_backoff * (2 ** (attempt - 1))
                if failure.retry_after is not None:
                    wait = max(wait, failure.retry_after)
                if attempt >= self.get_attempts or wait > MAX_INLINE_RETRY_WAIT:
                    raise failure from error
                log.info(
                    "POK GET %s failed (status %s); retry %d in %.2f s",
                    path,
                    failure.status_code,
                    attempt,
                    wait,
                )
                time.sleep(wait)

    def _post(self, path: str, body: dict) -> Any:
        try:
            data = self._send("POST", path, json_body=body)
        except _LostAnswer as error:
            raise PokOutcomeUnknown(
                f"POST {path}: the request was sent but no answer came back ({error.reason}); "
                "POK may have acted on it."
            ) from error
        return data

    def _send(self, method: str, path: str, *, params=None, json_body=None) -> Any:
        """One HTTP exchange: returns the parsed 2xx body or raises a typed error."""
        headers = self._headers
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json_body,
                headers=headers,
                timeout=(self.connect_timeout, self.timeout),
                # A redirected POST would arrive as a GET without its body: never follow one.
                allow_redirects=method == "GET",
            )
        except requests.RequestException as error:
            elapsed = (time.monotonic() - started) * 1000
            reason = type(error).__name__
            unreachable = _why_nothing_was_sent(error)
            if unreachable:
                log.warning("POK %s %s: %s after %.0f ms", method, path, unreachable, elapsed)
                raise PokUnavailable(f"POK is not reachable: {unreachable}.") from error
            log.warning("POK %s %s: no answer (%s) after %.0f ms", method, path, reason, elapsed)
            raise _LostAnswer(reason) from error
        elapsed = (time.monotonic() - started) * 1000
        status = response.status_code
        if 200 <= status < 300:
            log.info("POK %s %s -> %s in %.0f ms", method, path, status, elapsed)
            try:
                return response.json()
            except ValueError:
                return None
        message = _error_message(response)
        log.warning("POK %s %s -> %s in %.0f ms", method, path, status, elapsed)
        log.debug("POK %s %s error message: %s", method, path, message)
        raise _error_for(status, message, response)


class _LostAnswer(Exception):
    """The request may have reached POK but its answer did not reach us (internal to this module)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def as_unavailable(self) -> PokUnavailable:
        return PokUnavailable(f"POK did not answer ({self.reason}).")


_CLIENT_ERRORS = {401: PokAuthError, 403: PokAuthError, 404: PokNotFound}


def _error_for(status: int, message: str, response: requests.Response) -> PokError:
    """The typed error for a non-2xx answer; other 4xx (and a 3xx) will not succeed when repeated."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
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


def get_client() -> PokClient:
    """A client configured from the plugin settings, sharing this process's session."""
    return PokClient(
        base_url=setting("POK_API_URL"),
        api_key=setting("POK_API_KEY"),
        timeout=setting("POK_TIMEOUT"),
        connect_timeout=setting("POK_CONNECT_TIMEOUT"),
        session=shared_session(),
    )
