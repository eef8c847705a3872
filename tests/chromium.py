"""
Debian's headless Chromium for the browser lane, without WebDriver.

``chromium()`` runs its command line (screenshots, ``--dump-dom``). ``Browser`` drives it through
the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages on file descriptors 3 and 4,
so no WebSocket client is needed): pages at an exact viewport and language, JavaScript evaluated
in them (layout checks, axe-core) and screenshots.
"""

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that keep Chromium from reaching the network on its own (updates, sync, QUIC), so that it
# only loads the 127.0.0.1 URLs it is given.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium(user_data_dir, *arguments, timeout=90, check=False):
    """Run headless Chromium once with its own profile directory."""
    command = [CHROMIUM, *QUIET_FLAGS, f"--user-data-dir={user_data_dir}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=check)  # noqa: S603


class BrowserError(Exception):
    """Chromium answered a DevTools command with an error, or not in time."""


class Browser:
    """One headless Chromium driven over the DevTools pipe; ``with Browser(profile) as browser:``."""

    def __init__(self, user_data_dir: Path, timeout: float = 60.0):
        self.user_data_dir = Path(user_data_dir)
        self.timeout = timeout
        self._process = None
        self._to_browser = self._from_browser = None
        self._buffer = b""
        self._events: list[dict] = []
        self._next_id = 0

    def __enter__(self) -> "Browser":
        to_chromium_read, self._to_browser = os.pipe()
        self._from_browser, from_chromium_write = os.pipe()

        def give_chromium_its_pipes():
            os.dup2(to_chromium_read, 3)
            os.dup2(from_chromium_write, 4)

        self._process = subprocess.Popen(  # noqa: S603
            [
                CHROMIUM,
                *QUIET_FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self.user_data_dir}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=give_chromium_its_pipes,  # noqa: PLW1509 (single-threaded fd setup, before exec)
            close_fds=False,
        )
        os.close(to_chromium_read)
        os.close(from_chromium_write)
        return self

    def __exit__(self, *exc_info) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")  # a browser that already died needs no closing
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def new_page(self, width: int, height: int, *, language: str = "en", mobile: bool = False) -> "Page":
        """A fresh tab with its own cookies, at exactly ``width`` x ``height`` CSS pixels."""
        context = self.send("Target.createBrowserContext")["browserContextId"]
        target = self.send("Target.createTarget", url="about:blank", browserContextId=context)["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Network.enable")
        page.send("Network.setExtraHTTPHeaders", headers={"Accept-Language": language})
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        return page

    def send(self, method: str, session_id: str | None = None, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session_id:
            message["sessionId"] = session_id
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        answer = self._wait_for(lambda item: item.get("id") == message["id"], f"an answer to {method}")
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def discard_events(self, session_id: str) -> None:
        """Forget the events a tab sent so far (an earlier load, a reload the page did on its own)."""
        self._events = [item for item in self._events if item.get("sessionId") != session_id]

    def wait_for_event(self, method: str, session_id: str) -> dict:
        return self._wait_for(
            lambda item: item.get("method") == method and item.get("sessionId") == session_id, method
        )

    def _wait_for(self, wanted, what: str) -> dict:
        for index, item in enumerate(self._events):
            if wanted(item):
                return self._events.pop(index)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for item in self._read_messages(deadline - time.monotonic()):
                if wanted(item):
                    return item
                if "method" in item:
                    self._events.append(item)
        raise BrowserError(f"Chromium sent no {what} within {self.timeout} s")

    def _read_messages(self, wait: float) -> list[dict]:
        ready, _, _ = select.select([self._from_browser], [], [], max(0.0, wait))
        if not ready:
            return []
        chunk = os.read(self._from_browser, 1 << 20)
        if not chunk:
            raise BrowserError("Chromium closed its DevTools pipe")
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\0")
        return [json.loads(message) for message in complete if message]


class Page:
    """One tab: load a URL, run JavaScript in it, take a screenshot."""

    def __init__(self, browser: Browser, session_id: str):
        self.browser = browser
        self.session_id = session_id

    def send(self, method: str, **params) -> dict:
        return self.browser.send(method, self.session_id, **params)

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.send("Network.setCookie", url=url, name=name, value=value)

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event and its fonts."""
        self.browser.discard_events(self.session_id)
        answer = self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self.browser.wait_for_event("Page.loadEventFired", self.session_id)
        self.evaluate("document.fonts.ready.then(() => true)")

    def evaluate(self, expression: str):
        """The JSON value of ``expression`` (a promise is awaited)."""
        answer = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}...: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        answer = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(answer["data"]))
        return path
