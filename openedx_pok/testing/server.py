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
import struct
import threading
import time
import uuid
import zlib
from collections import Counter, defaultdict, deque
from copy import deepcopy
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ENDPOINTS = (
    "GET organization",
    "GET templates",
    "GET template",
    "GET pages",
    "POST template preview",
    "POST credential",
    "GET credential",
    "GET credential image",
)
EMISSION_TYPES = ("pok", "blockchain")
DATE_FORMATS = ("dd/MM/yyyy", "MM/dd/yyyy")
# BCP 47 as POK is likely to accept it: language, optional script, optional region, variants.
LANGUAGE_TAG = re.compile(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?(-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
)
DEFAULT_STALL_SECONDS = 60.0
DEFAULT_TEMPLATE_ID = "default-template"


def png_image(width: int = 480, height: int = 340, colour=(31, 78, 121), border=(235, 190, 60)) -> bytes:
    """A small valid PNG (a framed coloured card), so pages can show a real image."""
    frame = max(6, min(width, height) // 16)
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            edge = x < frame or y < frame or x >= width - frame or y >= height - frame
            band = height // 3 <= y < height // 3 + frame
            row += bytes(border if edge or band else colour)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


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
        self.credits = credits
        self.organization_name = organization_name
        self.wallet = "0x00000000000000000000000000000000f4ce9000"
        self.latency = 0.0
        self.outage = False
        # Reject credentials that leave out a parameter the template declares, or send it empty.
        self.require_all_parameters = True
        # The status of successful answers: POK sends 200, clients must accept any 2xx.
        self.success_status = 200
        self.calls: Counter = Counter()
        self.templates: dict[str, dict] = {}
        self.pages: dict[str, dict] = {}
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._image = png_image()
        self._reset_state()

    def _reset_state(self):
        self.calls.clear()
        self.latency = 0.0
        self.outage = False
        self._credentials: dict[str, dict] = {}
        self._created_at: dict[str, float] = {}
        self._receiver_keys: dict[str, tuple[str, str]] = {}
        self._bodies: dict[str, list] = defaultdict(list)
        self._failures: dict[str, deque] = defaultdict(deque)
        self._drops: Counter = Counter()
        self._stalls: deque = deque()
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

    # -- setup -----------------------------------------------------------------------------------

    def add_template(self, template_id: str, name: str = "", parameters=(), version: int = 1) -> dict:
        """Declare a template; ``parameters`` are ``(id, label)`` pairs (or bare ids)."""
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
            self.templates[template_id] = template
        return template

    def add_page(self, page_id: str, name: str = "") -> dict:
        page = {"id": page_id, "name": name or page_id}
        with self._lock:
            self.pages[page_id] = page
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
            self._stalls.extend([stall] * count)

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

    def set_credential_state(self, credential_id: str, state: str) -> None:
        with self._lock:
            credential = self._credentials[credential_id]
            credential["state"] = state
            if state == "emitted" and not credential["viewUrl"]:
                credential["viewUrl"] = f"{self.url}view/{credential_id}"
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

    def _emit(self, credential_id: str):
        credential = self._credentials[credential_id]
        credential["state"] = "emitted"
        credential["viewUrl"] = f"{self.url}view/{credential_id}"

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
        with self._lock:
            return self._stalls.popleft() if self._stalls else None

    def _respond(self, endpoint: str, parts: list[str], query: dict, body) -> tuple[int | None, dict]:
        """Answer an authenticated, un-faulted request; a None status means "never answer"."""
        handlers = {
            "GET organization": lambda: (200, self._organization()),
            "GET templates": lambda: (200, self._list_templates(query)),
            "GET template": lambda: self._template(parts[1]),
            "GET pages": lambda: (200, {"data": self._snapshot_values(self.pages)}),
            "POST template preview": lambda: self._preview(body),
            "POST credential": lambda: self._create_credential(body),
            "GET credential": lambda: self._credential(parts[1]),
            "GET credential image": lambda: self._credential_image(parts[1]),
        }
        return handlers[endpoint]()

    def _snapshot_values(self, items: dict) -> list:
        with self._lock:
            return deepcopy(list(items.values()))

    def _snapshot(self, value):
        with self._lock:
            return deepcopy(value)

    def _template(self, template_id: str) -> tuple[int, dict]:
        template = self._snapshot(self.templates.get(template_id))
        return (200, template) if template else (404, _error("Template not found."))

    def _credential(self, credential_id: str) -> tuple[int, dict]:
        with self._lock:
            if credential_id not in self._credentials:
                return 404, _error("Credential not found.")
            self._advance(credential_id)
            return 200, deepcopy(self._credentials[credential_id])

    def _organization(self) -> dict:
        with self._lock:
            self._advance_all()
            states = Counter(credential["state"] for credential in self._credentials.values())
            return {
                "name": self.organization_name,
                "wallet": self.wallet,
                "availableCredits": self.credits,
                "emittedCredentials": states["emitted"],
                "processingCredentials": states["processing"],
                "sentCredentials": 0,
                "draftCredentials": states["draft"],
            }

    def _list_templates(self, query: dict) -> dict:
        templates = self._snapshot_values(self.templates)
        limit = query.get("limit", [None])[0]
        if limit is not None and limit.isdigit():
            templates = templates[: int(limit)]
        return {"data": templates}

    def _preview(self, body) -> tuple[int, dict]:
        problem = _first(self._customization_problems(body, require_all=False))
        if problem:
            return problem
        template_id = body["customization"]["template"]["id"]
        return 200, {"url": f"{self.url}images/preview/{_html_id(str(template_id))}/{uuid.uuid4().hex}.png"}

    def _create_credential(self, body) -> tuple[int, dict]:
        problem = _first(self._credential_problems(body))
        if problem:
            return problem
        credential_id = str(uuid.uuid4())
        details, receiver = body.get("credential", {}), body["receiver"]
        name = " ".join(part for part in (receiver.get("firstName"), receiver.get("lastName")) if part)
        credential = {
            "id": credential_id,
            "state": "processing",
            "viewUrl": "",
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
            self.credits -= 1
            self._credentials[credential_id] = credential
            self._created_at[credential_id] = time.monotonic()
            self._receiver_keys[credential_id] = (str(receiver.get("identification", "")), course_tag)
            answer = deepcopy(credential)
        stall = self._stall_after_create()
        if stall is not None:
            self._stopping.wait(stall)
            return None, {}
        return 200, answer

    def _credential_problems(self, body):
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
        yield from self._customization_problems(body, require_all=self.require_all_parameters)
        with self._lock:
            if self.credits <= 0:
                yield 400, _error("The organization has no credits left.")

    def _customization_problems(self, body, *, require_all: bool):
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
            template = deepcopy(self.templates.get(str(requested.get("id"))))
            pages = set(self.pages)
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

    def _credential_image(self, credential_id: str) -> tuple[int, dict]:
        with self._lock:
            if credential_id not in self._credentials:
                return 404, _error("Credential not found.")
            self._advance(credential_id)
            state = self._credentials[credential_id]["state"]
        if state != "emitted":
            return 400, _error("The credential image is available once the credential is emitted.")
        return 200, {
            "location": f"{self.url}images/credential/{credential_id}.png?expires={uuid.uuid4().hex}"
        }


_NO_BODY = object()


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


ROUTES = (
    ("GET", re.compile(r"^organization/me$"), "GET organization"),
    ("GET", re.compile(r"^template$"), "GET templates"),
    ("POST", re.compile(r"^template/preview$"), "POST template preview"),
    ("GET", re.compile(r"^template/[^/]+$"), "GET template"),
    ("GET", re.compile(r"^page$"), "GET pages"),
    ("POST", re.compile(r"^credential$"), "POST credential"),
    ("GET", re.compile(r"^credential/[^/]+$"), "GET credential"),
    ("GET", re.compile(r"^credential/[^/]+/decrypted-image$"), "GET credential image"),
)


def _endpoint_of(method: str, path: str) -> str | None:
    """The counter key of a request; a trailing slash is accepted, as POK accepts it."""
    path = path.strip("/")
    return next((name for verb, pattern, name in ROUTES if verb == method and pattern.match(path)), None)


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
        if method == "GET" and split.path.startswith(("/images/", "/view/")):
            self._public_page(split.path)
            return
        with self.fake._lock:
            self.fake._received.append((method, self.path, dict(self.headers.items())))
        endpoint = _endpoint_of(method, split.path)
        if endpoint is None:
            self._send_json(404, _error(f"Cannot {method} {split.path}"))
            return
        body = _parse_json(raw) if method == "POST" else _NO_BODY
        fault = self.fake._admit(endpoint, body)
        if self.fake.latency:
            self.fake._stopping.wait(self.fake.latency)
        status, answer, headers = self._answer(method, endpoint, split, body, fault)
        if status is None:
            self.close_connection = True
            return
        self._send_json(status, answer, headers)

    def _answer(self, method: str, endpoint: str, split, body, fault) -> tuple[int | None, dict, dict]:
        if fault and fault[0] == "drop":
            return None, {}, {}
        if fault:
            _, status, headers, message = fault
            return status, _error(message), headers
        if self.headers.get("Authorization") != f"ApiKey {self.fake.api_key}":
            return 401, _error("Invalid or missing API key."), {}
        if method == "POST" and self.headers.get_content_type() != "application/json":
            return 400, _error("Content-Type must be application/json."), {}
        if method == "POST" and not isinstance(body, dict):
            return 400, _error("The body must be a JSON object."), {}
        parts = [part for part in split.path.split("/") if part]
        status, answer = self.fake._respond(endpoint, parts, parse_qs(split.query), body)
        return (self.fake.success_status if status == 200 else status), answer, {}

    def _public_page(self, path: str):
        """The public pages POK hosts itself: credential images, previews and view pages."""
        parts = path.strip("/").split("/")
        if parts[0] == "images" and len(parts) >= 3 and path.endswith(".png"):
            self._send(200, self.fake._image, "image/png")
        elif parts[0] == "view" and len(parts) == 2:
            credential_id = _html_id(parts[1])
            html = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Credential</title></head>"
                f"<body><h1>Fake POK credential</h1><p>{credential_id}</p>"
                f"<img src='/images/credential/{credential_id}.png' alt='Credential'></body></html>"
            )
            self._send(200, html.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not found", "text/plain")

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
