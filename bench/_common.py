"""
What the benchmarks share. Importing this module puts the repository and the Open edX stand-ins on
the path and selects the test host's settings, as ``make test`` does; each script adjusts those
settings and calls ``django.setup()`` itself.
"""

import os
import sys
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


def create_python_course():
    """Example University's Python 101, the course the creation and render benchmarks time."""
    return create_course(
        "course-v1:ExampleX+PY101+2026",
        display_name="Python 101",
        course_title="Introduction to Python",
        organization_name="Example University",
    )
