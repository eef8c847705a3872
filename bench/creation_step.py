"""
Creation step benchmark: what POK issuing adds to the platform's certificate code path.

Runs the real CertificateCreationRequested pipeline for N learners of a course switched on with the
course waffle flag, with the fake POK server answering in 300 ms. The issuing task is really sent
to a Celery broker (in memory by default, ``--broker redis://127.0.0.1:6379/9`` for Redis), so the
figures include queueing it. Prints the median and 95th percentile wall time inside run_filter, the
POK calls made while the steps ran, and how many times longer one synchronous POST takes.

    .venv-django5.2/bin/python bench/creation_step.py [--learners 200] [--latency 0.3] [--broker URL]
"""

import argparse
import logging
import statistics
import sys
import time
from types import SimpleNamespace

import django
from _common import create_python_course  # importing _common also sets the path and settings


def make_course_and_learners(count):
    from common.djangoapps.student.models import UserProfile
    from django.contrib.auth import get_user_model
    from openedx.core.djangoapps.waffle_utils.models import WaffleFlagCourseOverrideModel

    from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME

    course_key = create_python_course()
    WaffleFlagCourseOverrideModel.objects.create(
        waffle_flag=COURSE_WAFFLE_FLAG_NAME, course_id=course_key, override_choice="on"
    )
    learners = []
    for number in range(count):
        learner = get_user_model().objects.create_user(
            username=f"learner{number}", email=f"learner{number}@example.com", password=None
        )
        UserProfile.objects.create(user=learner, name=f"Learner Number{number}")
        learners.append(learner)
    return course_key, learners


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds POK takes to answer")
    parser.add_argument("--broker", default="memory://", help="Celery broker the issuing task is sent to")
    options = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    django.setup()

    from celery import Celery
    from django.conf import settings
    from django.core.management import call_command
    from openedx_filters.learning.filters import CertificateCreationRequested

    from openedx_pok import client as pok_client
    from openedx_pok.models import PokCertificate
    from openedx_pok.testing import FakePokServer

    call_command("migrate", verbosity=0)
    broker = Celery("openedx_pok_bench", broker=options.broker)
    broker.conf.task_default_queue = "openedx-pok-bench"
    broker.set_current()
    course_key, learners = make_course_and_learners(options.learners + 10)

    with FakePokServer(api_key="bench-key", emit_after=None) as server:
        server.add_template("default-template", name="Default template")
        settings.POK_API_URL, settings.POK_API_KEY = server.url, server.api_key

        def request(learner):
            grade = SimpleNamespace(percent=0.88, letter_grade="Pass", passed=True)
            return CertificateCreationRequested.run_filter(
                user=learner,
                course_key=course_key,
                mode="verified",
                status=None,
                grade=grade,
                generation_mode=None,
            )

        for learner in learners[:10]:  # warm-up: imports, connections, first queries
            request(learner)
        server.reset()
        server.latency = options.latency
        durations = []
        for learner in learners[10:]:
            started = time.perf_counter()
            request(learner)
            durations.append(time.perf_counter() - started)
        calls_during_steps = sum(server.calls.values())
        recorded = PokCertificate.objects.filter(state="pending").count()

        posts = []
        for index in range(5):
            body = {
                "credential": {"tags": [f"StudentId:bench{index}"], "title": "Bench", "emitter": "Bench"},
                "receiver": {
                    "languageTag": "en-US",
                    "identification": f"bench{index}",
                    "email": "bench@example.com",
                    "firstName": "Bench",
                    "lastName": "Mark",
                },
                "customization": {"template": {"id": "default-template", "customParameters": {}}},
            }
            started = time.perf_counter()
            pok_client.get_client().create_credential(body)
            posts.append(time.perf_counter() - started)

    broker.control.purge()  # the queued issuing tasks were only there to be timed
    median = statistics.median(durations) * 1000
    p95 = statistics.quantiles(durations, n=20)[-1] * 1000
    post = statistics.median(posts) * 1000
    print(f"learners through the creation step: {len(durations)} (broker {options.broker})")
    print(f"median time inside run_filter:      {median:.2f} ms (p95 {p95:.2f} ms)")
    print(f"POK calls during the steps:         {calls_during_steps}")
    print(f"credentials recorded and queued:    {recorded} (10 of them while warming up)")
    print(f"one synchronous POST:               {post:.0f} ms (POK answers in {options.latency:g} s)")
    print(f"the POST takes {post / median:.0f} times the median step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
