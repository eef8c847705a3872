"""
The POK client: one method per POK endpoint, typed results and typed errors, nothing else.

The rest of the plugin never sees ``requests`` or raw JSON: every call returns a frozen dataclass
(:mod:`~openedx_pok.client.answers`) or raises a :class:`PokError` subclass
(:mod:`~openedx_pok.client.errors`). The one rule that matters for money: ``POST credential`` is
sent at most once per call, because POK has no idempotency key and every credential costs a
credit. When the request left but no usable answer came back, :class:`PokOutcomeUnknown` says so.

A call ends by its deadline however POK's answer trickles in and reads a bounded amount of it
(:mod:`~openedx_pok.client.transport`); which error a failure is, is decided in
:mod:`~openedx_pok.client.failures`.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple
from urllib.parse import quote, urljoin, urlsplit

import requests

from openedx_pok import accounts
from openedx_pok.client import transport, values
from openedx_pok.client.answers import PokCredential, PokOrganization, PokPage, PokTemplate
from openedx_pok.client.errors import (
    PokAccountNotConfigured,
    PokCreationServerError,
    PokInvalidAnswer,
    PokInvalidCreationAnswer,
    PokOutcomeUnknown,
    PokUnavailable,
    PokValidationError,
)
from openedx_pok.client.failures import (
    MAX_ERROR_MESSAGE_LENGTH,
    error_for,
    error_message,
    why_nothing_was_sent,
)
from openedx_pok.client.transport import Deadline, shared_session
from openedx_pok.client.values import MAX_IMAGE_URL_LENGTH, MAX_PREVIEW_URL_LENGTH, log_safe
from openedx_pok.conf import setting

# Named after the package, as when the client was one module: operators' LOGGING may name it.
log = logging.getLogger("openedx_pok.client")

# GETs cost nothing to repeat: a few quick attempts hide a blip without holding a worker for long.
GET_ATTEMPTS = 3
GET_RETRY_BACKOFF = 0.25
# A Retry-After longer than this is not waited for inside the client: the caller reschedules.
MAX_INLINE_RETRY_WAIT = 2.0
# A gateway that timed out waiting for POK cannot say whether POK went on to create the credential.
AMBIGUOUS_POST_STATUSES = frozenset({504})
# GETs follow this many redirects, on POK_API_URL's own scheme and host only.
MAX_REDIRECTS = 3


def call_deadline(timeout: float, connect_timeout: float) -> float:
    """Seconds a POK call may take in all, however its answer trickles in: connecting, then the answer."""
    return float(connect_timeout) + float(timeout)


class _Answer(NamedTuple):
    status: int
    data: Any


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
        max_answer_bytes: int = transport.MAX_ANSWER_BYTES,
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
        url = values.text(data.get("url"), MAX_PREVIEW_URL_LENGTH + 1) if isinstance(data, Mapping) else ""
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
            _, id_problem = values.pok_id(answer.data.get("id"))
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
            reason = values.pok_id(data.get("id"))[1] or "no id"
            raise PokInvalidAnswer(
                f"POK returned credential {log_safe(credential_id)} without a usable id ({reason}).",
                reason=reason,
            )
        return credential

    def get_credential_image(self, credential_id: str) -> str:
        """The (possibly expiring) public URL of the credential's image."""
        data = self._get_object(f"credential/{_segment(credential_id)}/decrypted-image")
        location = values.text(data.get("location"), MAX_IMAGE_URL_LENGTH + 1)
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
        with transport.bounded_by(deadline):
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
            data = transport.parse_json(transport.read_body(response, self.max_answer_bytes))
        except transport.UnusableAnswer as error:
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
        message = error_message(status, response.reason, data)
        log.warning("POK %s %s -> %s in %.0f ms", method, path, status, elapsed)
        log.debug("POK %s %s error message: %s", method, path, message)
        raise error_for(status, message, response.headers)

    def _transport_failure(self, method, path, error, deadline, started) -> Exception:
        """PokUnavailable when the request never left, else _LostAnswer: it may have reached POK."""
        elapsed = (time.monotonic() - started) * 1000
        unreachable = why_nothing_was_sent(error)
        if unreachable:
            log.warning("POK %s %s: %s after %.0f ms", method, path, unreachable, elapsed)
            return PokUnavailable(f"POK is not reachable: {unreachable}.")
        if deadline.expired:
            reason = f"no complete answer within the call's {self.deadline:g} s deadline"
        else:
            reason = type(error).__name__
        log.warning("POK %s %s: no answer (%s) after %.0f ms", method, path, reason, elapsed)
        return _LostAnswer(reason)


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
