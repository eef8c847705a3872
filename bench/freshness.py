"""
Freshness benchmark, with no Celery beat: 100 learners pass at once, POK emits each credential
E seconds after creating it, and in-process worker threads run the real tasks through a broker
that honours every countdown. Each learner keeps the "being issued" page open: it polls the status
endpoint on the page's own schedule (1 s, growing by half each time) and reloads the certificate
page once the credential is emitted; two web threads serve those polls, as a platform's web
workers would.

Prints, per emission delay, the seconds from POK's emission to the certificate page showing the
credential (median, p95, max; "showing" is when the plugin's row says emitted, which is what the
page renders from), the same to the learner's page reloading itself, POK calls per credential
(POST and status GETs), and POK calls made inside page views.

    .venv-django5.2/bin/python bench/freshness.py [--learners 100] [--emit-after 1 10] [--workers 4]
        [--database mysql]

Targets: p95 at most 3 s after a 1 s emission, at most 1 POST + 5 GETs per credential, no POK call
in any view. Needs Django 5.1 or later. `--database mysql` measures on MariaDB, as a Tutor
platform runs.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime

from _common import (  # importing _common also sets the path and settings
    API_KEY,
    TEMPLATE_ID,
    InProcessBroker,
    RemoteFakePok,
    add_database_option,
    create_certified_learners,
    create_course,
    pass_learners,
    set_up_shared_database,
    start_workers,
    work,
)

SAMPLE_EVERY = 0.05
PAGE_FIRST_POLL, PAGE_POLL_GROWTH, PAGE_POLL_MAX = 1.0, 1.5, 30.0  # being_issued.html's schedule
GIVE_UP_AFTER = 180.0

# Set while a page view runs on this thread: a POK call then is a call inside a view.
_in_view = threading.local()


def configure_django(database_path: str, pok_url: str, engine: str) -> None:
    import tests.settings as host_settings

    host_settings.POK_ENABLED_FOR_ALL_COURSES = True
    host_settings.POK_API_URL, host_settings.POK_API_KEY = pok_url, API_KEY
    host_settings.POK_TEMPLATE_ID = TEMPLATE_ID
    set_up_shared_database(host_settings, database_path, script="bench/freshness.py", engine=engine)
    logging.getLogger("openedx_pok").setLevel(logging.ERROR)
    logging.getLogger("openedx_filters").setLevel(logging.CRITICAL)


def count_calls_inside_views() -> list:
    """Wrap the client's single HTTP exchange; returns the list the calls made inside views go to."""
    from openedx_pok import client

    calls_in_views = []
    real_send = client.PokClient._send

    def send(self, method, path, *args, **kwargs):
        if getattr(_in_view, "active", False):
            calls_in_views.append(f"{method} {path}")
        return real_send(self, method, path, *args, **kwargs)

    client.PokClient._send = send
    return calls_in_views


class OpenPages:
    """
    Every learner's open "being issued" page, served by a few web threads as a platform's web
    workers serve them (one request at a time each, not a thread per learner): each page polls its
    status on the page's own schedule and reloads once the credential is emitted. The polls wait
    their turn in a broker of their own, as the tasks do in theirs.
    """

    def __init__(self, pages: list[tuple], threads: int):
        self._broker = InProcessBroker()
        self._open = len(pages)
        self.reloaded_at: dict[str, float] = {}
        self.errors: list[str] = []
        for page in pages:
            self._broker.apply_async(self._visit, (page, PAGE_FIRST_POLL), countdown=PAGE_FIRST_POLL)
        self._threads = [
            threading.Thread(target=work, args=(self._broker, self.errors), daemon=True)
            for _ in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, give_up_at: float) -> None:
        """Until every page has reloaded, or ``give_up_at`` (a page whose poll crashed never does)."""
        for thread in self._threads:
            thread.join(timeout=max(0.0, give_up_at - time.monotonic()))
        self._broker.close()
        for thread in self._threads:
            thread.join()

    def _visit(self, page: tuple, delay: float) -> None:
        verify_uuid, public_id = page
        if self._poll(verify_uuid, public_id):
            self.reloaded_at[public_id] = time.time()
            if len(self.reloaded_at) == self._open:
                self._broker.close()
            return
        delay = min(delay * PAGE_POLL_GROWTH, PAGE_POLL_MAX)
        self._broker.apply_async(self._visit, (page, delay), countdown=delay)

    @staticmethod
    def _poll(verify_uuid, public_id) -> bool:
        """One poll of the status endpoint; True when the page reloaded and shows the credential."""
        from django.test import Client

        browser = Client()
        _in_view.active = True
        try:
            state = browser.get(f"/pok/credentials/{public_id}/status").json().get("state")
            if state != "emitted":
                return False
            return "being issued" not in browser.get(f"/certificates/{verify_uuid}").content.decode()
        finally:
            _in_view.active = False


def run_once(course_key, options, emit_after: float) -> dict:
    from openedx_pok.models import CredentialState, PokCertificate

    pok = RemoteFakePok(emit_after=emit_after)
    try:
        from django.conf import settings

        settings.POK_API_URL = pok.url
        learners = create_certified_learners(course_key, options.learners)
        broker = InProcessBroker()
        broker.install()
        errors: list[str] = []
        workers = start_workers(broker, options.workers, errors)
        calls_in_views = count_calls_inside_views()

        pass_learners(course_key, learners)
        credentials = {
            row.user_id: str(row.public_id) for row in PokCertificate.objects.filter(course_key=course_key)
        }
        pages = OpenPages(
            [(certificate.verify_uuid, credentials[user.pk]) for user, certificate in learners],
            threads=options.web_threads,
        )
        pages.start()

        emitted_at: dict[str, float] = {}  # POK id -> when the row first said emitted (wall clock)
        give_up_at = time.monotonic() + GIVE_UP_AFTER
        while len(emitted_at) < len(learners) and time.monotonic() < give_up_at:
            now = time.time()
            for pok_id in PokCertificate.objects.filter(
                course_key=course_key, state=CredentialState.EMITTED
            ).values_list("pok_credential_id", flat=True):
                emitted_at.setdefault(pok_id, now)
            time.sleep(SAMPLE_EVERY)
        pages.join(give_up_at)
        time.sleep(3)  # any check still queued would run now: the chains must have stopped
        broker.close()
        for thread in workers:
            thread.join()

        created_at = pok.ask("created_at")
        by_pok_id = {
            row.pok_credential_id: str(row.public_id)
            for row in PokCertificate.objects.filter(course_key=course_key)
        }
        emission = {pok_id: _epoch(created) + emit_after for pok_id, created in created_at.items()}
        return {
            "shown": [emitted_at[pok_id] - emission[pok_id] for pok_id in emitted_at],
            "reloaded": [
                pages.reloaded_at[by_pok_id[pok_id]] - emission[pok_id]
                for pok_id in emission
                if by_pok_id[pok_id] in pages.reloaded_at
            ],
            "calls": pok.ask("calls"),
            "checks": pok.ask("checks_per_credential"),
            "in_views": list(calls_in_views),
            "errors": errors + pages.errors,
            "learners": len(learners),
            "duplicates": pok.ask("duplicates"),
        }
    finally:
        pok.stop()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"median {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
        f"max {max(values):.2f} s ({len(values)})"
    )


def report(emit_after: float, figures: dict) -> bool:
    learners = figures["learners"]
    posts = figures["calls"].get("POST credential", 0)
    gets = figures["calls"].get("GET credential", 0)
    checks = figures["checks"]
    print(f"== POK emits {emit_after:g} s after creating each credential")
    print(f"emission -> page shows the credential: {describe(figures['shown'])}")
    print(f"emission -> the learner's open page reloads on its own: {describe(figures['reloaded'])}")
    print(
        f"POK calls per credential: {posts / learners:.2f} POST, {gets / learners:.2f} status GETs "
        f"(most for one credential: {max(checks.values(), default=0)}); all calls: {figures['calls']}"
    )
    print(f"POK calls inside page views: {len(figures['in_views'])}")
    print(f"task errors: {len(figures['errors'])}; duplicates in POK: {len(figures['duplicates'])}")
    return not figures["errors"] and not figures["duplicates"] and len(figures["shown"]) == learners


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--emit-after", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--workers", type=int, default=4, help="worker threads running the tasks")
    parser.add_argument("--web-threads", type=int, default=2, help="threads serving the learners' page views")
    add_database_option(parser)
    options = parser.parse_args()

    sound = True
    with tempfile.TemporaryDirectory() as directory:
        configure_django(  # each run's POK below
            os.path.join(directory, "bench.sqlite3"), "http://127.0.0.1:9/", options.database
        )
        from openedx_pok.conf import setting

        print(
            f"{options.learners} learners pass at once; {options.workers} worker threads and "
            f"{options.web_threads} web threads on {options.database}; no Celery beat; "
            f"first status check after {setting('POK_STATUS_POLL_INITIAL_DELAY')} s"
        )
        for run, emit_after in enumerate(options.emit_after):
            course_key = create_course(
                f"course-v1:ExampleX+FRESH{run}+2026",
                display_name="Python 101",
                course_title="Introduction to Python",
            )
            sound = report(emit_after, run_once(course_key, options, emit_after)) and sound
    return 0 if sound else 1


if __name__ == "__main__":
    sys.exit(main())
