"""
Backfill benchmark: N learners with a downloadable certificate, ``pok_backfill`` for their course,
and the real issuing task run by a few in-process worker threads against the fake POK limited to
R requests per second with a fixed latency.

The fake POK runs in its own process, as POK would, so that its memory and CPU are not counted as
the plugin's. The "broker" is a small in-process queue that honours the countdown each task is
queued with: retries after a 429 wait exactly as long as the task code asks (its backoff, never
shorter than POK's Retry-After). Prints the rate of accepted POSTs as a fraction of R, the 429s,
duplicates, the final states, and the memory the process holds (tracemalloc) as the run progresses.

    .venv-django5.2/bin/python bench/backfill.py [--learners 2000] [--rate 50] [--latency 0.1]
        [--workers 8] [--retry-base-delay SECONDS] [--skip-memory-run] [--database mysql]

Needs Django 5.1 or later (SQLite's IMMEDIATE transactions let the worker threads share the file;
`--database mysql` runs on MariaDB instead, as a Tutor platform does).
"""

import argparse
import logging
import os
import sys
import tempfile
import time
import tracemalloc

from _common import (  # importing _common also sets the path and settings
    API_KEY,
    TEMPLATE_ID,
    InProcessBroker,
    RemoteFakePok,
    add_database_option,
    create_certified_learners,
    create_course,
    set_up_shared_database,
    start_workers,
)

PROGRESS_EVERY = 5.0


# -- setup ------------------------------------------------------------------------------------------


def configure_django(database_path: str, options, pok_url: str) -> None:
    """The test host's settings, on a database shared by the worker threads."""
    import tests.settings as host_settings

    host_settings.POK_ENABLED_FOR_ALL_COURSES = True
    host_settings.POK_API_URL, host_settings.POK_API_KEY = pok_url, API_KEY
    host_settings.POK_TEMPLATE_ID = TEMPLATE_ID
    if options.retry_base_delay is not None:
        host_settings.POK_RETRY_BASE_DELAY = options.retry_base_delay
    set_up_shared_database(host_settings, database_path, script="bench/backfill.py", engine=options.database)
    # The client warns about every 429 and the task about every retry; the figures below say it once.
    logging.getLogger("openedx_pok").setLevel(logging.ERROR)


# -- the run ----------------------------------------------------------------------------------------


def resident_memory() -> int:
    """This process's resident set size in bytes (Linux), sampled without slowing anything down."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def backfill(course_key, options, pok: RemoteFakePok, *, trace_memory: bool) -> dict:
    """
    Run pok_backfill and the workers until POK accepted every learner's POST; returns the figures.

    With ``trace_memory``, tracemalloc follows every allocation (and halves the throughput, since it
    serialises allocations); without it, memory is the resident size, sampled.
    """
    from django.core.management import call_command

    broker = InProcessBroker()
    broker.install()
    errors: list[str] = []
    workers = start_workers(broker, options.workers, errors)

    if trace_memory:
        tracemalloc.start()

    def memory() -> int:
        return tracemalloc.get_traced_memory()[0] if trace_memory else resident_memory()

    calls_before = pok.ask("calls")
    baseline = pok.ask("created")
    memory_by_progress = [(0, memory())]
    started = time.monotonic()
    with open(os.devnull, "w") as quiet:
        call_command("pok_backfill", "--course", str(course_key), stdout=quiet)
    queued_in = time.monotonic() - started
    last_change, created, next_report = started, 0, started + PROGRESS_EVERY
    # Until every learner's POST was accepted (their status checks then go on by themselves).
    while created < options.learners and not broker.idle():
        time.sleep(0.2)
        now_created = pok.ask("created") - baseline
        if now_created != created:
            last_change, created = time.monotonic(), now_created
        if created >= memory_by_progress[-1][0] + options.learners // 8:
            memory_by_progress.append((created, memory()))
        if time.monotonic() >= next_report:
            running, delayed = broker.waiting()
            print(
                f"  {time.monotonic() - started:5.0f} s: {created} created, {running} tasks due or running, "
                f"{delayed} waiting for their countdown (retries, status checks)",
                file=sys.stderr,
            )
            next_report = time.monotonic() + PROGRESS_EVERY
    memory_by_progress.append((created, memory()))
    peak = (
        tracemalloc.get_traced_memory()[1] if trace_memory else max(value for _, value in memory_by_progress)
    )
    if trace_memory:
        tracemalloc.stop()
    broker.close()
    for thread in workers:
        thread.join()
    calls = pok.ask("calls")
    return {
        "queued_in": queued_in,
        "tasks_sent": broker.sent,
        "elapsed": last_change - started,
        "created": created,
        "calls": {name: count - calls_before.get(name, 0) for name, count in calls.items()},
        "errors": errors,
        "peak": peak,
        "memory_by_progress": memory_by_progress,
    }


def report(title: str, options, figures: dict, course_key) -> None:
    from openedx_pok.models import PokCertificate
    from openedx_pok.monitoring import counts_by_state, format_counts

    calls = dict(figures["calls"])
    posts = calls.pop("POST credential", 0)
    created, elapsed = figures["created"], figures["elapsed"]
    rate = created / elapsed if elapsed else 0.0
    mib = 2**20
    print(f"== {title}")
    print(
        f"pok_backfill returned after {figures['queued_in']:.1f} s; "
        f"tasks queued in all, retries included: {figures['tasks_sent']}"
    )
    ideal = options.learners / options.rate
    print(f"credentials created: {created} in {elapsed:.1f} s (at exactly R: {ideal:.1f} s)")
    print(f"achieved: {rate:.1f} accepted POSTs/s = {rate / options.rate:.2f} R")
    print(f"POSTs sent: {posts}; answered 429: {posts - created}; other calls: {calls}")
    states = counts_by_state(PokCertificate.objects.filter(course_key=course_key))
    print(f"final states: {format_counts(states)}")
    print(
        f"task errors: {len(figures['errors'])}"
        + (f", e.g. {figures['errors'][0]}" if figures["errors"] else "")
    )
    print(f"peak memory: {figures['peak'] / mib:.1f} MiB")
    print(
        "memory by credentials created: "
        + ", ".join(f"{count}: {value / mib:.1f} MiB" for count, value in figures["memory_by_progress"])
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="POK's limit R, in requests per second")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds POK takes to answer")
    parser.add_argument("--workers", type=int, default=8, help="worker threads running the tasks")
    parser.add_argument(
        "--skip-memory-run",
        action="store_true",
        help="only the throughput run (tracemalloc halves throughput)",
    )
    parser.add_argument(
        "--retry-base-delay", type=float, default=None, help="POK_RETRY_BASE_DELAY (default: the plugin's)"
    )
    add_database_option(parser)
    options = parser.parse_args()

    pok = RemoteFakePok(
        emit_after=None, latency=options.latency, rate=options.rate, credits=options.learners * 10
    )
    try:
        with tempfile.TemporaryDirectory() as directory:
            configure_django(os.path.join(directory, "bench.sqlite3"), options, pok.url)
            from openedx_pok.conf import setting

            print(
                f"{options.learners} learners per run; POK limited to R = {options.rate:g} requests/s with "
                f"{options.latency * 1000:.0f} ms latency; {options.workers} worker threads "
                f"on {options.database}; "
                f"POK_RETRY_BASE_DELAY {setting('POK_RETRY_BASE_DELAY')} s, "
                f"POK_MAX_ATTEMPTS {setting('POK_MAX_ATTEMPTS')}"
            )
            failures = []
            runs = [("throughput (memory: resident size)", False), ("memory (tracemalloc)", True)]
            for run, trace_memory in runs[: 1 if options.skip_memory_run else 2]:
                course_key = create_course(
                    f"course-v1:BenchX+BF{trace_memory:d}+2026",
                    display_name="Backfill 101",
                    course_title="Backfill 101",
                )
                create_certified_learners(course_key, options.learners)
                figures = backfill(course_key, options, pok, trace_memory=trace_memory)
                report(run, options, figures, course_key)
                failures += figures["errors"]
            duplicates = pok.ask("duplicates")
            print(f"duplicates in POK: {len(duplicates)}")
    finally:
        pok.stop()
    return 0 if not failures and not duplicates else 1


if __name__ == "__main__":
    sys.exit(main())
