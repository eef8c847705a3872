"""
The body of ``POST credential``: what POK needs to issue one learner's credential.

Everything here reads the platform through the adapter and the template definition through its
cache; nothing is sent. Values that cannot be found raise :class:`PayloadError` with a reason an
operator can act on, so the credential fails before a credit is spent on a broken certificate.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from openedx_pok import platform_adapter
from openedx_pok.conf import setting
from openedx_pok.services.template_choice import NoTemplateConfigured, TemplateChoice, choose_template
from openedx_pok.services.template_definitions import get_template_definition

log = logging.getLogger(__name__)


class PayloadError(Exception):
    """The credential cannot be described to POK; the message says what the operator must fix."""


@dataclass(frozen=True)
class Payload:
    body: dict
    template: TemplateChoice
    title: str
    emitter: str
    tags: list[str]
    language_tag: str
    receiver_name: str
    receiver_email: str
    emission_date: datetime
    custom_parameters: dict[str, str] = field(default_factory=dict)


def build_payload(credential) -> Payload:
    """Describe ``credential`` (a PokCertificate) to POK; raises PayloadError or the client's PokError."""
    user = credential.user
    try:
        course = platform_adapter.get_course_details(credential.course_key)
    except platform_adapter.CourseNotFound as error:
        raise PayloadError(f"course {credential.course_key} not found in the platform") from error
    try:
        template = choose_template(credential.course_key, credential.mode)
    except NoTemplateConfigured as error:
        raise PayloadError(str(error)) from error

    emission_date = credential.emission_date or timezone.now()
    emission_date = emission_date.astimezone(UTC)
    full_name = platform_adapter.get_learner_full_name(user)
    if not full_name:
        log.info("POK credential %s: the learner has no profile name; POK gets the username", credential.pk)
    first_name, last_name = split_name(
        full_name,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
    )
    receiver_name = " ".join(part for part in (first_name, last_name) if part)
    emitter = organization_name(course)
    configuration = course.certificate_configuration
    if configuration is None:
        log.info(
            "Course %s has no active certificate configuration; its display name is the title",
            course.course_key,
        )
    title = (configuration.course_title if configuration else "") or course.display_name
    date_format = setting("POK_DATE_FORMAT")
    sources = value_sources(
        credential=credential,
        course=course,
        emitter=emitter,
        title=title,
        learner_name=receiver_name,
        issue_date=format_issue_date(emission_date, date_format),
    )
    definition = get_template_definition(template.template_id)
    custom_parameters = fill_custom_parameters(definition.custom_parameters, sources)
    language_tag = resolve_language_tag(platform_adapter.get_learner_language(user))
    tags = [
        f"StudentId:{user.pk}",
        f"CourseId:{credential.course_key}",
        f"Mode:{credential.mode}",
    ]

    credential_part = {
        "tags": tags,
        "skipAcceptance": bool(setting("POK_SKIP_ACCEPTANCE")),
        "emissionType": template.emission_type,
        "dateFormat": date_format,
        "emissionDate": emission_date.isoformat(),
        "title": title,
        "emitter": emitter,
    }
    customization = {"template": {"id": template.template_id, "customParameters": custom_parameters}}
    if template.page_id:
        customization["page"] = template.page_id
    body = {
        "credential": {key: value for key, value in credential_part.items() if value not in ("", None)},
        "receiver": {
            "languageTag": language_tag,
            "identification": str(user.pk),
            "email": user.email,
            "firstName": first_name,
            "lastName": last_name,
        },
        "customization": customization,
    }
    return Payload(
        body=body,
        template=template,
        title=title,
        emitter=emitter,
        tags=tags,
        language_tag=language_tag,
        receiver_name=receiver_name,
        receiver_email=user.email,
        emission_date=emission_date,
        custom_parameters=custom_parameters,
    )


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


def value_sources(*, credential, course, emitter, title, learner_name, issue_date) -> dict[str, str]:
    """Every named value a template parameter can be filled from."""
    user = credential.user
    configuration = course.certificate_configuration
    signatories = configuration.signatories if configuration else ()
    sources = {
        "grade": grade_string(credential.grade_percent),
        "letter_grade": credential.letter_grade,
        "platform_name": platform_adapter.get_platform_name(),
        "course_title": title,
        "course_name": course.display_name,
        "course_number": course.number,
        "course_id": str(credential.course_key),
        "organization": emitter,
        "issue_date": issue_date,
        "mode": credential.mode,
        "username": user.username,
        "learner_name": learner_name,
    }
    for number, signatory in enumerate(signatories, start=1):
        sources[f"signatory_{number}_name"] = signatory.name
        sources[f"signatory_{number}_title"] = signatory.title
        sources[f"signatory_{number}_organization"] = signatory.organization
    first = signatories[0] if signatories else platform_adapter.Signatory()
    sources["signatory_name"] = first.name
    sources["signatory_title"] = first.title
    sources["signatory_organization"] = first.organization
    return {name: str(value or "") for name, value in sources.items()}


def _source_key(text: str) -> str:
    """'Course Title', 'course-title' and 'course_title' all name the same source."""
    return re.sub(r"[^0-9a-z]+", "_", (text or "").lower()).strip("_")


def source_name_for(parameter, available_sources) -> str | None:
    """
    The value source that fills a template parameter: the operator's POK_CUSTOM_PARAMETER_SOURCES
    mapping first, then a source named like the parameter's id or label.
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


def fill_custom_parameters(parameters, sources: dict[str, str]) -> dict[str, str]:
    """Values for every parameter the template declares, keyed by parameter id; empty ones are errors."""
    values = {}
    for parameter in parameters:
        source_name = source_name_for(parameter, sources)
        described = f"template parameter {parameter.id!r} ({parameter.label or 'no label'})"
        if source_name is None:
            raise PayloadError(f"{described} has no value source; map it in POK_CUSTOM_PARAMETER_SOURCES")
        if source_name not in sources:
            raise PayloadError(f"{described} is mapped to the unknown source {source_name!r}")
        value = sources[source_name]
        if not value:
            raise PayloadError(f"{described} would be empty: source {source_name!r} has no value")
        values[parameter.id] = value
    return values


def grade_string(grade_percent: Decimal | None) -> str:
    """88.5 -> "89": a whole percentage, rounded half up, as certificates print it."""
    if grade_percent is None:
        return ""
    return str(Decimal(grade_percent).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def format_issue_date(moment: datetime, pok_date_format: str) -> str:
    """Format a date with POK's own pattern (``dd/MM/yyyy`` or ``MM/dd/yyyy``)."""
    python_format = pok_date_format.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
    return moment.strftime(python_format)


def split_name(
    full_name: str, *, first_name: str = "", last_name: str = "", username: str = ""
) -> tuple[str, str]:
    """
    First and last name for POK's receiver, cleaned (:func:`clean_name`).

    The account's own parts win when they spell the same name; "Last, First" is turned around; one
    word is a first name with an empty last name; otherwise the first word is the first name and
    the rest the last name (the printed full name reads the same either way). A name with no
    letter or digit left (empty, ",", only invisible characters) falls back to the username, so
    POK always gets something to print.
    """
    full_name = clean_name(full_name)
    first_name, last_name = clean_name(first_name), clean_name(last_name)
    if _printable(first_name) and _printable(last_name) and full_name in ("", f"{first_name} {last_name}"):
        return first_name, last_name
    if "," in full_name:
        last, _, first = (part.strip() for part in full_name.partition(","))
        if _printable(first) and _printable(last):
            return first, last
        full_name = first if _printable(first) else last
    if not _printable(full_name):
        return clean_name(username), ""
    words = full_name.split(" ")
    return words[0], " ".join(words[1:])


# Characters that only hide or reorder text: bidi embeddings, overrides, isolates and marks,
# zero-width spaces, word joiners, the soft hyphen and the byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Zero-width (non-)joiners shape Persian, Indic and other scripts inside a word: kept there only.
_LOOSE_JOINERS = re.compile(r"(?<!\w)[\u200c\u200d]+|[\u200c\u200d]+(?!\w)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_name(text: str) -> str:
    """A name as it should print: invisible and bidi control characters gone, spaces collapsed."""
    text = _LOOSE_JOINERS.sub("", _INVISIBLE.sub("", _CONTROL.sub(" ", text or "")))
    return " ".join(text.split())


def _printable(name: str) -> bool:
    return any(character.isalnum() for character in name)


_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-(?:[A-Z]{2}|[0-9]{3}))?$")


def normalize_language_tag(tag: str) -> str:
    """'es_AR', 'es-ar' -> 'es-AR'; 'zh-hans-cn' -> 'zh-Hans-CN'; an unreadable tag -> ''."""
    subtags = [part for part in re.split(r"[-_]", (tag or "").strip()) if part]
    if not subtags:
        return ""
    normalized = [subtags[0].lower()]
    for subtag in subtags[1:]:
        normalized.append(subtag.title() if len(subtag) == 4 else subtag.upper())
    candidate = "-".join(normalized)
    return candidate if _LANGUAGE_TAG.match(candidate) else ""


def resolve_language_tag(learner_language: str) -> str:
    """
    The learner's preference, then the site's LANGUAGE_CODE, then POK_DEFAULT_LANGUAGE.

    POK validates tags and examples always carry a region, so a bare language borrows the region
    of POK_DEFAULT_LANGUAGE when both name the same language ('en' with 'en-US' -> 'en-US');
    otherwise a bare language is sent as it is, which is still valid BCP 47.
    """
    default = normalize_language_tag(setting("POK_DEFAULT_LANGUAGE")) or "en-US"
    for candidate in (learner_language, getattr(settings, "LANGUAGE_CODE", "")):
        tag = normalize_language_tag(candidate)
        if not tag:
            continue
        if "-" not in tag and default.split("-")[0] == tag:
            return default
        return tag
    return default
