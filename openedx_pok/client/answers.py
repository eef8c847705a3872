"""
What the POK client returns: POK's answers as frozen dataclasses, never raw JSON.

Each type reads one kind of POK object and keeps only what the plugin uses, tolerating missing and
unknown fields; the checks on each value are in :mod:`openedx_pok.client.values`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openedx_pok.client import values


@dataclass(frozen=True)
class PokOrganization:
    name: str
    available_credits: int | None
    emitted_credentials: int | None
    processing_credentials: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokOrganization":
        return cls(
            name=values.text(data.get("name")),
            available_credits=values.integer(data.get("availableCredits")),
            emitted_credentials=values.integer(data.get("emittedCredentials")),
            processing_credentials=values.integer(data.get("processingCredentials")),
        )


@dataclass(frozen=True)
class TemplateParameter:
    id: str
    label: str

    @classmethod
    def from_json(cls, data: Any) -> "TemplateParameter | None":
        if isinstance(data, str | int):
            return cls(id=values.text(data), label=values.text(data))
        if not isinstance(data, Mapping) or data.get("id") in (None, ""):
            return None
        parameter_id = values.text(data.get("id"))
        return cls(id=parameter_id, label=values.text(data.get("label")) or parameter_id)


@dataclass(frozen=True)
class PokTemplate:
    id: str
    name: str
    custom_parameters: tuple[TemplateParameter, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokTemplate":
        raw_parameters = data.get("customParameters")
        parameters = (
            tuple(
                parameter
                for parameter in (TemplateParameter.from_json(item) for item in raw_parameters)
                if parameter is not None
            )
            if isinstance(raw_parameters, list)
            else ()
        )
        return cls(
            id=values.text(data.get("id")),
            name=values.text(data.get("name")),
            custom_parameters=parameters,
        )


@dataclass(frozen=True)
class PokPage:
    id: str
    name: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokPage":
        return cls(id=values.text(data.get("id")), name=values.text(data.get("name")))


@dataclass(frozen=True)
class PokCredential:
    """
    A credential as POK reports it, checked before anything is stored: what the plugin keeps of it.

    ``state`` is kept verbatim when it reads as a state name, even one this code does not know;
    the emission date is an aware UTC datetime. A value that does not fit (wrong type, too long,
    odd characters, a date out of range) is dropped, to "" or None, and ``problems`` says why in
    readable words. An empty ``id`` means POK sent none that can be used.

    Who received it and what it carries (the receiver's email and name, the tags, the title) are
    kept for comparison only (an operator attaching a credential found in POK's dashboard), never
    stored: "" or () when POK sent none, or something that is not text.
    """

    id: str
    state: str
    view_url: str
    emission_date: datetime | None
    problems: tuple[str, ...] = ()
    receiver_email: str = ""
    receiver_name: str = ""
    tags: tuple[str, ...] = ()
    title: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PokCredential":
        details = data.get("credential") if isinstance(data.get("credential"), Mapping) else {}
        receiver = data.get("receiver") if isinstance(data.get("receiver"), Mapping) else {}
        problems: list[str] = []

        def checked(check, value, name):
            kept, problem = check(value, name)
            if problem:
                problems.append(problem)
            return kept

        return cls(
            id=checked(values.pok_id, data.get("id"), "id"),
            state=checked(values.pok_state, data.get("state"), "state"),
            view_url=checked(values.view_url, data.get("viewUrl"), "viewUrl"),
            emission_date=checked(
                values.moment, details.get("emissionDate", data.get("emissionDate")), "emissionDate"
            ),
            problems=tuple(problems),
            receiver_email=_plain_text(receiver.get("email"), values.MAX_EMAIL_LENGTH),
            receiver_name=_plain_text(receiver.get("name"), values.MAX_TEXT_LENGTH),
            tags=_tags(details.get("tags")),
            title=_plain_text(details.get("title"), values.MAX_TEXT_LENGTH),
        )


def _plain_text(value: Any, limit: int) -> str:
    """Text POK sent, or "" for anything else (a number, a structure, something too long to be one)."""
    return value if isinstance(value, str) and len(value) <= limit else ""


def _tags(value: Any) -> tuple[str, ...]:
    """The credential's tags that are text, at most ``MAX_TAGS`` of them."""
    if not isinstance(value, list):
        return ()
    return tuple(
        tag for tag in value[: values.MAX_TAGS] if isinstance(tag, str) and len(tag) <= values.MAX_TEXT_LENGTH
    )
