"""
A hostile HTTP server on 127.0.0.1: it answers what no honest server (and not the fake POK) would.

It reads each request like a server, then plays the scripted :class:`Answer`: any status line and
headers, a body trickled a byte at a time, an endless or oversized stream, raw bytes that are not
the JSON they claim to be. It records what it received and whether each answer was cut short by
the client hanging up, so tests assert what the client did, never how long it took.
"""

import itertools
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Every answer stops after this many seconds even when the client never hangs up, so a client
# that ignores its deadline fails its test instead of hanging the suite.
MAX_ANSWER_SECONDS = 30


@dataclass
class Answer:
    """
    What to send back. ``body`` is bytes, or an iterable of chunks sent one after another (then the
    body ends when the connection closes). ``pause`` is the wait between two writes; ``trickle``
    sends the status line, headers and bytes body one byte per write.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    pause: float = 0.0
    trickle: bool = False
    reason: str = "OK"

    def pieces(self) -> Iterator[bytes]:
        head = [f"HTTP/1.1 {self.status} {self.reason}"]
        headers = {"Content-Type": "application/json", **self.headers}
        if isinstance(self.body, bytes) and "Content-Length" not in headers:
            headers["Content-Length"] = str(len(self.body))
        headers.setdefault("Connection", "close")
        head += [f"{name}: {value}" for name, value in headers.items()]
        message_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        body = [self.body] if isinstance(self.body, bytes) else self.body
        if self.trickle:
            return (bytes([byte]) for byte in itertools.chain(message_head, *body))
        return itertools.chain([message_head], body)


def endless(chunk: bytes) -> Iterator[bytes]:
    return itertools.repeat(chunk)


def sized(total: int, chunk_size: int = 64 * 1024, filler: bytes = b" ") -> Iterator[bytes]:
    """``total`` bytes of ``filler`` in chunks, made as they are sent (the server holds one chunk)."""
    chunk = filler * chunk_size
    sent = 0
    while sent < total:
        piece = chunk[: total - sent]
        sent += len(piece)
        yield piece


class _Server(socketserver.ThreadingTCPServer):
    """With ``tls`` set, each connection is TLS; its handshake happens in the connection's thread."""

    tls: ssl.SSLContext | None = None

    def get_request(self):
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HostileServer:
    """
    ``with HostileServer() as server: server.answer = Answer(...)``: every request gets ``answer``,
    except those whose method has its own in ``answers`` (``{"GET": Answer(...)}``).
    """

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.answer = Answer()
        self.answers: dict[str, Answer] = {}
        self.received: list[Received] = []
        self.cut_short = 0
        self.completed = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._stopping = threading.Event()
        self._tls = tls
        self._server = _Server(("127.0.0.1", 0), self._handler_class(), False)
        self._server.tls = tls
        self._server.daemon_threads = True
        self._server.allow_reuse_address = True
        self._thread = None

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> "HostileServer":
        self._server.server_bind()
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_until_idle(self, timeout: float = MAX_ANSWER_SECONDS + 5) -> None:
        """Wait until every answer has been sent or cut short, so the counters are final."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout)

    def _handler_class(self):
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    request = self._read_request()
                except (OSError, ssl.SSLError):
                    return
                if request is None:
                    return
                with server._lock:
                    server.received.append(request)
                    server._active += 1
                    answer = server.answers.get(request.method, server.answer)
                try:
                    finished = self._play(answer)
                finally:
                    with server._idle:
                        server._active -= 1
                        if finished:
                            server.completed += 1
                        else:
                            server.cut_short += 1
                        server._idle.notify_all()

            def _read_request(self) -> Received | None:
                request_line = self.rfile.readline(65537).decode("latin-1").strip()
                if not request_line:
                    return None
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                while (line := self.rfile.readline(65537).decode("latin-1").strip()) != "":
                    name, _, value = line.partition(":")
                    headers[name.strip()] = value.strip()
                length = int(headers.get("Content-Length") or 0)
                return Received(method, path, headers, self.rfile.read(length))

            def _play(self, answer: Answer) -> bool:
                """True when the whole answer left; False when the client hung up first."""
                connection = self.request
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                stop_at = threading.Event()
                timer = threading.Timer(MAX_ANSWER_SECONDS, stop_at.set)
                timer.daemon = True
                timer.start()
                try:
                    for piece in answer.pieces():
                        if stop_at.is_set() or server._stopping.is_set():
                            return False
                        connection.sendall(piece)
                        if answer.pause and server._stopping.wait(answer.pause):
                            return False
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    return False
                finally:
                    timer.cancel()
                return True

        return Handler
