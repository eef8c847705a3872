"""
Runs the whole demo in one process: the fake POK server, the Django host and a Celery worker, until
Ctrl-C. No Celery beat, as on Tutor: credentials schedule their own retries and status checks.

Environment: DEMO_PORT (web port, default 8000; 0 picks a free one), DEMO_DB_PATH (SQLite file,
default demo/var/demo.sqlite3), DEMO_EMIT_AFTER (seconds POK takes to emit, default 5).
"""

import errno
import logging
import os
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path

log = logging.getLogger("demo")

DEFAULT_PORT = 8000
DEFAULT_EMIT_AFTER = 5.0


class DemoHost:
    """Starts and stops every part of the demo, in dependency order."""

    def __init__(self, port: int, emit_after: float):
        self.requested_port = port
        self.emit_after = emit_after
        self.fake_pok = None
        self.web_server = None
        self._stack = ExitStack()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_server.server_address[1]}/"

    def start(self):
        from openedx_pok.testing import FakePokServer

        self.fake_pok = FakePokServer(api_key="demo-api-key", emit_after=self.emit_after)
        self.fake_pok.start()
        self._stack.callback(self.fake_pok.stop)
        os.environ["DEMO_POK_API_URL"] = self.fake_pok.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

        import django

        django.setup()
        from demo import runtime, seed

        runtime.fake_pok = self.fake_pok
        self._prepare_database()
        seed.register_pok_templates(self.fake_pok)
        seed.seed()
        self._start_worker()
        self._start_web_server()

    def _prepare_database(self):
        from django.conf import settings
        from django.core.management import call_command

        database_path = Path(settings.DATABASES["default"]["NAME"])
        database_path.parent.mkdir(parents=True, exist_ok=True)
        # The fake POK keeps its credentials in memory: rows left by an earlier run would point at
        # credentials it no longer knows. Every run starts from the same seeded state.
        for leftover in database_path.parent.glob(database_path.name + "*"):
            leftover.unlink()
        call_command("migrate", interactive=False, verbosity=0)

    def _start_worker(self):
        from celery.contrib.testing.worker import start_worker

        from demo.celery_app import app

        worker = start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING")
        self._stack.enter_context(_embedded_worker(worker))

    def _start_web_server(self):
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application

        application = StaticFilesHandler(get_wsgi_application())
        self.web_server = _bind(ThreadedWSGIServer, WSGIRequestHandler, self.requested_port)
        self.web_server.set_app(application)
        thread = threading.Thread(
            target=self.web_server.serve_forever, kwargs={"poll_interval": 0.1}, name="demo-web", daemon=True
        )
        thread.start()
        self._stack.callback(self.web_server.server_close)
        self._stack.callback(self.web_server.shutdown)

    def stop(self):
        self._stack.close()


@contextmanager
def _embedded_worker(worker_context):
    """Celery's embedded worker; a task still running at exit must not turn Ctrl-C into a crash."""
    with ExitStack() as stack:
        stack.push(_report_busy_worker)
        worker = stack.enter_context(worker_context)
        # Stopping the consumer first ends its wait for messages at once instead of after its 2 s poll.
        stack.callback(worker.stop, in_sighandler=False)
        yield worker


def _report_busy_worker(exc_type, exc, traceback):
    if isinstance(exc, RuntimeError):
        log.warning("The Celery worker was still busy when the demo stopped.")
        return True
    return False


def _bind(server_class, handler_class, port: int):
    """Listen on 127.0.0.1:port; when the default port is taken, on any free port instead."""
    try:
        return server_class(("127.0.0.1", port), handler_class, ipv6=False)
    except OSError as error:
        if error.errno != errno.EADDRINUSE or "DEMO_PORT" in os.environ:
            raise
        log.warning(
            "Port %s is busy; the demo listens on a free port instead (set DEMO_PORT to choose).", port
        )
        return server_class(("127.0.0.1", 0), handler_class, ipv6=False)


def _print_welcome(host: DemoHost):
    from demo.seed import LEARNER_PASSWORD, LEARNERS, STAFF_PASSWORD, STAFF_USERNAME

    url = host.url
    learners = ", ".join(learner.username for learner in LEARNERS)
    print(
        f"""
The openedx-pok demo is running.

  Home page:        {url}
                    learners and courses, "Pass the course", "Revoke", the POK outage switch
  Django admin:     {url}admin/
  Staff sign-in:    username "{STAFF_USERNAME}", password "{STAFF_PASSWORD}"
  Learner sign-in:  {learners}, password "{LEARNER_PASSWORD}"
  Fake POK server:  {host.fake_pok.url}

Press Ctrl-C to stop.
""",
        flush=True,
    )


def main():
    host = DemoHost(
        port=int(os.environ.get("DEMO_PORT", DEFAULT_PORT)),
        emit_after=float(os.environ.get("DEMO_EMIT_AFTER", DEFAULT_EMIT_AFTER)),
    )
    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    try:
        host.start()
        _print_welcome(host)
        while not stopping.wait(0.5):
            pass
        print("Stopping the demo (a few seconds)...", flush=True)
    finally:
        host.stop()
    sys.exit(0)
