"""
Reliability benchmark, with the processes a platform runs: prefork `celery worker` processes on
Redis and MariaDB, the fake POK in a process of its own, and no Celery beat. N learners pass a
course (the platform's CertificateCreationRequested pipeline), then a fault strikes while their
credentials are on their way. Each scenario starts clean (empty database, Redis and POK):

- baseline: no fault;
- broker-loss: once POK has accepted every credential, the bench's Redis database is flushed (the
  queued and scheduled messages and the shared cache lost together, as under Tutor, where one Redis
  holds both) and the workers' connections to it are cut, as a Redis restart does. With
  `--broker-loss restart-workers` the workers restart too; with `flush`, Redis is only flushed;
- killed-worker: one worker SIGKILLed with its pool once POK has accepted a third of the
  credentials, and again --kill-interval seconds later, restarted at once each time;
- database-outage: the database refuses the workers for --outage seconds from the moment POK has
  accepted a tenth of the credentials (the workers reach MariaDB through a TCP proxy the bench runs,
  which cuts their connections and resets new ones);
- duplicated-deliveries: once POK has accepted every credential, 20 copies of the waiting sweep
  run and of the waiting reconciliation run are delivered at once, and 20 copies of each of 20
  credentials' next status check, due at the same moment as the check itself.

Prints for each: rows per state; the credentials POK holds against those the rows show (one no
row shows was paid for and is never shown to its learner); duplicate credentials in POK; seconds
from the fault (from the learners passing, for the baseline) until every row is emitted; and what
waits in the broker: the sweep's and the reconciliation's runs, the tasks each credential has
waiting (in the queue, or held by a live worker until their countdown), and the messages a dead
worker left in Redis's unacked set, which Redis hands out again after the visibility timeout (one
hour by default). A scenario gives up --limit seconds after its fault (after the end of a
lasting one: the outage, the second kill) and reports what it saw.

    .venv-django5.2/bin/python bench/recovery.py [--learners 100] [--limit 90] [--emit-after 10]
        [--scenario NAME ...] [--workers 2] [--concurrency 2] [--outage 30] [--kill-interval 10]
        [--broker-loss {restart,restart-workers,flush}] [--setting NAME=VALUE ...]
        [--redis-db 13] [--logs DIR]

Needs Redis on 127.0.0.1:6379 (one database of the bench's own, flushed at the start, between
scenarios and at the end), MariaDB on 127.0.0.1:3306 (or DB_HOST, DB_PORT...: a scratch database,
dropped at the end), and mysqlclient and redis in the environment, as `make test DB=mysql` builds
it; without them the bench says so and exits. The plugin's own delays apply unless --setting
changes them (for the workers and the web process alike), e.g. --setting POK_REQUESTING_TIMEOUT=60.
"""

import argparse
import base64
import contextlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _common import (  # importing _common also sets the path and settings
    API_KEY,
    ROOT,
    TEMPLATE_ID,
    RemoteFakePok,
    create_certified_learners,
    create_course,
    pass_learners,
    set_up_shared_database,
)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# The workers consume Celery's default queue: the bench's Redis database holds nothing else.
QUEUE = "celery"
# Where Redis puts a message sent to an exchange no queue is bound to (a flush drops the bindings).
UNDELIVERABLE_QUEUE = "ae.undeliver"
SWEEP = "openedx_pok.tasks.sweep_credentials"
RECONCILIATION = "openedx_pok.tasks.reconcile_certificates"
STATUS_SYNC = "openedx_pok.tasks.sync_credential_statuses"
CHECK = "openedx_pok.tasks.check_credential_status"
PERIODIC = {SWEEP: "sweep", RECONCILIATION: "reconciliation", STATUS_SYNC: "status sync"}
# States the plugin moves a row on from by itself; the others wait for nothing (or for an operator).
ON_ITS_WAY = ("pending", "requesting", "retrying", "processing")
COPIES = 20
DUPLICATED_CHECKS = 20
# A copied check is taken only when its original is due at least this far ahead, so that the copies
# reach the workers before it runs.
COPY_LEAD = 2.0
SAMPLE_EVERY = 0.5
PROGRESS_EVERY = 15.0
# After the last emission (or the duplicates' moment): follow-ups in flight land before the broker is read.
SETTLE = 3.0
WORKER_READY_TIMEOUT = 120.0
WORKER_STOP_TIMEOUT = 15.0
INSPECT_TIMEOUT = 5.0


# -- the workers' connections -----------------------------------------------------------------------


class TcpProxy:
    """
    Forwards a port on 127.0.0.1 to a server, so that the bench can do to the workers' connections
    what a server restart or an outage does: cut them all at once, and refuse new ones for a while.
    """

    def __init__(self, target: tuple[str, int]):
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._refusing = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{self.port}").start()

    def cut(self) -> None:
        """Close every open connection; new ones are served."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            _close(connection)

    def refuse(self) -> None:
        """Close every open connection, and close new ones at once until restore()."""
        self._refusing = True
        self.cut()

    def restore(self) -> None:
        self._refusing = False

    def close(self) -> None:
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:  # the listener was closed
                return
            try:
                if self._refusing:
                    raise ConnectionRefusedError
                server = socket.create_connection(self._target, timeout=10)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, destination in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, destination), daemon=True).start()

    def _pipe(self, source: socket.socket, destination: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                destination.sendall(data)
        with self._lock:
            self._open.difference_update((source, destination))
        _close(source)
        _close(destination)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)  # wakes the thread reading from it
    connection.close()


# -- the processes ----------------------------------------------------------------------------------


def configure_host(host_settings, *, broker_url: str, pok_url: str, overrides: dict) -> None:
    """
    The test host's settings, as a platform's web process and workers share them: the broker and
    the cache on one Redis database, as Tutor has them.
    """
    host_settings.POK_ENABLED_FOR_ALL_COURSES = True
    host_settings.POK_API_URL, host_settings.POK_API_KEY = pok_url, API_KEY
    host_settings.POK_TEMPLATE_ID = TEMPLATE_ID
    host_settings.CELERY_BROKER_URL = broker_url
    host_settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": broker_url}
    }
    for name, value in overrides.items():
        setattr(host_settings, name, value)


def serve_as_worker(config: dict) -> None:
    """This script in a worker's process: a `celery worker` on the bench's Redis and database."""
    import tests.settings as host_settings

    configure_host(
        host_settings,
        broker_url=config["broker_url"],
        pok_url=config["pok_url"],
        overrides=config["overrides"],
    )
    database = host_settings.mariadb_database(config["database_name"])
    host_settings.DATABASES = {"default": {**database, "HOST": "127.0.0.1", "PORT": config["database_port"]}}
    from tests.celery_app import app

    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={config['concurrency']}",
            f"--hostname={config['hostname']}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=warning",
        ]
    )


class Worker:
    """
    One `celery worker` process and its pool, in a session of their own: they die together when
    killed, as a container's processes do, and a Ctrl-C in the terminal reaches only the bench,
    which stops them.
    """

    def __init__(self, config: dict, log_path: Path):
        self.hostname = config["hostname"]
        self._config = config
        self._log_path = log_path
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        with self._log_path.open("a") as log:
            self._process = subprocess.Popen(  # noqa: S603  (this script, with this interpreter)
                [sys.executable, __file__, "--worker-config", json.dumps(self._config)],
                cwd=ROOT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: an OOM kill, a node lost."""
        if self._process.returncode is None:  # not reaped yet, so its group id is still its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def stop(self) -> None:
        """A warm shutdown, as a container's stop asks for; killed with its pool if it takes too long."""
        if self._process is None or self._process.returncode is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def sigint_ignored():
    """A child started meanwhile ignores Ctrl-C (it inherits that), and stops when the bench says."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_fake_pok(pok: RemoteFakePok) -> None:
    with contextlib.suppress(OSError, EOFError):  # already gone
        pok.stop()


# -- what waits in the broker -----------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A task message as the broker holds it."""

    id: str
    task: str
    args: list
    kwargs: dict
    eta: str | None

    @classmethod
    def decode(cls, payload: dict) -> "Message":
        headers = payload["headers"]
        args, kwargs, _embed = json.loads(base64.b64decode(payload["body"]))
        return cls(headers["id"], headers["task"], args, kwargs, headers.get("eta"))

    @property
    def credential_id(self) -> int | None:
        return self.args[0] if self.task not in PERIODIC and self.args else None

    def seconds_until_due(self) -> float:
        return 0.0 if self.eta is None else datetime.fromisoformat(self.eta).timestamp() - time.time()


@dataclass(frozen=True)
class BrokerContents:
    # In the queue, or held by a live worker (received, waiting for its countdown or a free process).
    waiting: list[Message]
    # Received by a worker that died: back in the queue once Redis's visibility timeout passes.
    stranded: list[Message]
    undeliverable: int
    workers_answering: int


def read_broker(redis_client, app, workers: int) -> BrokerContents:
    """
    Redis's queue and unacked set, and what the live workers say they hold. The unacked set is read
    before and after asking the workers: a message in both that no live worker holds was left by a
    dead one; one that appeared meanwhile was just handed to a live worker.
    """

    def unacked() -> dict[str, Message]:
        messages = (Message.decode(json.loads(raw)[0]) for raw in redis_client.hvals("unacked"))
        return {message.id: message for message in messages}

    before = unacked()
    inspector = app.control.inspect(timeout=INSPECT_TIMEOUT, limit=workers)
    scheduled, reserved = inspector.scheduled() or {}, inspector.reserved() or {}
    held = {entry["request"]["id"] for entries in scheduled.values() for entry in entries}
    held |= {request["id"] for requests in reserved.values() for request in requests}
    after = unacked()
    queued = [Message.decode(json.loads(raw)) for raw in redis_client.lrange(QUEUE, 0, -1)]
    return BrokerContents(
        waiting=queued + [message for key, message in after.items() if key in held or key not in before],
        stranded=[message for key, message in after.items() if key in before and key not in held],
        undeliverable=redis_client.llen(UNDELIVERABLE_QUEUE),
        workers_answering=min(len(scheduled), len(reserved)),
    )


def describe_broker(contents: BrokerContents, states: dict[int, str], workers: int, focus=None) -> list[str]:
    """Lines about the runs and tasks waiting; ``focus``: credentials to count apart (the duplicated)."""
    runs = []
    for task, name in PERIODIC.items():
        messages = [message for message in contents.waiting if message.task == task]
        soonest = min((message.seconds_until_due() for message in messages), default=None)
        runs.append(f"{name} {len(messages)}" + (f" (next in {soonest:.0f} s)" if messages else ""))
    per_credential = Counter(message.credential_id for message in contents.waiting if message.credential_id)
    on_its_way = [pk for pk, state in states.items() if state in ON_ITS_WAY]
    settled_tasks = sum(count for pk, count in per_credential.items() if states.get(pk) not in ON_ITS_WAY)
    answered = contents.workers_answering
    lines = [
        f"waiting in the broker: {', '.join(runs)}"
        + ("" if answered == workers else f" ({answered} of {workers} workers answered)"),
        (
            f"tasks waiting per credential on its way ({len(on_its_way)}): "
            f"{_spread(per_credential, on_its_way)}; for settled credentials: {settled_tasks}"
        ),
    ]
    if focus:
        still = [pk for pk in focus if states.get(pk) in ON_ITS_WAY]
        lines.append(
            f"  the duplicated ones still on their way ({len(still)} of {len(focus)}): "
            f"{_spread(per_credential, still)}"
        )
    stranded = Counter(message.task.rsplit(".", 1)[-1] for message in contents.stranded)
    lines.append(
        f"stranded in Redis's unacked set by a dead worker: {sum(stranded.values())}"
        + (f" ({_format(stranded)})" if stranded else "")
        + f"; undeliverable (no queue bound): {contents.undeliverable}"
    )
    return lines


def _spread(per_credential: Counter, credential_ids) -> str:
    spread = Counter(min(per_credential[pk], 2) for pk in credential_ids)
    return f"none {spread[0]}, one {spread[1]}, two or more {spread[2]}"


def _format(counts: Counter) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.most_common())


# -- a scenario's run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """
    When the fault struck (wall clock) and what to call that moment; a fault that lasts (an outage,
    kills some seconds apart) also says when it ended, and the scenario's limit counts from then.
    """

    at: float
    moment: str
    ended_at: float | None = None
    end_moment: str = ""

    @property
    def last(self) -> tuple[float, str]:
        return (self.at, self.moment) if self.ended_at is None else (self.ended_at, self.end_moment)


class Bench:
    """What the scenarios share: the options, Redis, and the proxies the workers connect through."""

    def __init__(self, options, database: dict, log_directory: Path):
        import redis

        from tests.celery_app import app

        self.options = options
        self.app = app
        self.redis = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=options.redis_db)
        self.database_name = database["NAME"]
        self.database_proxy = TcpProxy((database["HOST"], int(database["PORT"])))
        self.redis_proxy = TcpProxy((REDIS_HOST, REDIS_PORT))
        self.log_directory = log_directory

    def close(self) -> None:
        self.database_proxy.close()
        self.redis_proxy.close()

    def worker_config(self, index: int, pok_url: str) -> dict:
        return {
            "hostname": f"recovery{index}@bench",
            "concurrency": self.options.concurrency,
            "broker_url": f"redis://127.0.0.1:{self.redis_proxy.port}/{self.options.redis_db}",
            "database_name": self.database_name,
            "database_port": self.database_proxy.port,
            "pok_url": pok_url,
            "overrides": self.options.settings,
        }

    @contextlib.contextmanager
    def clean_run(self, name: str):
        """A run from a clean start: empty database and Redis, a fresh POK, workers up and ready."""
        from django.conf import settings
        from django.core.management import call_command

        self.redis.flushdb()
        call_command("flush", interactive=False, verbosity=0)
        with sigint_ignored():
            pok = RemoteFakePok(emit_after=self.options.emit_after)
        settings.POK_API_URL = pok.url
        run = Run(self, name, pok)
        try:
            run.start_workers()
            yield run
        finally:
            for worker in run.workers:
                worker.stop()
            stop_fake_pok(pok)


class Run:
    """One scenario's run: its POK, its workers, the learners passing, and what is seen meanwhile."""

    def __init__(self, bench: Bench, name: str, pok: RemoteFakePok):
        self.bench, self.name, self.pok = bench, name, pok
        self.options = bench.options
        self.notes: list[str] = []
        self.log_paths = [
            bench.log_directory / f"{name}-worker{index}.log" for index in range(self.options.workers)
        ]
        self.workers = [
            Worker(bench.worker_config(index, pok.url), path) for index, path in enumerate(self.log_paths)
        ]
        self.passed_at = time.time()  # until the learners pass

    def start_workers(self) -> None:
        for worker in self.workers:
            worker.start()
        expected = {worker.hostname for worker in self.workers}
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while time.monotonic() < deadline:
            answered = {name for reply in self.bench.app.control.ping(timeout=1.0) for name in reply}
            if expected <= answered:
                return
        raise RuntimeError(
            f"the workers did not answer within {WORKER_READY_TIMEOUT:.0f} s: see {self.log_paths}"
        )

    def learners_pass(self) -> None:
        """The platform creates every learner's certificate: the creation step runs for each."""
        course_key = create_course(
            "course-v1:BenchX+RECOVERY+2026", display_name="Recovery 101", course_title="Recovery 101"
        )
        learners = create_certified_learners(course_key, self.options.learners)
        self.passed_at = time.time()
        pass_learners(course_key, learners)

    # -- what the run sees --

    def states(self) -> dict[str, int]:
        from openedx_pok.monitoring import counts_by_state

        return counts_by_state()

    def all_emitted(self) -> bool:
        return self.states()["emitted"] >= self.options.learners

    def all_accepted(self) -> bool:
        states = self.states()
        return states["processing"] + states["emitted"] >= self.options.learners

    def pok_created(self, fraction: float) -> Callable[[], bool]:
        wanted = max(1, round(self.options.learners * fraction))
        return lambda: self.pok.ask("created") >= wanted

    def wait_until(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Until ``condition`` holds, or False at ``deadline`` (wall clock); a progress line now and then."""
        from openedx_pok.monitoring import format_counts

        next_progress = time.time() + PROGRESS_EVERY
        while not condition():
            if time.time() >= deadline:
                return False
            time.sleep(SAMPLE_EVERY)
            if time.time() >= next_progress:
                since = time.time() - self.passed_at
                print(f"  [{self.name}] +{since:3.0f} s: {format_counts(self.states())}", file=sys.stderr)
                next_progress += PROGRESS_EVERY
        return True

    def wait(self, seconds: float) -> None:
        self.wait_until(lambda: False, time.time() + seconds)

    def wait_before_fault(self, condition: Callable[[], bool], what: str) -> None:
        if not self.wait_until(condition, self.passed_at + self.options.limit):
            self.notes.append(f"({what} had not happened within the limit: the fault struck anyway)")

    def broker_lines(self, focus=None) -> list[str]:
        from openedx_pok.models import PokCertificate

        contents = read_broker(self.bench.redis, self.bench.app, len(self.workers))
        states = dict(PokCertificate.objects.values_list("pk", "state"))
        return describe_broker(contents, states, len(self.workers), focus)

    def task_failures(self) -> list[str]:
        """Tasks the workers dropped on an exception, as their logs say."""
        failures = []
        for path in self.log_paths:
            with path.open(errors="replace") as log:
                failures += [line.strip() for line in log if " raised unexpected: " in line]
        return failures


# -- the scenarios ----------------------------------------------------------------------------------


def baseline(run: Run) -> Fault:
    """What the faults are measured against."""
    return Fault(run.passed_at, "the learners passed")


def broker_loss(run: Run) -> Fault:
    """
    The broker loses everything while POK processes the credentials: every check waiting for its
    countdown, the sweep's and the reconciliation's next runs, and the cache's markers with them.
    """
    run.wait_before_fault(run.all_accepted, "POK accepting every credential")
    at = time.time()
    run.bench.redis.flushdb()
    mode = run.options.broker_loss
    if mode != "flush":
        run.bench.redis_proxy.cut()
    if mode == "restart-workers":
        for worker in run.workers:
            worker.restart()
    run.notes.append(
        {
            "flush": "Redis flushed; the workers keep their connections and what they hold",
            "restart": "Redis flushed and the workers' connections cut (a Redis restart); the workers run on",
            "restart-workers": "Redis flushed and the workers restarted",
        }[mode]
    )
    return Fault(at, "the flush")


def killed_worker(run: Run) -> Fault:
    """
    A worker dies with its pool (an OOM kill, a node lost) twice: the messages it had received stay
    in Redis's unacked set, and a task it was running stops wherever it was, a POST included.
    """
    run.wait_before_fault(run.pok_created(1 / 3), "POK accepting a third of the credentials")
    victim = run.workers[0]
    at = time.time()
    victim.kill()
    victim.start()
    run.wait(run.options.kill_interval)
    second_at = time.time()
    victim.kill()
    victim.start()
    run.notes.append(
        f"{victim.hostname} SIGKILLed and restarted, twice, {run.options.kill_interval:g} s apart"
    )
    return Fault(at, "the first kill", ended_at=second_at, end_moment="the second")


def database_outage(run: Run) -> Fault:
    """
    The database refuses the workers while they issue: the tasks fail on it, POSTs POK answered
    included, and whatever is not retried waits for the safety nets.
    """
    run.wait_before_fault(run.pok_created(1 / 10), "POK accepting a tenth of the credentials")
    at = time.time()
    run.bench.database_proxy.refuse()
    try:
        run.wait(run.options.outage)
    finally:
        run.bench.database_proxy.restore()
    run.notes.append(f"the database refused the workers for {run.options.outage:g} s")
    return Fault(at, "the outage began", ended_at=time.time(), end_moment="it ended")


def duplicated_deliveries(run: Run) -> Fault:
    """
    The broker delivers the same message many times at once (a redelivery after the visibility
    timeout, a retried publish): each chain must stay one, and every credential keep its next check.
    """
    run.wait_before_fault(run.all_accepted, "POK accepting every credential")
    contents, checks = read_checks_to_copy(run)
    app = run.bench.app
    for check in checks:
        for _copy in range(COPIES):
            app.send_task(CHECK, args=check.args, kwargs=check.kwargs, eta=datetime.fromisoformat(check.eta))
    for task, name in ((SWEEP, "sweep"), (RECONCILIATION, "reconciliation")):
        original = next((message for message in contents.waiting if message.task == task), None)
        if original is None:
            run.notes.append(f"no {name} run was waiting: copies of a self-scheduled run with no token sent")
        args, kwargs = (original.args, original.kwargs) if original else ([], {"scheduled": True})
        for _copy in range(COPIES):
            app.send_task(task, args=args, kwargs=kwargs)
    at = time.time()
    run.notes.append(
        f"{COPIES} copies each of the sweep's and the reconciliation's runs delivered at once, and of "
        f"{len(checks)} credentials' next status checks, due with them"
    )
    run.wait(max((check.seconds_until_due() for check in checks), default=0.0) + SETTLE)
    run.notes += ["right after the duplicates ran:"] + [
        "  " + line for line in run.broker_lines(focus={check.credential_id for check in checks})
    ]
    return Fault(at, "the duplicates")


def read_checks_to_copy(run: Run) -> tuple[BrokerContents, list[Message]]:
    """
    The broker's contents once DUPLICATED_CHECKS credentials have their next status check due far
    enough ahead for copies to reach the workers first (the first checks come within seconds of
    POK's answer), and those checks; fewer if the limit passes first.
    """
    wanted = min(DUPLICATED_CHECKS, run.options.learners)
    deadline = run.passed_at + run.options.limit
    while True:
        contents = read_broker(run.bench.redis, run.bench.app, len(run.workers))
        checks = sorted(
            (
                message
                for message in contents.waiting
                if message.task == CHECK
                and not message.kwargs.get("early")
                and message.seconds_until_due() > COPY_LEAD
            ),
            key=Message.seconds_until_due,
        )[:wanted]
        if len(checks) == wanted or time.time() >= deadline:
            return contents, checks
        time.sleep(SAMPLE_EVERY)


SCENARIOS = {
    "baseline": baseline,
    "broker-loss": broker_loss,
    "killed-worker": killed_worker,
    "database-outage": database_outage,
    "duplicated-deliveries": duplicated_deliveries,
}


def run_scenario(bench: Bench, name: str) -> None:
    with bench.clean_run(name) as run:
        run.learners_pass()
        fault = SCENARIOS[name](run)
        emitted = run.wait_until(run.all_emitted, fault.last[0] + bench.options.limit)
        emitted_at = time.time() if emitted else None
        time.sleep(SETTLE)
        report(run, fault, emitted_at)


def report(run: Run, fault: Fault, emitted_at: float | None) -> None:
    from openedx_pok.models import PokCertificate
    from openedx_pok.monitoring import format_counts

    learners = run.options.learners
    created_at = run.pok.ask("created_at")  # POK's id -> when POK created it
    shown = set(
        PokCertificate.objects.exclude(pok_credential_id=None).values_list("pok_credential_id", flat=True)
    )
    calls = run.pok.ask("calls")
    print(f"== {run.name}")
    for note in run.notes:
        print(note)
    print(f"rows per state: {format_counts(run.states())}")
    held = set(created_at)
    print(
        f"POK holds {len(held)} credentials, the rows show {len(held & shown)}: {len(held - shown)} paid "
        f"for and never shown; duplicates in POK: {len(run.pok.ask('duplicates'))}"
    )
    print(
        f"POK calls per learner: {calls.get('POST credential', 0) / learners:.2f} POST, "
        f"{calls.get('GET credential', 0) / learners:.2f} status GETs"
    )
    pok_done = (
        max((_epoch(created) for created in created_at.values()), default=fault.at) + run.options.emit_after
    )
    pok_line = f"POK had emitted the last {pok_done - fault.at:.1f} s after {fault.moment}"
    if emitted_at is None:
        print(
            f"all emitted: not within the limit ({run.options.limit:g} s after {fault.last[1]}); {pok_line}"
        )
    else:
        since_end = (
            ""
            if fault.ended_at is None
            else f", {emitted_at - fault.ended_at:.1f} s after {fault.end_moment}"
        )
        print(f"all emitted {emitted_at - fault.at:.1f} s after {fault.moment}{since_end}; {pok_line}")
    for line in run.broker_lines():
        print(line)
    failures = run.task_failures()
    print(
        f"tasks the workers dropped on an exception: {len(failures)}"
        + (f", e.g. {failures[0]}" if failures else "")
    )
    sys.stdout.flush()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# -- setup and teardown -----------------------------------------------------------------------------


def missing_requirement(options) -> str | None:
    """Why the bench cannot run here, or None."""
    for module, package in (("MySQLdb", "mysqlclient"), ("redis", "redis")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (the environment `make test DB=mysql` builds has it)"
    import MySQLdb
    import redis

    import tests.settings as host_settings

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=options.redis_db, socket_timeout=5).ping()
    except redis.RedisError as error:
        return f"no Redis on {REDIS_HOST}:{REDIS_PORT} ({error})"
    server = host_settings.mariadb_database("")
    try:
        MySQLdb.connect(
            host=server["HOST"], port=int(server["PORT"]), user=server["USER"], password=server["PASSWORD"]
        ).close()
    except MySQLdb.Error as error:
        return f"no MariaDB on {server['HOST']}:{server['PORT']} ({error})"
    return None


def set_up_web_process(options) -> dict:
    """This process plays the platform's web process: a scratch database (dropped on exit), migrated."""
    import tests.settings as host_settings

    logging.getLogger("openedx_pok").setLevel(logging.ERROR)
    configure_host(
        host_settings,
        broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{options.redis_db}",
        pok_url="http://127.0.0.1:9/",  # each run's POK replaces it
        overrides=options.settings,
    )
    set_up_shared_database(host_settings, "", script="bench/recovery.py", engine="mysql")
    from django.conf import settings

    return settings.DATABASES["default"]


def _setting(value: str) -> tuple[str, object]:
    name, separator, raw = value.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument(
        "--limit",
        type=float,
        default=90.0,
        help="seconds a scenario waits for every row to be emitted after its fault (after the end of "
        "a lasting one) before it reports (default 90)",
    )
    parser.add_argument(
        "--emit-after", type=float, default=10.0, help="seconds POK takes to emit a credential (default 10)"
    )
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--workers", type=int, default=2, help="`celery worker` processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes per worker (default 2)")
    parser.add_argument(
        "--outage", type=float, default=30.0, help="seconds the database refuses (default 30)"
    )
    parser.add_argument(
        "--kill-interval", type=float, default=10.0, help="seconds between the kills (default 10)"
    )
    parser.add_argument(
        "--broker-loss",
        choices=["restart", "restart-workers", "flush"],
        default="restart",
        help="restart: Redis flushed and the workers' connections cut (default); restart-workers: the "
        "workers restarted too; flush: Redis flushed only",
    )
    parser.add_argument(
        "--setting",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Django setting for the web process and the workers (VALUE read as JSON when it is)",
    )
    parser.add_argument("--redis-db", type=int, default=13, help="the bench's Redis database (default 13)")
    parser.add_argument(
        "--logs", type=Path, help="keep the workers' logs in DIR (default: a temporary directory)"
    )
    parser.add_argument("--worker-config", help=argparse.SUPPRESS)  # the bench starting a worker
    options = parser.parse_args()
    options.settings = dict(options.settings)
    return options


def _exit_on_sigterm(signum, frame) -> None:
    sys.exit(128 + signum)  # unwinds like Ctrl-C: every process and database is cleaned up


def main() -> int:
    options = parse_options()
    if options.worker_config:
        serve_as_worker(json.loads(options.worker_config))
        return 0
    reason = missing_requirement(options)
    if reason:
        print(f"bench/recovery.py skipped: {reason}")
        return 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        run_bench(options)
    except KeyboardInterrupt:
        print("interrupted: the workers, POK, the scratch database and Redis are cleaned up", file=sys.stderr)
        return 130
    return 0


def run_bench(options) -> None:
    import redis

    with contextlib.ExitStack() as cleanup:
        bench_redis = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=options.redis_db)
        bench_redis.flushdb()
        cleanup.callback(bench_redis.flushdb)
        database = set_up_web_process(options)  # its scratch database is dropped at exit
        if options.logs:
            options.logs.mkdir(parents=True, exist_ok=True)
        log_directory = options.logs or Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        bench = Bench(options, database, log_directory)
        cleanup.callback(bench.close)
        print(
            f"{options.learners} learners pass a course; {options.workers} `celery worker` processes "
            f"(prefork, {options.concurrency} each) on Redis database {options.redis_db} and MariaDB; "
            f"no Celery beat; POK emits {options.emit_after:g} s after creating a credential; "
            f"each scenario gives up {options.limit:g} s after its fault"
            + (f"; settings: {options.settings}" if options.settings else "")
        )
        for name in options.scenario:
            run_scenario(bench, name)


if __name__ == "__main__":
    sys.exit(main())
