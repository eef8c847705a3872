"""
What each row of the existing plugin becomes in our tables, or why it cannot: a credential of ours
for each of its certificates POK issued, a course template for each of its course templates.
"""

import json
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

# What our migration 0002 holds, frozen here: the adoption (migration 0003) writes into 0002's tables,
# whatever later migrations make of them, so it never asks today's models. The states are
# CredentialState's values.
POK_ID_LENGTH = 64
POK_STATE_LENGTH = 64
# The title, the emitter and the receiver's name.
NAME_LENGTH = 255
PAGE_ID_LENGTH = 64
TEMPLATE_ID_LENGTH = 64
EMAIL_LENGTH = 254
MODE_LENGTH = 100
EMISSION_TYPES = ("pok", "blockchain")
EMITTED, PROCESSING, FAILED, REVOKED = "emitted", "processing", "failed", "revoked"
# POK's final states other than emitted, read as the status sync reads them.
POK_FINAL_FAILURES = ("aborted", "signatureRejected")

ADOPTED_NOTE = "adopted from the existing POK plugin"
# Its request to POK failed, and it then stopped Open edX from creating the certificate: when the
# platform generates the certificate again, this plugin requests the credential (docs/operations.md).
NEVER_ISSUED = "no POK id: never issued"


def credential_fields(row: dict, *, now: datetime) -> tuple[dict, list[tuple[str, str]]]:
    """
    Our PokCertificate's fields for a row of the existing plugin, and the values left out; raises
    ValueError with the reason when the row cannot become a credential of ours.
    """
    pok_id = str(row.get("pok_certificate_id") or "").strip()
    if not pok_id:
        raise ValueError(NEVER_ISSUED)
    if len(pok_id) > POK_ID_LENGTH:
        raise ValueError(f"POK id longer than {POK_ID_LENGTH} characters")
    course_key = _course_key(row.get("course_id"))
    pok_state = str(row.get("state") or "").strip()
    state = {"emitted": EMITTED, "revoked": REVOKED}.get(pok_state, PROCESSING)
    last_error = ""
    if pok_state in POK_FINAL_FAILURES:
        state, last_error = FAILED, f"POK reports the credential as {pok_state}"
    left_out = []
    page_id = _text(row.get("page"))
    if len(page_id) > PAGE_ID_LENGTH:
        left_out.append(("page", f"longer than {PAGE_ID_LENGTH} characters"))
        page_id = ""
    email = _text(row.get("receiver_email"))
    if len(email) > EMAIL_LENGTH:
        left_out.append(("receiver_email", f"longer than {EMAIL_LENGTH} characters"))
        email = ""
    tags = _json(row.get("tags"))
    tags = [str(tag) for tag in tags] if isinstance(tags, list) else []
    if row.get("custom_parameters") not in (None, "", "null"):
        left_out.append(("custom_parameters", "this plugin does not keep the parameters sent"))
    note = f"{ADOPTED_NOTE} (its row {row['id']}, state {pok_state or 'none'})"
    if left_out:
        note += "; left out: " + ", ".join(name for name, _reason in left_out)
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "course_key": course_key,
        "state": state,
        "pok_state": pok_state[:POK_STATE_LENGTH],
        "pok_credential_id": pok_id,
        "view_url": _text(row.get("view_url")),
        "page_id": page_id,
        "emission_type": _emission_type(row.get("emission_type")),
        "emission_date": _datetime(row.get("emission_date")),
        "title": _text(row.get("title"))[:NAME_LENGTH],
        "emitter": _text(row.get("emitter"))[:NAME_LENGTH],
        "tags": tags,
        "mode": _mode_from_tags(tags),
        "receiver_name": _text(row.get("receiver_name"))[:NAME_LENGTH],
        "receiver_email": email,
        # The existing plugin sent it once; what POK is still processing is due for a status check now.
        "attempts": 1,
        "last_error": last_error,
        "next_attempt_at": now if state == PROCESSING else None,
        "history": [{"at": now.isoformat(), "from": "", "to": state, "note": note}],
        "created": _datetime(row.get("created")) or now,
    }, left_out


def template_fields(row: dict) -> dict:
    """Our CertificateTemplate's fields (a course row, every mode); ValueError says why it cannot be."""
    course_id = row.get("course_id", row.get("course_id_id"))
    template_id = _text(row.get("template_id")).strip()
    if not template_id:
        raise ValueError("no template id")
    if len(template_id) > TEMPLATE_ID_LENGTH:
        raise ValueError(f"template id longer than {TEMPLATE_ID_LENGTH} characters")
    page_id = _text(row.get("page_id")).strip()
    if len(page_id) > PAGE_ID_LENGTH:
        raise ValueError(f"page id longer than {PAGE_ID_LENGTH} characters")
    emission_type = _text(row.get("emission_type")).strip()
    if emission_type and emission_type not in EMISSION_TYPES:
        raise ValueError(f"emission type {emission_type!r} is neither pok nor blockchain")
    return {
        "id": row["id"],
        "course_key": _course_key(course_id),
        "organization": "",
        "mode": "",
        "template_id": template_id,
        "page_id": page_id,
        "emission_type": emission_type,
        "created": _datetime(row.get("created")) or timezone.now(),
    }


def _course_key(value) -> CourseKey:
    try:
        return CourseKey.from_string(str(value or "").strip())
    except InvalidKeyError as error:
        raise ValueError("course id is not a course key") from error


def _text(value) -> str:
    return "" if value is None else str(value)


def _json(value):
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _datetime(value) -> datetime | None:
    """The databases hand datetimes back as text (SQLite) or naive UTC (MySQL with USE_TZ)."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _emission_type(value) -> str:
    value = _text(value).strip()
    return value if value in EMISSION_TYPES else ""


def _mode_from_tags(tags: list[str]) -> str:
    """The existing plugin tagged each credential ``Mode:<mode>``, the only place it kept the mode."""
    for tag in tags:
        if tag.startswith("Mode:") and tag[5:] not in ("", "None"):
            return tag[5:][:MODE_LENGTH]
    return ""
