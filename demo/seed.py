"""
The demo's data: organisations, courses with Studio certificate configurations, learners with
names that break naive code, a staff user, POK switched on, and the POK templates.

Everything goes through the platform stand-ins' own models and APIs, the way the test suite's
fixtures set the platform up. Running it twice changes nothing.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from opaque_keys.edx.keys import CourseKey

from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME

STAFF_USERNAME = "staff"
STAFF_PASSWORD = "staff"
LEARNER_PASSWORD = "demo"

DEFAULT_TEMPLATE_ID = "demo-default-template"
ORGANIZATION_TEMPLATE_ID = "demo-university-template"
COURSE_TEMPLATE_ID = "demo-python-template"
LANDING_PAGE_ID = "demo-landing-page"
# River Institute pays with its own POK account (demo.settings: POK_ACCOUNTS, POK_ORGANIZATION_ACCOUNTS).
RIVER_ACCOUNT_KEY = "demo-river-key"
RIVER_TEMPLATE_ID = "river-arts-template"


@dataclass(frozen=True)
class PokTemplateSeed:
    template_id: str
    name: str
    parameters: tuple[tuple[str, str], ...] = ()
    look: str = "classic"  # how the fake POK draws it (openedx_pok.testing.images.LOOKS)


# Registered in the fake POK at every start (it keeps nothing between runs). The custom parameters
# get their values through POK_CUSTOM_PARAMETER_SOURCES in demo.settings.
POK_TEMPLATES = (
    PokTemplateSeed(DEFAULT_TEMPLATE_ID, "Demo Academy certificate", look="classic"),
    PokTemplateSeed(
        ORGANIZATION_TEMPLATE_ID,
        "Demo University certificate",
        (("final-grade", "Final grade"),),
        look="academic",
    ),
    PokTemplateSeed(
        COURSE_TEMPLATE_ID,
        "Introduction to Python certificate",
        (("final-grade", "Final grade"), ("lead-signatory", "Signed by"), ("course-code", "Course code")),
        look="modern",
    ),
)


@dataclass(frozen=True)
class LearnerSeed:
    username: str
    full_name: str
    language: str = ""


LEARNERS = (
    LearnerSeed("jose", "José Ñúñez", "es"),
    LearnerSeed("madonna", "Madonna"),
    LearnerSeed("ana", "García, Ana"),
    LearnerSeed("maryam", "مريم الحسن", "ar"),
)


@dataclass(frozen=True)
class CourseSeed:
    course_id: str
    display_name: str
    organization: str
    certificate_title: str
    signatories: tuple[tuple[str, str], ...]
    language: str = "en"
    template_scope: str = "default"  # "course", "organization" or "default": how its template is chosen
    grade_percent: float = 0.9


ORGANIZATIONS = {"DemoU": "Demo University", "RiverX": "River Institute of the Arts"}

COURSES = (
    CourseSeed(
        "course-v1:DemoU+PY101+2026",
        "Introduction to Python",
        "DemoU",
        "Introduction to Python Programming",
        (("Lucía Fernández", "Dean of Engineering"), ("Kwame Mensah", "Course Lead")),
        template_scope="course",
        grade_percent=0.93,
    ),
    CourseSeed(
        "course-v1:DemoU+DATA201+2026",
        "Data Analysis with Python",
        "DemoU",
        "Data Analysis with Python",
        (("Lucía Fernández", "Dean of Engineering"),),
        template_scope="organization",
        grade_percent=0.81,
    ),
    CourseSeed(
        "course-v1:RiverX+ART110+2026",
        "Historia del arte contemporáneo",
        "RiverX",
        "Historia del arte contemporáneo",
        (("Søren Østergaard", "Director"),),
        language="es",
        grade_percent=0.775,
    ),
)


def register_pok_templates(fake_pok) -> None:
    """Declare the demo's two POK accounts, their templates and the landing page in the fake POK server."""
    for template in POK_TEMPLATES:
        fake_pok.add_template(
            template.template_id, name=template.name, parameters=template.parameters, look=template.look
        )
    fake_pok.add_page(LANDING_PAGE_ID, "Demo landing page")
    fake_pok.add_account(RIVER_ACCOUNT_KEY, organization_name="River Institute of the Arts", credits=500)
    fake_pok.add_template(
        RIVER_TEMPLATE_ID, name="River Institute certificate", look="ribbon", api_key=RIVER_ACCOUNT_KEY
    )


@transaction.atomic
def seed() -> None:
    for short_name, name in ORGANIZATIONS.items():
        _organization(short_name, name)
    for course in COURSES:
        _course(course)
    _switch_pok_on()
    _templates()
    _staff()
    for learner in LEARNERS:
        _learner(learner)


def course_seed(course_key) -> CourseSeed:
    return next(course for course in COURSES if course.course_id == str(course_key))


def _organization(short_name: str, name: str) -> None:
    from organizations.api import add_organization

    add_organization({"short_name": short_name, "name": name})


def _course(course: CourseSeed) -> None:
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
    from organizations.api import add_organization_course

    course_key = CourseKey.from_string(course.course_id)
    organization_name = ORGANIZATIONS[course.organization]
    active_configuration = {
        "id": 2,
        "name": "Certificate",
        "is_active": True,
        "course_title": course.certificate_title,
        "signatories": [
            {"id": number, "name": name, "title": title, "organization": organization_name}
            for number, (name, title) in enumerate(course.signatories, start=1)
        ],
        "version": 1,
    }
    # Studio keeps old configurations around; only the active one describes the certificate.
    retired_configuration = {**active_configuration, "id": 1, "is_active": False, "course_title": "Draft"}
    CourseOverview.objects.update_or_create(
        id=course_key,
        defaults={
            "display_name": course.display_name,
            "org": course_key.org,
            "display_org_with_default": course_key.org,
            "display_number_with_default": course_key.course,
            "language": course.language,
            "certificates": {"certificates": [retired_configuration, active_configuration]},
        },
    )
    add_organization_course({"short_name": course.organization}, course_key)


def _switch_pok_on() -> None:
    """DemoU switches POK on for the whole organisation, RiverX for one course: both operator paths."""
    from openedx.core.djangoapps.waffle_utils.models import (
        WaffleFlagCourseOverrideModel,
        WaffleFlagOrgOverrideModel,
    )

    WaffleFlagOrgOverrideModel.objects.get_or_create(
        waffle_flag=COURSE_WAFFLE_FLAG_NAME, org="DemoU", defaults={"override_choice": "on"}
    )
    WaffleFlagCourseOverrideModel.objects.get_or_create(
        waffle_flag=COURSE_WAFFLE_FLAG_NAME,
        course_id=CourseKey.from_string("course-v1:RiverX+ART110+2026"),
        defaults={"override_choice": "on"},
    )


def _templates() -> None:
    from openedx_pok.models import CertificateTemplate

    CertificateTemplate.objects.update_or_create(
        course_key=CourseKey.from_string("course-v1:DemoU+PY101+2026"),
        organization="",
        mode="",
        defaults={"template_id": COURSE_TEMPLATE_ID, "page_id": LANDING_PAGE_ID},
    )
    if not CertificateTemplate.objects.filter(organization="DemoU", mode="").exists():
        CertificateTemplate.objects.create(organization="DemoU", template_id=ORGANIZATION_TEMPLATE_ID)


def _staff() -> None:
    from common.djangoapps.student.models import UserProfile

    staff, created = get_user_model().objects.get_or_create(
        username=STAFF_USERNAME,
        defaults={"email": "staff@example.com", "is_staff": True, "is_superuser": True},
    )
    if created:
        staff.set_password(STAFF_PASSWORD)
        staff.save()
    UserProfile.objects.get_or_create(user=staff, defaults={"name": "Demo Staff"})


def _learner(learner: LearnerSeed) -> None:
    from common.djangoapps.student.models import UserProfile
    from openedx.core.djangoapps.user_api.preferences.api import set_user_preference

    user, created = get_user_model().objects.get_or_create(
        username=learner.username, defaults={"email": f"{learner.username}@example.com"}
    )
    if created:
        user.set_password(LEARNER_PASSWORD)
        user.save()
    UserProfile.objects.update_or_create(user=user, defaults={"name": learner.full_name})
    if learner.language:
        set_user_preference(user, "pref-lang", learner.language)
