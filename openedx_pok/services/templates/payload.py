"""
What POK is asked to draw: the body of ``POST credential`` for a learner's credential and of
``POST template/preview`` for Studio's preview, both built by :func:`build` from the same parts (the
course, the template choice, the learner and the emission date).

Everything here reads the platform through the adapter and the template definition through its
cache; nothing is sent. Values that cannot be found raise :class:`PayloadError` with a reason an
operator can act on, so the credential fails before a credit is spent on a broken certificate.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from openedx_pok import accounts, platform_adapter
from openedx_pok.conf import setting
from openedx_pok.services.templates import receiver, value_sources
from openedx_pok.services.templates.template_choice import (
    NoTemplateConfigured,
    TemplateChoice,
    choose_template,
)
from openedx_pok.services.templates.template_definitions import get_template_definition

log = logging.getLogger(__name__)

# The tags every credential carries, ``Key:Value``: how POK's dashboard (and an operator attaching a
# credential found there) tells whose and which course's it is.
LEARNER_TAG = "StudentId"
COURSE_TAG = "CourseId"
MODE_TAG = "Mode"


class PayloadError(Exception):
    """The credential cannot be described to POK; the message says what the operator must fix."""


@dataclass(frozen=True)
class Learner:
    """What a credential says of its learner; Studio's preview passes placeholders."""

    name: str
    first_name: str
    last_name: str
    username: str
    language_tag: str
    grade: str = ""
    letter_grade: str = ""
    mode: str = ""
    # A preview is drawn for nobody: without these, the receiver carries names and language only.
    email: str | None = None
    identification: str | None = None


@dataclass(frozen=True)
class Payload:
    """A body for POK and what the credential's row keeps of it."""

    body: dict
    template: TemplateChoice
    title: str
    emitter: str
    tags: list[str]
    learner: Learner
    emission_date: datetime


def build(
    course: platform_adapter.CourseDetails,
    template: TemplateChoice,
    learner: Learner,
    emission_date: datetime,
    *,
    tags: list[str] | None = None,
    skip_acceptance: bool | None = None,
) -> Payload:
    """
    The one builder of a POK body. Tags and ``skip_acceptance`` belong to a real credential only;
    empty values are left out of the credential part. Raises PayloadError, or the client's PokError
    when the template definition cannot be read.
    """
    date_format = setting("POK_DATE_FORMAT")
    values = {
        **value_sources.course_values(course),
        **value_sources.learner_values(
            learner_name=learner.name,
            username=learner.username,
            grade=learner.grade,
            letter_grade=learner.letter_grade,
            mode=learner.mode,
            issue_date=value_sources.format_issue_date(emission_date, date_format),
        ),
    }
    definition = get_template_definition(template.template_id, template.account)
    try:
        custom_parameters = value_sources.fill_custom_parameters(definition.custom_parameters, values)
    except value_sources.UnfilledParameter as error:
        raise PayloadError(str(error)) from error
    title, emitter = values["course_title"], values["organization"]
    credential_part = {
        "tags": tags,
        "skipAcceptance": skip_acceptance,
        "emissionType": template.emission_type,
        "dateFormat": date_format,
        "emissionDate": emission_date.isoformat(),
        "title": title,
        "emitter": emitter,
    }
    receiver_part = {
        "languageTag": learner.language_tag,
        "identification": learner.identification,
        "email": learner.email,
        "firstName": learner.first_name,
        "lastName": learner.last_name,
    }
    customization = {"template": {"id": template.template_id, "customParameters": custom_parameters}}
    if template.page_id:
        customization["page"] = template.page_id
    body = {
        "credential": {key: value for key, value in credential_part.items() if value not in ("", None)},
        "receiver": {key: value for key, value in receiver_part.items() if value is not None},
        "customization": customization,
    }
    return Payload(
        body=body,
        template=template,
        title=title,
        emitter=emitter,
        tags=tags or [],
        learner=learner,
        emission_date=emission_date,
    )


def credential_payload(credential) -> Payload:
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
    except accounts.UnknownAccount as error:
        raise PayloadError(
            f"the POK account {error} chosen for {credential.course_key} is not configured in POK_ACCOUNTS; "
            "nothing is sent with another account's key"
        ) from error
    if course.certificate_configuration is None:
        log.info(
            "Course %s has no active certificate configuration; its display name is the title",
            course.course_key,
        )
    full_name = platform_adapter.get_learner_full_name(user)
    if not full_name:
        log.info("POK credential %s: the learner has no profile name; POK gets the username", credential.pk)
    first_name, last_name = receiver.split_name(
        full_name, first_name=user.first_name, last_name=user.last_name, username=user.username
    )
    learner = Learner(
        name=" ".join(part for part in (first_name, last_name) if part),
        first_name=first_name,
        last_name=last_name,
        username=user.username,
        language_tag=receiver.resolve_language_tag(platform_adapter.get_learner_language(user)),
        grade=value_sources.grade_string(credential.grade_percent),
        letter_grade=credential.letter_grade,
        mode=credential.mode,
        email=user.email,
        identification=str(user.pk),
    )
    return build(
        course,
        template,
        learner,
        (credential.emission_date or timezone.now()).astimezone(UTC),
        tags=credential_tags(credential),
        skip_acceptance=bool(setting("POK_SKIP_ACCEPTANCE")),
    )


def credential_tags(credential) -> list[str]:
    """The tags a credential is sent with: its learner, its course and its mode."""
    return [
        f"{LEARNER_TAG}:{credential.user_id}",
        f"{COURSE_TAG}:{credential.course_key}",
        f"{MODE_TAG}:{credential.mode}",
    ]
