"""
A fake POK API: a real threaded HTTP server on 127.0.0.1 that speaks POK_API.md.

Tests, benchmarks, the demo and integrators run the plugin against it over real HTTP. It is
deliberately stricter than POK is known to be (it rejects what POK *may* reject), counts every
call, and injects the faults the plugin must survive: latency, failing statuses, dropped
connections, answers lost after a credential was created, rate limits and full outages.
"""

import json
import math
import re
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from openedx_pok.testing import images

EMISSION_TYPES = ("pok", "blockchain")
DATE_FORMATS = ("dd/MM/yyyy", "MM/dd/yyyy")
# BCP 47 as POK is likely to accept it: language, optional script, optional region, variants.
LANGUAGE_TAG = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?(-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)
DEFAULT_STALL_SECONDS = 60.0
DEFAULT_TEMPLATE_ID = "default-template"


@dataclass(frozen=True)
class ApiRequest:
    """An authenticated, un-faulted API request, as its handler sees it, with the account its key opens."""

    params: dict
    query: dict
    body: object
    account: "FakeAccount | None"


@dataclass
class FakeAccount:
    """One POK organisation: its API key sees its own templates, pages, credentials and credits only."""

    api_key: str
    organization_name: str
    credits: int
    wallet: str
    templates: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """
    One path of the fake: ``endpoint`` is the counter and fault key of an API route (empty for
    the public pages POK hosts itself, which need no key); ``handler`` names a FakePokServer method.
    """

    method: str
    pattern: re.Pattern
    handler: str
    endpoint: str = ""


def _route(method: str, path: str, handler: str, endpoint: str = "") -> Route:
    """``path`` with ``{name}`` for one path segment, passed to the handler by that name."""
    regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+?)", re.escape(path))
    return Route(method, re.compile(regex), handler, endpoint)


ROUTES = (
    _route("GET", "organization/me", "_organization", "GET organization"),
    _route("GET", "template", "_list_templates", "GET templates"),
    _route("GET", "template/{template_id}", "_template", "GET template"),
    _route("GET", "page", "_pages", "GET pages"),
    _route("POST", "template/preview", "_preview", "POST template preview"),
    _route("POST", "credential", "_create_credential", "POST credential"),
    _route("GET", "credential/{credential_id}", "_credential", "GET credential"),
    _route("GET", "credential/{credential_id}/decrypted-image", "_credential_image", "GET credential image"),
    _route("GET", "images/credential/{credential_id}.svg", "_credential_image_file"),
    _route("GET", "images/preview/{template_id}/{preview_id}.svg", "_preview_image_file"),
    _route("GET", "view/{credential_id}", "_view_page"),
)
ENDPOINTS = tuple(route.endpoint for route in ROUTES if route.endpoint)
# Paths under these prefixes are POK's public pages: an unknown one is a plain 404, not an API error.
PUBLIC_PREFIXES = ("images/", "view/")
SVG_TYPE = "image/svg+xml"


def _match(method: str, path: str) -> tuple[Route, dict] | None:
    """The route of a request and its path parameters; a trailing slash is accepted, as POK accepts it."""
    path = path.strip("/")
    for route in ROUTES:
        found = route.pattern.fullmatch(path) if route.method == method else None
        if found:
            return route, found.groupdict()
    return None


class FakePokServer:
    """
    The fake POK. ``with FakePokServer() as server: ... server.url``.

    Every public method and attribute is safe to use from the test thread while the server
    answers requests on its own threads.
    """

    def __init__(
        self,
        api_key: str = "test-api-key",
        emit_after: float | None = 0.0,
        *,
        port: int = 0,
        credits: int = 1000,
        organization_name: str = "Fake POK Organization",
    ):
        self.api_key = api_key
        self.emit_after = emit_after
        # The account the constructor's key opens; add_account() gives the fake more organisations.
        self.account = FakeAccount(
            api_key, organization_name, credits, "0x00000000000000000000000000000000f4ce9000"
        )
        self._accounts: dict[str, FakeAccount] = {api_key: self.account}
        self.latency = 0.0
        self.outage = False
        # Reject credentials that leave out a parameter the template declares, or send it empty.
        self.require_all_parameters = True
        # The status of successful answers: POK sends 200, clients must accept any 2xx.
        self.success_status = 200
        self.calls: Counter = Counter()
        # (API key, endpoint) -> calls: which organisation's key each call came with.
        self.calls_by_key: Counter = Counter()
        self._looks: dict[str, images.Look] = {}
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self):
        self.calls.clear()
        self.calls_by_key.clear()
        self.latency = 0.0
        self.outage = False
        self._credentials: dict[str, dict] = {}
        self._owners: dict[str, str] = {}  # credential id -> the API key that created it
        self._created_at: dict[str, float] = {}
        self._receiver_keys: dict[str, tuple[str, str]] = {}
        self._bodies: dict[str, list] = defaultdict(list)
        self._failures: dict[str, deque] = defaultdict(deque)
        self._drops: Counter = Counter()
        # What happens after the next POST credentials create theirs: seconds to stall, or None to drop.
        self._after_create: deque = deque()
        # Each credential's and each preview's request, and their images once drawn.
        self._requests: dict[str, dict] = {}
        self._previews: dict[str, dict] = {}
        self._images: dict[str, bytes] = {}
        self._rate_per_second: float | None = None
        self._recent: deque = deque()
        self._received: list[tuple[str, str, dict]] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "FakePokServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True, name="fake-pok"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "FakePokServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("The fake POK server is not running.")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # The constructor's account, as the single-organisation tests and the demo know it.

    @property
    def templates(self) -> dict[str, dict]:
        return self.account.templates

    @property
    def pages(self) -> dict[str, dict]:
        return self.account.pages

    @property
    def credits(self) -> int:
        return self.account.credits

    @credits.setter
    def credits(self, value: int) -> None:
        self.account.credits = value

    @property
    def organization_name(self) -> str:
        return self.account.organization_name

    @property
    def wallet(self) -> str:
        return self.account.wallet

    # -- setup -----------------------------------------------------------------------------------

    def add_account(self, api_key: str, organization_name: str = "", credits: int = 1000) -> FakeAccount:
        """Another POK organisation on the same server, opened by its own API key."""
        account = FakeAccount(
            api_key, organization_name or f"Organization {len(self._accounts) + 1}", credits, uuid.uuid4().hex
        )
        with self._lock:
            self._accounts[api_key] = account
        return account

    def _account_of(self, api_key: str | None) -> FakeAccount:
        return self.account if api_key is None else self._accounts[api_key]

    def add_template(
        self,
        template_id: str,
        name: str = "",
        parameters=(),
        version: int = 1,
        look: str = "",
        *,
        api_key: str | None = None,
    ) -> dict:
        """
        Declare a template; ``parameters`` are ``(id, label)`` pairs (or bare ids). ``look`` names
        one of ``images.LOOKS`` for its images; by default each template id gets one of its own.
        ``api_key`` names the account it belongs to (default: the constructor's).
        """
        if look and look not in images.LOOKS:
            raise ValueError(f"Unknown look {look!r}; use one of: {', '.join(sorted(images.LOOKS))}")
        custom = [
            {"id": item, "label": item} if isinstance(item, str) else {"id": item[0], "label": item[1]}
            for item in parameters
        ]
        template = {
            "id": template_id,
            "name": name or template_id,
            "version": version,
            "customParameters": custom,
        }
        with self._lock:
            self._account_of(api_key).templates[template_id] = template
            self._looks[template_id] = images.LOOKS[look] if look else images.look_for(template_id)
        return template

    def add_page(self, page_id: str, name: str = "", *, api_key: str | None = None) -> dict:
        page = {"id": page_id, "name": name or page_id}
        with self._lock:
            self._account_of(api_key).pages[page_id] = page
        return page

    # -- faults ----------------------------------------------------------------------------------

    def fail_next(self, endpoint: str, status: int = 503, count: int = 1, headers=None, message=None) -> None:
        """The next ``count`` calls of ``endpoint`` answer ``status`` (with ``headers``) and do nothing."""
        _check_endpoint(endpoint)
        with self._lock:
            for _ in range(count):
                self._failures[endpoint].append((status, dict(headers or {}), message))

    def drop_next(self, endpoint: str, count: int = 1) -> None:
        """The next ``count`` calls of ``endpoint`` are read, then the connection closes unanswered."""
        _check_endpoint(endpoint)
        with self._lock:
            self._drops[endpoint] += count

    def timeout_after_create_next(self, count: int = 1, stall: float = DEFAULT_STALL_SECONDS) -> None:
        """The next ``count`` POST credential calls create the credential, then never answer."""
        with self._lock:
            self._after_create.extend([stall] * count)

    def drop_after_create_next(self, count: int = 1) -> None:
        """
        The next ``count`` POST credential calls create the credential, then close the connection
        unanswered: the answer is lost as with a timeout, without waiting for the client's timeout.
        """
        with self._lock:
            self._after_create.extend([0.0] * count)

    def rate_limit(self, per_second: float | None) -> None:
        """Answer 429 with ``Retry-After`` beyond ``per_second`` requests in any second; None lifts it."""
        with self._lock:
            self._rate_per_second = per_second
            self._recent.clear()

    # -- state -----------------------------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, dict]:
        """A snapshot: credential id -> the credential object as GET credential/{id} returns it."""
        with self._lock:
            self._advance_all()
            return deepcopy(self._credentials)

    def credentials_of(self, api_key: str) -> dict[str, dict]:
        """The credentials one account's key created or holds."""
        with self._lock:
            self._advance_all()
            return {
                key: deepcopy(value)
                for key, value in self._credentials.items()
                if self._owners[key] == api_key
            }

    def add_credential(
        self, credential_id: str, state: str = "processing", *, api_key: str | None = None, **credential
    ) -> dict:
        """
        A credential POK already holds without this server having been asked for it, such as one
        the existing POK plugin issued; a processing one is emitted like the others.
        """
        with self._lock:
            self._owners[credential_id] = self._account_of(api_key).api_key
            self._credentials[credential_id] = {
                "id": credential_id,
                "state": state,
                "viewUrl": self._view_url(credential_id) if state == "emitted" else "",
                "createdAt": _now_in_pok_format(),
                "credential": {"tags": [], "emitter": "", "title": "", "emissionDate": "", **credential},
                "receiver": {"name": "", "email": ""},
            }
            self._created_at[credential_id] = time.monotonic()
            return deepcopy(self._credentials[credential_id])

    def set_credential_state(self, credential_id: str, state: str) -> None:
        with self._lock:
            credential = self._credentials[credential_id]
            credential["state"] = state
            if state == "emitted" and not credential["viewUrl"]:
                credential["viewUrl"] = self._view_url(credential_id)
            self._created_at[credential_id] = math.inf  # never advanced automatically again

    def emit_all(self) -> None:
        """Move every processing credential to emitted now."""
        with self._lock:
            for credential_id, credential in self._credentials.items():
                if credential["state"] == "processing":
                    self._emit(credential_id)

    def bodies(self, endpoint: str) -> list:
        """The parsed JSON bodies received on ``endpoint``, oldest first."""
        _check_endpoint(endpoint)
        with self._lock:
            return deepcopy(self._bodies[endpoint])

    def duplicates(self) -> list[tuple[str, str]]:
        """``(receiver identification, CourseId tag)`` pairs that got more than one credential."""
        with self._lock:
            counts = Counter(self._receiver_keys.values())
        return sorted(key for key, count in counts.items() if count > 1)

    @property
    def received(self) -> list[tuple[str, str, dict]]:
        """Every API request as ``(method, raw path with query, headers)``, oldest first."""
        with self._lock:
            return deepcopy(self._received)

    def reset(self) -> None:
        """Forget calls, bodies, credentials and faults; templates, pages and the API key stay."""
        with self._lock:
            self._reset_state()

    # -- request handling (server threads) -------------------------------------------------------

    def _advance_all(self):
        for credential_id in list(self._credentials):
            self._advance(credential_id)

    def _advance(self, credential_id: str):
        credential = self._credentials[credential_id]
        if credential["state"] != "processing" or self.emit_after is None:
            return
        if time.monotonic() - self._created_at[credential_id] >= self.emit_after:
            self._emit(credential_id)

    def _view_url(self, credential_id: str) -> str:
        return f"{self.url}view/{credential_id}"

    def _emit(self, credential_id: str):
        credential = self._credentials[credential_id]
        credential["state"] = "emitted"
        credential["viewUrl"] = self._view_url(credential_id)

    def _admit(self, endpoint: str, body) -> tuple | None:
        """Count the call and decide which fault, if any, answers it."""
        with self._lock:
            self.calls[endpoint] += 1
            if body is not _NO_BODY:
                self._bodies[endpoint].append(deepcopy(body))
            if self.outage:
                return ("status", 503, {"Retry-After": "5"}, "POK is down for maintenance (injected outage).")
            if self._rate_per_second is not None:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= self._rate_per_second:
                    wait = max(1, math.ceil(1.0 - (now - self._recent[0])))
                    return ("status", 429, {"Retry-After": str(wait)}, "Too many requests.")
                self._recent.append(now)
            if self._failures[endpoint]:
                status, headers, message = self._failures[endpoint].popleft()
                return ("status", status, headers, message or f"Injected failure {status}.")
            if self._drops[endpoint]:
                self._drops[endpoint] -= 1
                return ("drop",)
        return None

    def _stall_after_create(self) -> float | None:
        """How long to stall before losing the answer to the POST that just created one; None: answer it."""
        with self._lock:
            return self._after_create.popleft() if self._after_create else None

    def _snapshot_values(self, items: dict) -> list:
        with self._lock:
            return deepcopy(list(items.values()))

    def _snapshot(self, value):
        with self._lock:
            return deepcopy(value)

    # API handlers: each takes the request and returns (status, answer); a None status never answers.

    def _template(self, request: ApiRequest) -> tuple[int, dict]:
        template = self._snapshot(request.account.templates.get(request.params["template_id"]))
        return (200, template) if template else (404, _error("Template not found."))

    def _pages(self, request: ApiRequest) -> tuple[int, dict]:
        return 200, {"data": self._snapshot_values(request.account.pages)}

    def _credential(self, request: ApiRequest) -> tuple[int, dict]:
        credential_id = request.params["credential_id"]
        with self._lock:
            if not self._holds(request.account, credential_id):
                return 404, _error("Credential not found.")
            self._advance(credential_id)
            return 200, deepcopy(self._credentials[credential_id])

    def _organization(self, request: ApiRequest) -> tuple[int, dict]:
        account = request.account
        with self._lock:
            self._advance_all()
            states = Counter(
                credential["state"]
                for credential_id, credential in self._credentials.items()
                if self._owners[credential_id] == account.api_key
            )
            return 200, {
                "name": account.organization_name,
                "wallet": account.wallet,
                "availableCredits": account.credits,
                "emittedCredentials": states["emitted"],
                "processingCredentials": states["processing"],
                "sentCredentials": 0,
                "draftCredentials": states["draft"],
            }

    def _list_templates(self, request: ApiRequest) -> tuple[int, dict]:
        templates = self._snapshot_values(request.account.templates)
        limit = request.query.get("limit", [None])[0]
        if limit is not None and limit.isdigit():
            templates = templates[: int(limit)]
        return 200, {"data": templates}

    def _preview(self, request: ApiRequest) -> tuple[int, dict]:
        body = request.body
        problem = _first(self._customization_problems(body, request.account, require_all=False))
        if problem:
            return problem
        template_id = _html_id(str(body["customization"]["template"]["id"]))
        preview_id = uuid.uuid4().hex
        with self._lock:
            self._previews[preview_id] = deepcopy(body)
            self._owners[preview_id] = request.account.api_key
        return 200, {"url": f"{self.url}images/preview/{template_id}/{preview_id}.svg"}

    def _create_credential(self, request: ApiRequest) -> tuple[int, dict]:
        body = request.body
        problem = _first(self._credential_problems(body, request.account))
        if problem:
            return problem
        credential_id = str(uuid.uuid4())
        details, receiver = body.get("credential", {}), body["receiver"]
        name = " ".join(part for part in (receiver.get("firstName"), receiver.get("lastName")) if part)
        credential = {
            "id": credential_id,
            "state": "processing",
            "viewUrl": "",
            "createdAt": _now_in_pok_format(),
            "credential": {
                "tags": list(details.get("tags", [])),
                "emitter": details.get("emitter", ""),
                "title": details.get("title", ""),
                "emissionDate": details.get("emissionDate", ""),
                "emissionType": details.get("emissionType", "pok"),
            },
            "receiver": {"name": name or receiver.get("name", ""), "email": receiver.get("email", "")},
        }
        course_tag = next(
            (tag for tag in credential["credential"]["tags"] if str(tag).startswith("CourseId:")), ""
        )
        with self._lock:
            request.account.credits -= 1
            self._owners[credential_id] = request.account.api_key
            self._credentials[credential_id] = credential
            self._created_at[credential_id] = time.monotonic()
            self._receiver_keys[credential_id] = (str(receiver.get("identification", "")), course_tag)
            self._requests[credential_id] = deepcopy(body)
            answer = deepcopy(credential)
        stall = self._stall_after_create()
        if stall is not None:
            self._stopping.wait(stall)
            return None, {}
        return 200, answer

    def _credential_problems(self, body, account: FakeAccount):
        """Yield (status, answer) for everything wrong with a POST credential body, first one first."""
        details = body.get("credential", {})
        receiver = body.get("receiver")
        if not isinstance(details, dict):
            yield 400, _error("credential must be an object.")
            return
        if not isinstance(receiver, dict):
            yield 400, _error("receiver is required.")
            return
        if not isinstance(receiver.get("email"), str) or "@" not in receiver["email"]:
            yield 400, _error("receiver.email must be an email address.")
        if details.get("emissionType", "pok") not in EMISSION_TYPES:
            yield 400, _error(f"credential.emissionType must be one of {', '.join(EMISSION_TYPES)}.")
        if details.get("dateFormat", DATE_FORMATS[0]) not in DATE_FORMATS:
            yield 400, _error(f"credential.dateFormat must be one of {', '.join(DATE_FORMATS)}.")
        tags = details.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            yield 400, _error("credential.tags must be a list of strings.")
        if "emissionDate" in details and not _is_iso_timestamp(details["emissionDate"]):
            yield 400, _error("credential.emissionDate must be an ISO 8601 timestamp.")
        yield from self._customization_problems(body, account, require_all=self.require_all_parameters)
        with self._lock:
            if account.credits <= 0:
                yield 400, _error("The organization has no credits left.")

    def _customization_problems(self, body, account: FakeAccount, *, require_all: bool):
        """Yield (status, answer) for a bad language tag, template, page or custom parameters."""
        language_problem = _language_problem(body.get("receiver"))
        if language_problem:
            yield 400, _error(language_problem)
        customization = body.get("customization")
        if not isinstance(customization, dict) or not isinstance(customization.get("template"), dict):
            yield 400, _error("customization.template is required.")
            return
        requested = customization["template"]
        with self._lock:
            template = deepcopy(account.templates.get(str(requested.get("id"))))
            pages = set(account.pages)
        if not requested.get("id"):
            yield 400, _error("customization.template.id is required.")
        elif template is None:
            yield 404, _error(f"Template {requested['id']} not found.")
        if "page" in customization and customization["page"] not in pages:
            yield 400, _error(f"Page {customization['page']!r} not found.")
        values = requested.get("customParameters", {})
        if not isinstance(values, dict):
            yield 400, _error("customization.template.customParameters must be an object.")
            return
        declared = [parameter["id"] for parameter in template["customParameters"]] if template else []
        unknown = sorted(set(values) - set(declared))
        if unknown and template:
            yield 400, _error(f"Unknown custom parameters: {', '.join(unknown)}.")
        not_strings = sorted(key for key, value in values.items() if not isinstance(value, str))
        if not_strings:
            yield 400, _error(f"Custom parameters must be strings: {', '.join(not_strings)}.")
        missing = [key for key in declared if not values.get(key)]
        if require_all and missing:
            yield 400, _error(f"Missing or empty custom parameters: {', '.join(missing)}.")

    def _credential_image(self, request: ApiRequest) -> tuple[int, dict]:
        credential_id = request.params["credential_id"]
        with self._lock:
            if not self._holds(request.account, credential_id):
                return 404, _error("Credential not found.")
            self._advance(credential_id)
            state = self._credentials[credential_id]["state"]
        if state != "emitted":
            return 400, _error("The credential image is available once the credential is emitted.")
        return 200, {
            "location": f"{self.url}images/credential/{credential_id}.svg?expires={uuid.uuid4().hex}"
        }

    def _account_for(self, authorization: str | None) -> "FakeAccount | None":
        """The account an ``Authorization: ApiKey <key>`` header opens, or None."""
        prefix = "ApiKey "
        if not authorization or not authorization.startswith(prefix):
            return None
        with self._lock:
            return self._accounts.get(authorization[len(prefix) :])

    def _holds(self, account: FakeAccount, credential_id: str) -> bool:
        """Called with the lock held: another organisation's credential is, to this key, unknown."""
        return credential_id in self._credentials and self._owners[credential_id] == account.api_key

    # Public pages POK hosts itself: each takes the path's parameters and returns (status, bytes, type).

    def _credential_image_file(self, credential_id: str) -> tuple[int, bytes, str]:
        """A credential's image, drawn once from the request that created it."""
        return self._image_file(self._requests, credential_id, reference=credential_id, preview=False)

    def _preview_image_file(self, template_id: str, preview_id: str) -> tuple[int, bytes, str]:
        """A template preview, drawn once from the preview request, placeholders and all."""
        return self._image_file(self._previews, preview_id, reference="", preview=True)

    def _image_file(
        self, requests: dict, key: str, *, reference: str, preview: bool
    ) -> tuple[int, bytes, str]:
        with self._lock:
            body = requests.get(key)
            if body is None:
                return 404, b"Not found", "text/plain"
            if key not in self._images:
                self._images[key] = self._draw(body, reference, key, preview=preview)
            return 200, self._images[key], SVG_TYPE

    def _view_page(self, credential_id: str) -> tuple[int, bytes, str]:
        with self._lock:
            known = credential_id in self._requests
        if not known:
            return 404, b"Not found", "text/plain"
        html = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Credential</title></head>"
            f"<body><h1>Fake POK credential</h1><p>{escape(credential_id)}</p>"
            f"<img src='/images/credential/{escape(credential_id)}.svg' alt='Credential'></body></html>"
        )
        return 200, html.encode(), "text/html; charset=utf-8"

    def _draw(self, body: dict, reference: str, owned: str, *, preview: bool) -> bytes:
        """With the lock held; ``owned``: the credential or preview, whose account has the template."""
        customization = body.get("customization") if isinstance(body.get("customization"), dict) else {}
        template_id = str((customization.get("template") or {}).get("id") or "")
        template = self._accounts[self._owners[owned]].templates.get(template_id) or {}
        labels = {parameter["id"]: parameter["label"] for parameter in template.get("customParameters", [])}
        text = images.text_from_body(body, template.get("name") or template_id, labels, reference)
        look = self._looks.get(template_id) or images.look_for(template_id)
        return images.certificate_svg(text, look, preview=preview)


_NO_BODY = object()


def _now_in_pok_format() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _first(problems):
    return next(iter(problems), None)


def _error(message: str) -> dict:
    return {"message": message}


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"Unknown endpoint {endpoint!r}; use one of: {', '.join(ENDPOINTS)}")


def _language_problem(receiver) -> str | None:
    if not isinstance(receiver, dict) or "languageTag" not in receiver:
        return None
    tag = receiver["languageTag"]
    if not isinstance(tag, str) or not LANGUAGE_TAG.match(tag):
        return f"receiver.languageTag {tag!r} is not a BCP 47 language tag."
    return None


def _parse_json(raw: bytes):
    """The parsed body, or None when it is not JSON at all."""
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None


def _is_iso_timestamp(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class _Handler(BaseHTTPRequestHandler):
    fake: FakePokServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: no 40 ms delayed-ACK stall per request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server_version = "FakePOK/1.0"

    def log_message(self, format, *args):
        """Quiet: the tests' output is not the place for an access log."""

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _handle(self, method: str):
        split = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
        matched = _match(method, split.path)
        if split.path.lstrip("/").startswith(PUBLIC_PREFIXES):
            self._public_page(matched)
            return
        with self.fake._lock:
            self.fake._received.append((method, self.path, dict(self.headers.items())))
        if matched is None or not matched[0].endpoint:
            self._send_json(404, _error(f"Cannot {method} {split.path}"))
            return
        route, params = matched
        body = _parse_json(raw) if method == "POST" else _NO_BODY
        fault = self.fake._admit(route.endpoint, body)
        if self.fake.latency:
            self.fake._stopping.wait(self.fake.latency)
        account = self.fake._account_for(self.headers.get("Authorization"))
        if account is not None:
            with self.fake._lock:
                self.fake.calls_by_key[(account.api_key, route.endpoint)] += 1
        request = ApiRequest(params, parse_qs(split.query), body, account)
        status, answer, headers = self._answer(route, request, fault)
        if status is None:
            self.close_connection = True
            return
        self._send_json(status, answer, headers)

    def _answer(self, route: Route, request: ApiRequest, fault) -> tuple[int | None, dict, dict]:
        if fault and fault[0] == "drop":
            return None, {}, {}
        if fault:
            _, status, headers, message = fault
            return status, _error(message), headers
        if request.account is None:
            return 401, _error("Invalid or missing API key."), {}
        if route.method == "POST" and self.headers.get_content_type() != "application/json":
            return 400, _error("Content-Type must be application/json."), {}
        if route.method == "POST" and not isinstance(request.body, dict):
            return 400, _error("The body must be a JSON object."), {}
        status, answer = getattr(self.fake, route.handler)(request)
        return (self.fake.success_status if status == 200 else status), answer, {}

    def _public_page(self, matched: tuple[Route, dict] | None):
        """The pages POK hosts itself (images, previews, view pages): no key, no counters, no faults."""
        if matched is None or matched[0].endpoint:
            self._send(404, b"Not found", "text/plain")
            return
        route, params = matched
        status, data, content_type = getattr(self.fake, route.handler)(**params)
        self._send(status, data, content_type)

    def _send_json(self, status: int, payload: dict, headers=None):
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _html_id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", value)
