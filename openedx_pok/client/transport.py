"""
The transport under the POK client: an exchange cannot outlast its deadline or outgrow a size.

``requests`` bounds each socket read (its ``timeout``), not the exchange: an answer trickled one
byte at a time never trips a per-read timeout and can hold a worker for ever. Here every read on a
POK connection is given the time left before the call's deadline, so connecting, the headers and
the body together end by it. Bodies are streamed and abandoned past a size limit, and JSON is
parsed with a nesting limit. The process's one keep-alive session, built on these connections, is
here too. Nothing here knows POK: :mod:`openedx_pok.client.pok_client` decides what a failure means.
"""

import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# POK's answers are a few kilobytes; a template list of a large organisation stays far below this.
MAX_ANSWER_BYTES = 1024 * 1024
# POK's objects nest three or four levels deep.
MAX_JSON_DEPTH = 32
READ_CHUNK_BYTES = 16 * 1024


class UnusableAnswer(Exception):
    """The answer arrived but cannot be used (too large, not JSON, nested too deep)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Deadline:
    """When a call must be over (a ``time.monotonic()`` instant), and the longest one read may wait."""

    expires_at: float
    read_timeout: float

    @classmethod
    def after(cls, seconds: float, read_timeout: float) -> "Deadline":
        return cls(time.monotonic() + seconds, read_timeout)

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def timeouts(self, connect_timeout: float) -> tuple[float, float]:
        """The (connect, read) pair for requests: never longer than the time left."""
        left = max(0.001, self.remaining())
        return min(connect_timeout, left), min(self.read_timeout, left)


_current = threading.local()


@contextmanager
def bounded_by(deadline: Deadline) -> Iterator[Deadline]:
    """Every read this thread makes on a POK connection meanwhile ends by ``deadline``."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield deadline
    finally:
        _current.deadline = previous


def _limit_read_to_deadline(sock: socket.socket) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is None:
        return
    left = deadline.remaining()
    if left <= 0:
        raise TimeoutError("the call's deadline has passed")
    sock.settimeout(min(deadline.read_timeout, left))


class _DeadlineReads:
    __slots__ = ()

    def recv(self, *args, **kwargs):
        _limit_read_to_deadline(self)
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        _limit_read_to_deadline(self)
        return super().recv_into(*args, **kwargs)


class _DeadlineSocket(_DeadlineReads, socket.socket):
    __slots__ = ()


class _DeadlineSSLSocket(_DeadlineReads, ssl.SSLSocket):
    pass


# The classes swapped in are the same objects with one method more, so every check on them holds.
_DEADLINE_CLASSES = {socket.socket: _DeadlineSocket, ssl.SSLSocket: _DeadlineSSLSocket}


class _DeadlineConnectionMixin:
    def connect(self):
        super().connect()
        deadline_class = _DEADLINE_CLASSES.get(type(self.sock))
        if deadline_class is not None:
            self.sock.__class__ = deadline_class


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """
    An adapter whose connections honour :func:`bounded_by` once connected. While connecting, each
    step (the TCP connect, each wait of the TLS handshake) is bounded by the connect timeout, which
    never exceeds the time left: only a server that trickles its TLS handshake can stretch that.
    Through a SOCKS proxy, TLS inside a TLS proxy or a patched ``socket`` (gevent), the sockets are
    of other kinds and only the per-read timeout applies.
    """

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)
        return manager


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
    # No transport-level retries: the client decides what may be repeated.
    adapter = DeadlineAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def read_body(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """
    The whole body of a streamed response, or :class:`UnusableAnswer` past ``limit`` bytes
    (checked as the bytes arrive, so an oversized answer costs ``limit`` bytes of memory at most).
    Transport failures while reading surface as ``requests`` exceptions.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise UnusableAnswer(
            f"the answer is larger than the {limit} bytes accepted (it announces {declared})"
        )
    body = bytearray()
    for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            response.close()
            raise UnusableAnswer(f"the answer is larger than the {limit} bytes accepted")
    return bytes(body)


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """
    JSON nested at most ``max_depth`` levels, or :class:`UnusableAnswer`. NaN and Infinity are
    read as Python reads them: the client checks each value it keeps, and refusing the whole answer
    for one odd number would lose a credential id that is fine.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise UnusableAnswer("the answer's JSON is nested too deeply") from None
    except ValueError as error:
        raise UnusableAnswer(f"the answer is not JSON ({type(error).__name__})") from None
    if _depth_exceeds(data, max_depth):
        raise UnusableAnswer(f"the answer's JSON is nested more than {max_depth} levels deep")
    return data


def _depth_exceeds(data: Any, max_depth: int) -> bool:
    """Walked without recursion, so no answer can exhaust the stack here."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > max_depth:
                    return True
                pending.append((child, depth + 1))
    return False
