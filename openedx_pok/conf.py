"""
Every setting the plugin reads, with its default and meaning, in one place.

Settings are read through :func:`setting` at call time, never at import time: LMS loads plugin
modules before its YAML configuration and Tutor patches have been applied. Each is documented by
its OEP-17 annotation (``.. toggle_*`` for the booleans and the course waffle flag, ``.. setting_*``
for the rest), which code-annotations collects for the platform's settings and toggles reports; a
test keeps every entry annotated with its own name and default.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings

# .. toggle_name: openedx_pok.enable_pok_certificates
# .. toggle_implementation: CourseWaffleFlag
# .. toggle_default: False
# .. toggle_description: Issue POK credentials, instead of the standard Open edX certificates' pages,
#   in the courses where it is on: set it per course or per organisation in the Django admin (Waffle
#   flag course overrides, or org overrides, Force On), or for everyone with its django-waffle flag.
#   POK_ENABLED_FOR_ALL_COURSES switches every course on without it.
# .. toggle_warnings: Needs POK_API_KEY and a template (POK_TEMPLATE_ID or a POK certificate template
#   row). The existing POK plugin's flag, POK_LEGACY_COURSE_FLAG, switches courses on as well.
# .. toggle_use_cases: opt_in
# .. toggle_creation_date: 2026-11-23
COURSE_WAFFLE_FLAG_NAME = "openedx_pok.enable_pok_certificates"
# The existing POK plugin's course flag (a CourseWaffleFlag), which this plugin honours by default.
LEGACY_COURSE_WAFFLE_FLAG_NAME = "module_pok.enable"


@dataclass(frozen=True)
class Setting:
    """A plugin setting and its default; its meaning is the annotation above its entry."""

    name: str
    default: Any


SETTINGS: tuple[Setting, ...] = (
    # .. setting_name: POK_API_URL
    # .. setting_default: "https://api.pok.tech/"
    # .. setting_description: Base URL of the POK API (sandbox: https://api.credentity.xyz/).
    Setting("POK_API_URL", "https://api.pok.tech/"),
    # .. setting_name: POK_API_KEY
    # .. setting_default: ""
    # .. setting_description: POK API key, sent as `Authorization: ApiKey <key>`. Empty keeps issuing off.
    Setting("POK_API_KEY", ""),
    # .. setting_name: POK_TEMPLATE_ID
    # .. setting_default: ""
    # .. setting_description: Default POK template id, used when no course or organisation template matches.
    Setting("POK_TEMPLATE_ID", ""),
    # .. setting_name: POK_PAGE_ID
    # .. setting_default: ""
    # .. setting_description: Default POK landing page id; empty means POK's default page.
    Setting("POK_PAGE_ID", ""),
    # .. setting_name: POK_TIMEOUT
    # .. setting_default: 10
    # .. setting_description: Seconds to wait for POK's whole answer once connected. A call's deadline is
    #   POK_CONNECT_TIMEOUT + POK_TIMEOUT from its start, however slowly the answer trickles in (inline GET
    #   retries included); a POST whose deadline passes is an unknown outcome.
    Setting("POK_TIMEOUT", 10),
    # .. setting_name: POK_CONNECT_TIMEOUT
    # .. setting_default: 5
    # .. setting_description: Seconds to wait for a connection to POK.
    Setting("POK_CONNECT_TIMEOUT", 5),
    # .. setting_name: POK_EMISSION_TYPE
    # .. setting_default: "pok"
    # .. setting_description: Default emission type: `pok` (web credential) or `blockchain`.
    Setting("POK_EMISSION_TYPE", "pok"),
    # .. setting_name: POK_DATE_FORMAT
    # .. setting_default: "dd/MM/yyyy"
    # .. setting_description: Date format printed on credentials: `dd/MM/yyyy` or `MM/dd/yyyy`.
    Setting("POK_DATE_FORMAT", "dd/MM/yyyy"),
    # .. toggle_name: POK_SKIP_ACCEPTANCE
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: True
    # .. toggle_description: Publish each credential at once. When False, POK asks the learner to accept it
    #   first, and the credential stays processing (the being-issued page) until they do.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-11-23
    Setting("POK_SKIP_ACCEPTANCE", True),
    # .. toggle_name: POK_ENABLED_FOR_ALL_COURSES
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: False
    # .. toggle_description: Issue POK credentials in every course. When false, switch courses or
    #   organisations on with the course waffle flag `openedx_pok.enable_pok_certificates`.
    # .. toggle_warnings: Needs POK_API_KEY (system check openedx_pok.E001) and a template: POK_TEMPLATE_ID or
    #   a POK certificate template row.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-11-23
    Setting("POK_ENABLED_FOR_ALL_COURSES", False),
    # .. setting_name: POK_LEGACY_COURSE_FLAG
    # .. setting_default: "module_pok.enable"
    # .. setting_description: The existing POK plugin's course waffle flag: where it is on (course,
    #   organisation or everyone), POK is on too, as it was. Empty stops honouring it (pok_check lists where
    #   it is still on).
    Setting("POK_LEGACY_COURSE_FLAG", LEGACY_COURSE_WAFFLE_FLAG_NAME),
    # .. setting_name: POK_CELERY_QUEUE
    # .. setting_default: None
    # .. setting_description: Celery queue for POK tasks; None uses the default queue.
    Setting("POK_CELERY_QUEUE", None),
    # .. setting_name: POK_ACCOUNTS
    # .. setting_default: {}
    # .. setting_description: More POK accounts, for organisations that pay with their own credits:
    #   name -> {"API_KEY": ..., "API_URL": ..., "TEMPLATE_ID": ..., "PAGE_ID": ...}. A missing API_URL,
    #   TEMPLATE_ID or PAGE_ID comes from the top-level setting (the "default" account); the API_KEY never
    #   does (docs/accounts.md).
    Setting("POK_ACCOUNTS", {}),
    # .. setting_name: POK_ORGANIZATION_ACCOUNTS
    # .. setting_default: {}
    # .. setting_description: Organisation short name -> the POK_ACCOUNTS account its courses issue with;
    #   others use "default". A course's or organisation's template row may name an account too, and wins.
    Setting("POK_ORGANIZATION_ACCOUNTS", {}),
    # .. setting_name: POK_RECONCILE_DAYS
    # .. setting_default: 7
    # .. setting_description: The reconciliation requests the missing credentials of downloadable certificates
    #   the platform changed in the last this many days; older ones are for pok_backfill.
    Setting("POK_RECONCILE_DAYS", 7),
    # .. toggle_name: POK_ADD_BEAT_SCHEDULE
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: True
    # .. toggle_description: Add the sweep and the status sync to CELERYBEAT_SCHEDULE, for platforms that run
    #   Celery beat. They are a safety net: credentials drive themselves, with or without beat.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-12-01
    Setting("POK_ADD_BEAT_SCHEDULE", True),
    # .. setting_name: POK_TEMPLATE_CACHE_TIMEOUT
    # .. setting_default: 900
    # .. setting_description: Seconds a template definition (its custom parameters) is cached.
    Setting("POK_TEMPLATE_CACHE_TIMEOUT", 900),
    # .. setting_name: POK_PREVIEW_CACHE_TIMEOUT
    # .. setting_default: 600
    # .. setting_description: Seconds a Studio preview image is cached per course, mode and language.
    Setting("POK_PREVIEW_CACHE_TIMEOUT", 600),
    # .. setting_name: POK_IMAGE_URL_LIFETIME
    # .. setting_default: 3600
    # .. setting_description: Seconds a credential image URL is trusted before it is refreshed.
    Setting("POK_IMAGE_URL_LIFETIME", 3600),
    # .. setting_name: POK_MAX_ATTEMPTS
    # .. setting_default: 8
    # .. setting_description: POST attempts for one credential before it is marked failed.
    Setting("POK_MAX_ATTEMPTS", 8),
    # .. setting_name: POK_RETRY_BASE_DELAY
    # .. setting_default: 30
    # .. setting_description: Seconds before the first retry; doubles on each attempt, with jitter.
    Setting("POK_RETRY_BASE_DELAY", 30),
    # .. setting_name: POK_RETRY_MAX_DELAY
    # .. setting_default: 1800
    # .. setting_description: Upper bound, in seconds, of the delay between two attempts, and between two
    #   rounds of attempts. A wait longer than 30 minutes is left to the sweep instead of a task's countdown.
    Setting("POK_RETRY_MAX_DELAY", 1800),
    # .. setting_name: POK_REQUESTING_TIMEOUT
    # .. setting_default: 600
    # .. setting_description: Seconds after which a credential still marked as being requested is treated as
    #   an unknown outcome; must exceed POK_CONNECT_TIMEOUT + POK_TIMEOUT by 30 s (system check
    #   openedx_pok.E006).
    Setting("POK_REQUESTING_TIMEOUT", 600),
    # .. setting_name: POK_STATUS_POLL_INITIAL_DELAY
    # .. setting_default: 2
    # .. setting_description: Seconds from POK accepting a credential to its first status check; each later
    #   check waits about the credential's age (2, 4, 8, 16 s...), up to POK_STATUS_POLL_MAX_DELAY.
    Setting("POK_STATUS_POLL_INITIAL_DELAY", 2),
    # .. setting_name: POK_STATUS_POLL_MAX_DELAY
    # .. setting_default: 1800
    # .. setting_description: Upper bound, in seconds, between two status checks. A wait longer than 30
    #   minutes is left to the sweep instead of a task's countdown.
    Setting("POK_STATUS_POLL_MAX_DELAY", 1800),
    # .. setting_name: POK_UNKNOWN_OUTCOME_RETRY_AFTER
    # .. setting_default: None
    # .. setting_description: Seconds after which an unknown outcome is re-sent automatically (risking a paid
    #   duplicate). None leaves it to an operator.
    Setting("POK_UNKNOWN_OUTCOME_RETRY_AFTER", None),
    # .. setting_name: POK_POST_SERVER_ERROR_POLICY
    # .. setting_default: "probe"
    # .. setting_description: What a 500 or 502 answer to POST credential means (POK may have created the
    #   credential before failing): `probe` asks POK a free question and sends it again only when POK is down;
    #   `retry` always sends it again (may pay twice); `outcome_unknown` never does. A 503 is always retried.
    Setting("POK_POST_SERVER_ERROR_POLICY", "probe"),
    # .. setting_name: POK_CUSTOM_PARAMETER_SOURCES
    # .. setting_default: {}
    # .. setting_description: Maps a template custom parameter id to a value source, e.g. {'grade-param':
    #   'grade'}; see docs/templates.md.
    Setting("POK_CUSTOM_PARAMETER_SOURCES", {}),
    # .. setting_name: POK_DEFAULT_LANGUAGE
    # .. setting_default: "en-US"
    # .. setting_description: Language tag used when neither the learner nor the site sets one.
    Setting("POK_DEFAULT_LANGUAGE", "en-US"),
    # .. toggle_name: POK_REDIRECT_TO_VIEW_URL
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: False
    # .. toggle_description: Redirect the certificate page of an emitted credential to POK's own page (its
    #   view URL) instead of showing the POK certificate on the platform's page.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-11-23
    Setting("POK_REDIRECT_TO_VIEW_URL", False),
    # .. setting_name: POK_ALLOWED_URL_HOSTS
    # .. setting_default: ["pok.tech", "credentity.xyz"]
    # .. setting_description: Hosts (and their subdomains) whose https URLs from POK may appear in pages or
    #   redirects: POK's own. Add the exact host that serves your credential images when POK hands out image
    #   URLs on another one, e.g. a storage bucket's host (docs/troubleshooting.md).
    Setting("POK_ALLOWED_URL_HOSTS", ["pok.tech", "credentity.xyz"]),
    # .. toggle_name: POK_ISSUE_FOR_EXISTING_CERTIFICATES
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: False
    # .. toggle_description: When a certificate issued before POK was switched on for its course is viewed,
    #   queue its POK credential (pok_backfill does the same for a whole course at once).
    # .. toggle_warnings: Each credential costs a POK credit.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-11-23
    Setting("POK_ISSUE_FOR_EXISTING_CERTIFICATES", False),
    # .. toggle_name: POK_ALLOW_INSECURE_LOCAL_URLS
    # .. toggle_implementation: DjangoSetting
    # .. toggle_default: False
    # .. toggle_description: Also accept http URLs on 127.0.0.1, ::1 and localhost from POK: only for tests
    #   and the local demo.
    # .. toggle_warnings: Only for tests and the local demo, never in production: the URLs come from POK's
    #   answers.
    # .. toggle_use_cases: open_edx
    # .. toggle_creation_date: 2026-11-23
    Setting("POK_ALLOW_INSECURE_LOCAL_URLS", False),
    # .. setting_name: POK_LINKEDIN_ORGANIZATION_ID
    # .. setting_default: ""
    # .. setting_description: LinkedIn organisation id for add-to-profile links; empty sends the
    #   organisation's name instead.
    Setting("POK_LINKEDIN_ORGANIZATION_ID", ""),
    # .. setting_name: POK_SUPPORT_URL
    # .. setting_default: ""
    # .. setting_description: Where learners get help when a certificate is delayed; empty uses
    #   SUPPORT_SITE_LINK, then CONTACT_EMAIL.
    Setting("POK_SUPPORT_URL", ""),
    # .. setting_name: POK_FAILED_RETRY_ROUNDS
    # .. setting_default: 3
    # .. setting_description: Further rounds of POK_MAX_ATTEMPTS attempts the sweep grants a credential that
    #   failed because POK was unavailable, POK_RETRY_MAX_DELAY apart. Refused credentials are never retried
    #   automatically.
    Setting("POK_FAILED_RETRY_ROUNDS", 3),
)

SETTINGS_BY_NAME = {entry.name: entry for entry in SETTINGS}


def setting(name: str) -> Any:
    """Return the operator's value of a plugin setting, or its default."""
    return setting_in(settings, name)


def setting_in(settings_object, name: str) -> Any:
    """
    A plugin setting as ``settings_object`` holds it, or its default: Django's settings, or a
    settings module while the platform is still building it (``plugin_settings``).
    """
    return getattr(settings_object, name, SETTINGS_BY_NAME[name].default)
