"""
Who a credential is for, as POK prints it: the learner's name split into first and last name and
cleaned of characters that only hide or reorder text, and the language tag POK validates.
"""

import re

from django.conf import settings

from openedx_pok.conf import setting


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
