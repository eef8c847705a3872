"""Stand-in for ``openedx.core.lib.courses``: course blocks as the modulestore would return them."""

from dataclasses import dataclass

from django.http import Http404


@dataclass
class CourseBlock:
    id: object
    display_name: str
    org: str
    display_organization: str
    number: str
    display_number_with_default: str
    language: str
    certificates: dict


def get_course_by_id(course_key, depth=0):
    """Like the platform: the course block, or Http404 when the course does not exist."""
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

    try:
        overview = CourseOverview.get_from_id(course_key)
    except CourseOverview.DoesNotExist as error:
        raise Http404(f"Course not found: {course_key}.") from error
    return CourseBlock(
        id=overview.id,
        display_name=overview.display_name,
        org=overview.org,
        display_organization=overview.display_org_with_default,
        number=course_key.course,
        display_number_with_default=overview.display_number_with_default,
        language=overview.language,
        certificates=overview.certificates,
    )
