"""
Render benchmark: views of an emitted certificate through the platform's certificate page (the
web view stand-in running the real CertificateRenderStarted pipeline), with the fake POK server
answering in 300 ms. Prints the median and 95th percentile time per view, the POK calls per view,
and one POK round trip for comparison (what every view would add if the page asked POK).

    .venv-django5.2/bin/python bench/render.py [--views 500] [--latency 0.3]
"""

import argparse
import logging
import os
import statistics
import sys
import time

import django
from _common import create_python_course  # importing _common also sets the path and settings


class CollectedTasks:
    """Celery tasks queued by the code, run here in order instead of going through a broker."""

    def __init__(self):
        self.sent = []

    def apply_async(self, task, args=None, kwargs=None, **options):
        self.sent.append((task, tuple(args or ()), dict(kwargs or {})))

    def run(self):
        while self.sent:
            task, args, kwargs = self.sent.pop(0)
            task(*args, **kwargs)


def issue_one_certificate(server, tasks):
    """A learner passes; the real creation step, issuing task and status sync make the credential emitted."""
    from common.djangoapps.student.models import UserProfile
    from django.contrib.auth import get_user_model
    from lms.djangoapps.certificates.generation_handler import _generate_certificate_task

    from openedx_pok.models import PokCertificate
    from openedx_pok.services.issuing import status, sweep

    course_key = create_python_course()
    learner = get_user_model().objects.create_user(username="ana", email="ana@example.com", password=None)
    UserProfile.objects.create(user=learner, name="Ana García")
    grade = type("CourseGrade", (), {"percent": 0.91, "letter_grade": "Pass", "passed": True})()

    certificate = _generate_certificate_task(learner, course_key, "verified", grade)
    tasks.run()
    server.emit_all()
    PokCertificate.objects.update(next_attempt_at=None)
    sweep.sync_statuses()
    credential = PokCertificate.objects.get(user=learner, course_key=course_key)
    if not credential.image_url:
        status.refresh_image(credential)
    credential.refresh_from_db()
    assert credential.state == "emitted", credential.state
    return certificate, credential


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--views", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds POK takes to answer")
    options = parser.parse_args()

    import tests.settings as host_settings

    # openedx-filters logs every render exception with its traceback, as in LMS: written, but not shown.
    logging.basicConfig(level=logging.WARNING, stream=open(os.devnull, "w"))  # noqa: SIM115

    host_settings.POK_ENABLED_FOR_ALL_COURSES = True
    django.setup()

    from celery.app.task import Task
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from openedx_pok import client as pok_client
    from openedx_pok.testing import FakePokServer

    call_command("migrate", verbosity=0)
    tasks = CollectedTasks()
    Task.apply_async = lambda task, args=None, kwargs=None, **opts: tasks.apply_async(
        task, args, kwargs, **opts
    )

    with FakePokServer(api_key="bench-key", emit_after=None) as server:
        server.add_template("default-template", name="Default template")
        settings.POK_API_URL, settings.POK_API_KEY = server.url, server.api_key
        certificate, credential = issue_one_certificate(server, tasks)
        server.latency = options.latency

        round_trips = []
        for _ in range(5):
            started = time.perf_counter()
            pok_client.get_client().get_credential(credential.pok_credential_id)
            round_trips.append(time.perf_counter() - started)

        browser = Client()
        url = f"/certificates/{certificate.verify_uuid}"
        for _ in range(10):
            browser.get(url)
        server.reset()
        durations = []
        for _ in range(options.views):
            started = time.perf_counter()
            response = browser.get(url)
            durations.append(time.perf_counter() - started)
            assert response.status_code == 200
            assert b"View and verify on POK" in response.content
        calls = sum(server.calls.values())

    median = statistics.median(durations) * 1000
    p95 = statistics.quantiles(durations, n=20)[-1] * 1000
    round_trip = statistics.median(round_trips) * 1000
    print(f"views of an emitted certificate:  {options.views}")
    print(f"median time per view:            {median:.2f} ms (p95 {p95:.2f} ms)")
    print(f"POK calls per view:               {calls / options.views:g} ({calls} in total)")
    print(f"one POK round trip:               {round_trip:.0f} ms (POK answers in {options.latency:g} s)")
    print(f"a view that called POK once:      about {median + round_trip:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
