"""
The named values a credential is described with: its title, its emitter and every value a POK
template's custom parameter can be filled from, and the rule that fills them.

The names are declared here once (:data:`SOURCE_NAMES`; docs/templates.md lists the same, and a
test keeps the two equal). Every caller passes the values explicitly, and they all fill parameters
with :func:`fill_custom_parameters`: issuing with a learner's own values, Studio's preview and
``pok_check`` with a course's values and placeholders for the learner's, the admin's template
check and the system check with placeholders for all.
"""

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from openedx_pok import platform_adapter
from openedx_pok.conf import setting

# Studio lets a course team add at most four signatories to a certificate.
MAX_SIGNATORIES = 4
SIGNATORY_PARTS = ("name", "title", "organization")

# Values that come from the learner (and the moment of issuing), whichever course they are in.
LEARNER_SOURCES = ("learner_name", "username", "grade", "letter_grade", "mode", "issue_date")
# Values that come from the course, the same for each of its learners.
COURSE_SOURCES = (
    "course_title",
    "course_name",
    "course_number",
    "course_id",
    "organization",
    "platform_name",
    *(f"signatory_{part}" for part in SIGNATORY_PARTS),
    *(f"signatory_{number}_{part}" for number in range(1, MAX_SIGNATORIES + 1) for part in SIGNATORY_PARTS),
)
SOURCE_NAMES = frozenset(LEARNER_SOURCES + COURSE_SOURCES)

# Names the existing POK plugin's templates use for sources named otherwise here (its other labels,
# grade and signatory_name/title/organization, are source names already).
SOURCE_ALIASES = {"platform": "platform_name"}

# How every message of UnfilledParameter begins: services/issuing/unfilled_parameters.py finds them by it.
UNFILLED_PARAMETER = "template parameter "


class UnfilledParameter(Exception):
    """A template parameter no value fills; the message names it and says what the operator can do."""


def course_values(course: platform_adapter.CourseDetails) -> dict[str, str]:
    """
    The values a course gives every credential of its learners. A signatory the course does not
    have has no value at all: a parameter that needs one is unfilled, before any learner needs it.
    """
    configuration = course.certificate_configuration
    signatories = (configuration.signatories if configuration else ())[:MAX_SIGNATORIES]
    first = signatories[0] if signatories else platform_adapter.Signatory()
    values = {
        "course_title": certificate_title(course),
        "course_name": course.display_name,
        "course_number": course.number,
        "course_id": str(course.course_key),
        "organization": organization_name(course),
        "platform_name": platform_adapter.get_platform_name(),
        **{f"signatory_{part}": getattr(first, part) for part in SIGNATORY_PARTS},
    }
    for number, signatory in enumerate(signatories, start=1):
        values.update({f"signatory_{number}_{part}": getattr(signatory, part) for part in SIGNATORY_PARTS})
    return _as_text(values)


def learner_values(*, learner_name, username, grade, letter_grade, mode, issue_date) -> dict[str, str]:
    """The values a learner's credential gives, on top of their course's (Studio's preview: placeholders)."""
    return _as_text(
        {
            "learner_name": learner_name,
            "username": username,
            "grade": grade,
            "letter_grade": letter_grade,
            "mode": mode,
            "issue_date": issue_date,
        }
    )


def _as_text(values: dict) -> dict[str, str]:
    return {name: str(value or "") for name, value in values.items()}


def certificate_title(course: platform_adapter.CourseDetails) -> str:
    """The title of the course's active Studio certificate configuration, else the course's name."""
    configuration = course.certificate_configuration
    return (configuration.course_title if configuration else "") or course.display_name


def organization_name(course: platform_adapter.CourseDetails) -> str:
    """
    The display organisation when the course team set one (it then differs from the org code),
    else the organisation's long name from the organisations API, else the org code.
    """
    if course.display_organization and course.display_organization != course.org:
        return course.display_organization
    return (
        platform_adapter.get_organization_name(course.course_key) or course.display_organization or course.org
    )


def grade_string(grade_percent: Decimal | None) -> str:
    """88.5 -> "89": a whole percentage, rounded half up, as certificates print it."""
    if grade_percent is None:
        return ""
    return str(Decimal(grade_percent).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def format_issue_date(moment: datetime, pok_date_format: str) -> str:
    """Format a date with POK's own pattern (``dd/MM/yyyy`` or ``MM/dd/yyyy``)."""
    python_format = pok_date_format.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
    return moment.strftime(python_format)


# -- filling a template's parameters ---------------------------------------------------------------


def _source_key(text: str) -> str:
    """'Course Title', 'course-title' and 'course_title' all name the same source; aliases their source."""
    key = re.sub(r"[^0-9a-z]+", "_", (text or "").lower()).strip("_")
    return SOURCE_ALIASES.get(key, key)


def source_name_for(parameter, available_sources) -> str | None:
    """
    The value source that fills a template parameter: the operator's POK_CUSTOM_PARAMETER_SOURCES
    mapping first, then a source named like the parameter's id or label (or their alias).
    """
    mapping = setting("POK_CUSTOM_PARAMETER_SOURCES") or {}
    if parameter.id in mapping:
        return mapping[parameter.id]
    return next(
        (
            _source_key(candidate)
            for candidate in (parameter.id, parameter.label)
            if _source_key(candidate) in available_sources
        ),
        None,
    )


def fill_custom_parameters(parameters, values: dict[str, str]) -> dict[str, str]:
    """Values for every parameter the template declares, keyed by parameter id; raises UnfilledParameter."""
    filled = {}
    for parameter in parameters:
        source_name = source_name_for(parameter, values)
        described = f"{UNFILLED_PARAMETER}{parameter.id!r} ({parameter.label or 'no label'})"
        if source_name is None:
            raise UnfilledParameter(
                f"{described} has no value source; map it in POK_CUSTOM_PARAMETER_SOURCES"
            )
        if source_name not in values:
            raise UnfilledParameter(f"{described} is mapped to the unknown source {source_name!r}")
        value = values[source_name]
        if not value:
            raise UnfilledParameter(f"{described} would be empty: source {source_name!r} has no value")
        filled[parameter.id] = value
    return filled


def parameter_problems(parameters) -> list[str]:
    """Why each parameter cannot be filled in any course: no source, or an unknown one."""
    return _problems(parameters, dict.fromkeys(SOURCE_NAMES, "value"))


def course_parameter_problems(parameters, course: platform_adapter.CourseDetails) -> list[str]:
    """Why parameters would be empty for every learner of ``course``: a signatory missing in Studio, say."""
    return _problems(parameters, {**course_values(course), **dict.fromkeys(LEARNER_SOURCES, "value")})


def _problems(parameters, values: dict[str, str]) -> list[str]:
    problems = []
    for parameter in parameters:
        try:
            fill_custom_parameters([parameter], values)
        except UnfilledParameter as error:
            problems.append(str(error))
    return problems
