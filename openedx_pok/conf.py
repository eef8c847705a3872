"""
Every setting the plugin reads, with its default and meaning, in one place.

Settings are read through :func:`setting` at call time, never at import time: LMS loads plugin
modules before its YAML configuration and Tutor patches have been applied.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "POK_API_URL",
        "https://api.pok.tech/",
        "Base URL of the POK API (sandbox: https://api.credentity.xyz/).",
    ),
    Setting(
        "POK_API_KEY", "", "POK API key, sent as `Authorization: ApiKey <key>`. Empty keeps issuing off."
    ),
    Setting(
        "POK_TEMPLATE_ID",
        "",
        "Default POK template id, used when no course or organisation template matches.",
    ),
    Setting("POK_PAGE_ID", "", "Default POK landing page id; empty means POK's default page."),
    Setting(
        "POK_TIMEOUT",
        10,
        "Seconds to wait for POK's whole answer once connected. A call's deadline is "
        "POK_CONNECT_TIMEOUT + POK_TIMEOUT from its start, however slowly the answer trickles in "
        "(inline GET retries included); a POST whose deadline passes is an unknown outcome.",
    ),
    Setting("POK_CONNECT_TIMEOUT", 5, "Seconds to wait for a connection to POK."),
    Setting("POK_EMISSION_TYPE", "pok", "Default emission type: `pok` (web credential) or `blockchain`."),
    Setting(
        "POK_DATE_FORMAT", "dd/MM/yyyy", "Date format printed on credentials: `dd/MM/yyyy` or `MM/dd/yyyy`."
    ),
    Setting(
        "POK_SKIP_ACCEPTANCE", True, "Publish credentials at once instead of asking the learner to accept."
    ),
    Setting(
        "POK_ENABLED_FOR_ALL_COURSES",
        False,
        "Issue POK credentials in every course. When false, switch courses or organisations on with the "
        "course waffle flag `openedx_pok.enable_pok_certificates`.",
    ),
    Setting("POK_CELERY_QUEUE", None, "Celery queue for POK tasks; None uses the default queue."),
    Setting(
        "POK_ADD_BEAT_SCHEDULE",
        True,
        "Add the sweep and the status sync to CELERYBEAT_SCHEDULE, for platforms that run Celery beat. "
        "They are a safety net: credentials drive themselves, with or without beat.",
    ),
    Setting(
        "POK_TEMPLATE_CACHE_TIMEOUT", 900, "Seconds a template definition (its custom parameters) is cached."
    ),
    Setting(
        "POK_PREVIEW_CACHE_TIMEOUT",
        600,
        "Seconds a Studio preview image is cached per course, mode and language.",
    ),
    Setting(
        "POK_IMAGE_URL_LIFETIME", 3600, "Seconds a credential image URL is trusted before it is refreshed."
    ),
    Setting("POK_MAX_ATTEMPTS", 8, "POST attempts for one credential before it is marked failed."),
    Setting(
        "POK_RETRY_BASE_DELAY", 30, "Seconds before the first retry; doubles on each attempt, with jitter."
    ),
    Setting(
        "POK_RETRY_MAX_DELAY",
        1800,
        "Upper bound, in seconds, of the delay between two attempts, and between two rounds of attempts. "
        "A wait longer than 30 minutes is left to the sweep instead of a task's countdown.",
    ),
    Setting(
        "POK_REQUESTING_TIMEOUT",
        600,
        "Seconds after which a credential still marked as being requested is treated as an unknown outcome; "
        "must exceed POK_CONNECT_TIMEOUT + POK_TIMEOUT by 30 s (system check openedx_pok.E006).",
    ),
    Setting(
        "POK_STATUS_POLL_INITIAL_DELAY",
        2,
        "Seconds from POK accepting a credential to its first status check; each later check waits "
        "about the credential's age (2, 4, 8, 16 s...), up to POK_STATUS_POLL_MAX_DELAY.",
    ),
    Setting(
        "POK_STATUS_POLL_MAX_DELAY",
        1800,
        "Upper bound, in seconds, between two status checks. A wait longer than 30 minutes is left to "
        "the sweep instead of a task's countdown.",
    ),
    Setting(
        "POK_UNKNOWN_OUTCOME_RETRY_AFTER",
        None,
        "Seconds after which an unknown outcome is re-sent automatically (risking a paid duplicate). "
        "None leaves it to an operator.",
    ),
    Setting(
        "POK_CUSTOM_PARAMETER_SOURCES",
        {},
        "Maps a template custom parameter id to a value source, e.g. {'grade-param': 'grade'}; "
        "see docs/templates.md.",
    ),
    Setting(
        "POK_DEFAULT_LANGUAGE", "en-US", "Language tag used when neither the learner nor the site sets one."
    ),
    Setting(
        "POK_REDIRECT_TO_VIEW_URL", False, "Redirect the certificate page to POK's own page once emitted."
    ),
    Setting(
        "POK_ALLOWED_URL_HOSTS",
        ["pok.tech", "credentity.xyz"],
        "Hosts (and their subdomains) whose https URLs from POK may appear in pages or redirects: POK's "
        "own. Add the exact host that serves your credential images when POK hands out image URLs on "
        "another one, e.g. a storage bucket's host (docs/troubleshooting.md).",
    ),
    Setting(
        "POK_ISSUE_FOR_EXISTING_CERTIFICATES",
        False,
        "When a certificate issued before POK was switched on is viewed, queue its POK credential.",
    ),
    Setting(
        "POK_ALLOW_INSECURE_LOCAL_URLS",
        False,
        "Also accept http URLs on 127.0.0.1, ::1 and localhost from POK: only for tests and the local demo.",
    ),
    Setting(
        "POK_LINKEDIN_ORGANIZATION_ID",
        "",
        "LinkedIn organisation id for add-to-profile links; empty sends the organisation's name instead.",
    ),
    Setting(
        "POK_SUPPORT_URL",
        "",
        "Where learners get help when a certificate is delayed; "
        "empty uses SUPPORT_SITE_LINK, then CONTACT_EMAIL.",
    ),
    Setting(
        "POK_FAILED_RETRY_ROUNDS",
        3,
        "Further rounds of POK_MAX_ATTEMPTS attempts the sweep grants a credential that failed because POK "
        "was unavailable, POK_RETRY_MAX_DELAY apart. Refused credentials are never retried automatically.",
    ),
)

SETTINGS_BY_NAME = {entry.name: entry for entry in SETTINGS}

COURSE_WAFFLE_FLAG_NAME = "openedx_pok.enable_pok_certificates"


def setting(name: str) -> Any:
    """Return the operator's value of a plugin setting, or its default."""
    return getattr(settings, name, SETTINGS_BY_NAME[name].default)
