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


def create_python_course():
    """Example University's Python 101, with an active certificate configuration; returns its key."""
    from opaque_keys.edx.keys import CourseKey
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
    from organizations.api import add_organization, add_organization_course

    course_key = CourseKey.from_string("course-v1:ExampleX+PY101+2026")
    CourseOverview.objects.create(
        id=course_key,
        display_name="Python 101",
        org="ExampleX",
        display_org_with_default="ExampleX",
        display_number_with_default="PY101",
        language="en",
        certificates={
            "certificates": [{"id": 1, "is_active": True, "course_title": "Introduction to Python"}]
        },
    )
    organization = add_organization({"name": "Example University", "short_name": "ExampleX"})
    add_organization_course(organization, course_key)
    return course_key
