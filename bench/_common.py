"""
What the benchmarks share. Importing this module puts the repository and the Open edX stand-ins on
the path and selects the test host's settings, as ``make test`` does; each script adjusts those
settings and calls ``django.setup()`` itself.
"""

import atexit
import heapq
import itertools
import multiprocessing
import os
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform_stand_ins")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def create_course(course_id: str, *, display_name: str, course_title: str, organization_name: str = ""):
    """A course with an active certificate configuration, and its organisation when named; returns its key."""
    from opaque_keys.edx.keys import CourseKey
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
    from organizations.api import add_organization, add_organization_course

    course_key = CourseKey.from_string(course_id)
    CourseOverview.objects.create(
        id=course_key,
        display_name=display_name,
        org=course_key.org,
        display_org_with_default=course_key.org,
        display_number_with_default=course_key.course,
        language="en",
        certificates={"certificates": [{"id": 1, "is_active": True, "course_title": course_title}]},
    )
    if organization_name:
        organization = add_organization({"name": organization_name, "short_name": course_key.org})
        add_organization_course(organization, course_key)
    return course_key


def create_certified_learners(course_key, count: int) -> list:
    """
    ``count`` learners with a profile and the downloadable certificate the platform made for them,
    created in bulk; returns their (user, certificate) pairs.
    """
    from common.djangoapps.student.models import UserProfile
    from django.contrib.auth import get_user_model
    from lms.djangoapps.certificates.models import GeneratedCertificate

    user_model = get_user_model()
    prefix = f"{course_key.course}-learner"
    users = user_model.objects.bulk_create(
        [
            user_model(username=f"{prefix}{number}", email=f"{prefix}{number}@example.com")
            for number in range(count)
        ],
        batch_size=500,
    )
    UserProfile.objects.bulk_create(
        [UserProfile(user=user, name=f"Learner Number{user.pk}") for user in users], batch_size=500
    )
    certificates = GeneratedCertificate.objects.bulk_create(
        [
            GeneratedCertificate(
                user=user,
                course_id=course_key,
                status="downloadable",
                mode="verified",
                grade="0.91",
                verify_uuid=GeneratedCertificate.new_verify_uuid(),
            )
            for user in users
        ],
        batch_size=500,
    )
    return list(zip(users, certificates, strict=True))


def pass_learners(course_key, learners) -> None:
    """Each learner passes: the platform's creation filter, called as its grades worker calls it."""
    from openedx_filters.learning.filters import CertificateCreationRequested

    for user, _certificate in learners:
        CertificateCreationRequested.run_filter(
            user=user,
            course_key=course_key,
            mode="verified",
            status=None,
            grade=None,
            generation_mode="batch",
        )


def create_python_course():
    """Example University's Python 101, the course the creation and render benchmarks time."""
    return create_course(
        "course-v1:ExampleX+PY101+2026",
        display_name="Python 101",
        course_title="Introduction to Python",
        organization_name="Example University",
    )


# -- the fake POK, in its own process ---------------------------------------------------------------

TEMPLATE_ID = "default-template"
API_KEY = "bench-key"
STATUS_PATH = re.compile(r"^/credential/[^/?]+/?$")


def serve_fake_pok(connection, emit_after, latency: float, rate: float | None, credits: int) -> None:
    """Child process: run the fake POK and answer the parent's questions about it until told to stop."""
    from openedx_pok.testing import FakePokServer

    with FakePokServer(api_key=API_KEY, emit_after=emit_after, credits=credits) as server:
        server.add_template(TEMPLATE_ID, name="Bench template")
        server.latency = latency
        if rate:
            server.rate_limit(rate)
        connection.send(server.url)
        questions = {
            "calls": lambda: dict(server.calls),
            "created": lambda: credits - server.credits,
            "duplicates": server.duplicates,
            "created_at": lambda: {key: value["createdAt"] for key, value in server.credentials.items()},
            "checks_per_credential": lambda: Counter(
                path.rstrip("/").rsplit("/", 1)[-1]
                for method, path, _headers in server.received
                if method == "GET" and STATUS_PATH.match(path)
            ),
        }
        while (question := connection.recv()) != "stop":
            connection.send(questions[question]())


class RemoteFakePok:
    """
    The fake POK in a process of its own, as POK would be: its memory and CPU are not counted as
    the plugin's, and its clock (when it emits) runs whatever the benchmark's threads do.
    """

    def __init__(self, *, emit_after, latency: float = 0.0, rate: float | None = None, credits: int = 10**6):
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self._process = context.Process(
            target=serve_fake_pok, args=(child_end, emit_after, latency, rate, credits)
        )
        self._process.start()
        self.url = self._connection.recv()

    def ask(self, question: str):
        self._connection.send(question)
        return self._connection.recv()

    def stop(self) -> None:
        self._connection.send("stop")
        self._process.join()


# -- the in-process broker and workers --------------------------------------------------------------


class InProcessBroker:
    """Tasks queued with ``apply_async`` wait here until their countdown has passed."""

    def __init__(self):
        self._heap = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._busy = 0
        self.sent = 0
        self.closed = False

    def install(self) -> None:
        """Every Celery task queued from now on comes here instead of going to a broker."""
        from celery.app.task import Task

        Task.apply_async = lambda task, args=None, kwargs=None, **task_options: self.apply_async(
            task, args, kwargs, **task_options
        )

    def apply_async(self, task, args=None, kwargs=None, countdown=None, **options):
        due = time.monotonic() + (countdown or 0)
        with self._condition:
            heapq.heappush(
                self._heap, (due, next(self._sequence), task, tuple(args or ()), dict(kwargs or {}))
            )
            self.sent += 1
            self._condition.notify()

    def take(self):
        """The next due task, waiting for it; None once the broker is closed."""
        with self._condition:
            while not self.closed:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(self._heap)[2:]
                timeout = (self._heap[0][0] - time.monotonic()) if self._heap else None
                self._condition.wait(timeout)
            return None

    def done(self) -> None:
        with self._condition:
            self._busy -= 1
            self._condition.notify_all()

    def waiting(self) -> tuple[int, int]:
        """(tasks due now or running, tasks waiting for their countdown)."""
        with self._condition:
            now = time.monotonic()
            due = sum(1 for entry in self._heap if entry[0] <= now)
            return due + self._busy, len(self._heap) - due

    def idle(self) -> bool:
        with self._condition:
            return not self._heap and self._busy == 0

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()


def work(broker: InProcessBroker, errors: list) -> None:
    """A worker thread: run due tasks until the broker closes; crashes are collected, not raised."""
    from django.db import connection

    while (item := broker.take()) is not None:
        task, args, kwargs = item
        try:
            task(*args, **kwargs)
        except Exception as error:  # noqa: BLE001  (a benchmark reports task crashes, it does not stop)
            errors.append(repr(error))
        finally:
            broker.done()
    connection.close()


def start_workers(broker: InProcessBroker, count: int, errors: list) -> list[threading.Thread]:
    workers = [
        threading.Thread(target=work, args=(broker, errors), name=f"worker-{number}", daemon=True)
        for number in range(count)
    ]
    for thread in workers:
        thread.start()
    return workers


# -- a database the worker threads share ------------------------------------------------------------


DATABASE_CHOICES = ("sqlite", "mysql")


def add_database_option(parser) -> None:
    parser.add_argument(
        "--database",
        choices=DATABASE_CHOICES,
        default="sqlite",
        help="a SQLite file (default), or MariaDB on 127.0.0.1:3306 (or DB_HOST, DB_PORT...) as a Tutor "
        "platform has it (needs mysqlclient: the environment `make test DB=mysql` builds)",
    )


def set_up_shared_database(host_settings, database_path: str, *, script: str, engine: str = "sqlite") -> None:
    """
    Point the test host at a database several threads write to, set Django up and migrate.

    On SQLite, IMMEDIATE transactions take the write lock up front: concurrent workers queue for it
    instead of failing with "database is locked" when a read transaction starts writing, and take
    their turn as soon as it comes (``queue_writers_in_turn``). MariaDB locks rows instead of the
    whole database, as a production platform's database does.
    """
    import django

    if django.VERSION < (5, 1):
        sys.exit(f"{script} needs Django 5.1 or later: run it with .venv-django5.2/bin/python")
    if engine == "mysql":
        host_settings.DATABASES = {"default": _scratch_mariadb_database(host_settings)}
    else:
        host_settings.DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": database_path,
                "OPTIONS": {"timeout": 60, "transaction_mode": "IMMEDIATE"},
            }
        }
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created

    if engine == "sqlite":
        connection_created.connect(skip_disk_flushes)
        connection_created.connect(queue_writers_in_turn)
    call_command("migrate", verbosity=0)
    if engine == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer


def _scratch_mariadb_database(host_settings) -> dict:
    """A database of its own on the MySQL lane's server, dropped when the benchmark ends."""
    import MySQLdb

    database = host_settings.mariadb_database(f"pok_bench_{os.getpid()}")

    def run(statement: str) -> None:
        server = MySQLdb.connect(
            host=database["HOST"],
            port=int(database["PORT"]),
            user=database["USER"],
            password=database["PASSWORD"],
        )
        try:
            server.cursor().execute(statement)
        finally:
            server.close()

    run(f"CREATE DATABASE `{database['NAME']}` CHARACTER SET utf8mb4")
    atexit.register(run, f"DROP DATABASE IF EXISTS `{database['NAME']}`")
    return database


def skip_disk_flushes(sender, connection, **kwargs):
    """
    Commit without waiting for the disk (WAL, synchronous=NORMAL): on SQLite every commit would
    otherwise wait for an fsync, and the benchmark would measure this machine's disk instead of the
    plugin. A production database commits concurrently.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=NORMAL")


# One writer at a time, as SQLite allows, but handed over at once: SQLite's own busy handler makes
# a writer that finds the lock taken sleep (up to 100 ms a try), which with a few workers would
# measure SQLite's back-off instead of the plugin.
_SQLITE_WRITE_TURN = threading.RLock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def queue_writers_in_turn(sender, connection, **kwargs):
    if getattr(connection, "_writers_in_turn", False):  # a reconnection of a wrapper already set
        return
    connection._writers_in_turn = True
    begin, commit, rollback = (
        connection._start_transaction_under_autocommit,
        connection._commit,
        connection._rollback,
    )

    def start_transaction():
        _SQLITE_WRITE_TURN.acquire()
        try:
            begin()
        except BaseException:
            _SQLITE_WRITE_TURN.release()
            raise
        connection._holds_write_turn = True

    def ended(end):
        def end_transaction():
            try:
                return end()
            finally:
                if getattr(connection, "_holds_write_turn", False):
                    connection._holds_write_turn = False
                    _SQLITE_WRITE_TURN.release()

        return end_transaction

    def write_in_turn(execute, sql, params, many, context):
        if connection.in_atomic_block or not sql.lstrip()[:7].upper().startswith(_WRITES):
            return execute(sql, params, many, context)
        with _SQLITE_WRITE_TURN:
            return execute(sql, params, many, context)

    connection._start_transaction_under_autocommit = start_transaction
    connection._commit, connection._rollback = ended(commit), ended(rollback)
    connection.execute_wrappers.append(write_in_turn)
