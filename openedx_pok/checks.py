"""
Django system checks: operators learn about misconfiguration before learners do.

Errors are settings that make every request to POK fail; warnings are gaps an operator may have a
reason for. Checks read settings only, except the template check, which asks the database whether
template rows exist and stays silent when the tables are not there yet (checks run before migrate).
"""

from types import SimpleNamespace
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import DatabaseError

from openedx_pok import platform_adapter
from openedx_pok.client import call_deadline
from openedx_pok.conf import setting
from openedx_pok.models import CertificateTemplate, EmissionType
from openedx_pok.services import payload

DATE_FORMATS = ("dd/MM/yyyy", "MM/dd/yyyy")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Cache backends each process keeps to itself: no use for the plugin's locks and rate limits.
PROCESS_LOCAL_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)
# Studio lets a course team add at most four signatories to a certificate.
MAX_SIGNATORIES = 4
# Seconds a request may stay "requesting" beyond its POST's deadline: recording the answer, a busy
# worker, clocks of two hosts that differ a little.
REQUESTING_TIMEOUT_MARGIN = 30


def pok_in_use() -> bool:
    """An installed but unconfigured plugin (e.g. in CMS before setup) should not nag."""
    return bool(setting("POK_ENABLED_FOR_ALL_COURSES") or setting("POK_API_KEY"))


@register()
def check_api_key(app_configs=None, **kwargs):
    if setting("POK_ENABLED_FOR_ALL_COURSES") and not setting("POK_API_KEY"):
        return [
            Error(
                "POK is on for all courses but POK_API_KEY is empty: no credential can be issued.",
                hint="Set POK_API_KEY in the LMS settings (Tutor: tutor config save --set POK_API_KEY=...).",
                id="openedx_pok.E001",
            )
        ]
    return []


@register()
def check_api_url(app_configs=None, **kwargs):
    url = setting("POK_API_URL")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:
        parts, host = None, None
    if not parts or parts.scheme not in ("http", "https") or not host:
        return [
            Error(
                f"POK_API_URL {url!r} is not an http(s) URL.",
                hint="Use https://api.pok.tech/ (production) or https://api.credentity.xyz/ (sandbox).",
                id="openedx_pok.E002",
            )
        ]
    if parts.scheme == "http":
        if host in LOCAL_HOSTS:
            return [
                Warning(
                    f"POK_API_URL {url!r} is plain http: fine for a local fake POK server, never for POK.",
                    hint="Use an https URL outside development.",
                    id="openedx_pok.W001",
                )
            ]
        return [
            Error(
                f"POK_API_URL {url!r} is plain http: the API key would travel unencrypted.",
                hint="Use an https URL.",
                id="openedx_pok.E003",
            )
        ]
    return []


@register()
def check_date_format(app_configs=None, **kwargs):
    date_format = setting("POK_DATE_FORMAT")
    if date_format not in DATE_FORMATS:
        return [
            Error(
                f"POK_DATE_FORMAT {date_format!r} is not a format POK knows.",
                hint=f"Use one of {', '.join(DATE_FORMATS)}.",
                id="openedx_pok.E004",
            )
        ]
    return []


@register()
def check_emission_type(app_configs=None, **kwargs):
    emission_type = setting("POK_EMISSION_TYPE")
    if emission_type not in EmissionType.values:
        return [
            Error(
                f"POK_EMISSION_TYPE {emission_type!r} is not an emission type POK knows.",
                hint=f"Use one of {', '.join(EmissionType.values)}.",
                id="openedx_pok.E005",
            )
        ]
    return []


@register()
def check_default_template(app_configs=None, **kwargs):
    if not pok_in_use() or setting("POK_TEMPLATE_ID"):
        return []
    try:
        has_template_rows = CertificateTemplate.objects.exists()
    except DatabaseError:
        return []  # tables not migrated yet: nothing to say before migrate has run
    if has_template_rows:
        return []
    return [
        Warning(
            "POK_TEMPLATE_ID is empty and no POK certificate template is configured: "
            "every credential will fail for want of a template.",
            hint="Set POK_TEMPLATE_ID, or add templates in the Django admin (POK certificate templates).",
            id="openedx_pok.W002",
        )
    ]


@register()
def check_requesting_timeout(app_configs=None, **kwargs):
    """
    The sweep calls a request older than POK_REQUESTING_TIMEOUT an unknown outcome. If a POST can
    still be waiting for its answer then, POK's answer is lost and an operator's retry pays twice.
    """
    if not pok_in_use():
        return []
    try:
        deadline = call_deadline(setting("POK_TIMEOUT"), setting("POK_CONNECT_TIMEOUT"))
        requesting_timeout = float(setting("POK_REQUESTING_TIMEOUT"))
    except (TypeError, ValueError):
        return []  # not numbers: pok_check names them, and the client cannot start anyway
    needed = deadline + REQUESTING_TIMEOUT_MARGIN
    if requesting_timeout >= needed:
        return []
    return [
        Error(
            f"POK_REQUESTING_TIMEOUT ({requesting_timeout:g} s) must exceed a POK call's deadline "
            f"(POK_CONNECT_TIMEOUT + POK_TIMEOUT = {deadline:g} s) by {REQUESTING_TIMEOUT_MARGIN} s: "
            "otherwise the sweep may call a request still waiting for POK's answer an unknown outcome, "
            "and re-sending it would pay for a second credential.",
            hint=f"Set POK_REQUESTING_TIMEOUT to at least {needed:g}, or lower POK_TIMEOUT.",
            id="openedx_pok.E006",
        )
    ]


@register()
def check_shared_cache(app_configs=None, **kwargs):
    if not pok_in_use():
        return []
    backend = str((getattr(settings, "CACHES", {}) or {}).get("default", {}).get("BACKEND", ""))
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            f"The default cache ({backend}) is not shared between processes: the self-scheduled sweep "
            "may run once per process, and learners' early status checks are limited per process only.",
            hint="Use memcached or Redis for CACHES['default'], as Open edX and Tutor do.",
            id="openedx_pok.W005",
        )
    ]


@register()
def check_custom_parameter_sources(app_configs=None, **kwargs):
    sources = setting("POK_CUSTOM_PARAMETER_SOURCES")
    if not isinstance(sources, dict):
        return [
            Warning(
                f"POK_CUSTOM_PARAMETER_SOURCES is a {type(sources).__name__}, not a dict: it is ignored.",
                hint="Map template parameter ids to source names, e.g. {'final-grade': 'grade'}.",
                id="openedx_pok.W004",
            )
        ]
    known = known_source_names()
    unknown = sorted(
        f"{parameter!r}: {source!r}" for parameter, source in sources.items() if source not in known
    )
    if not unknown:
        return []
    return [
        Warning(
            f"POK_CUSTOM_PARAMETER_SOURCES names sources that do not exist ({', '.join(unknown)}): "
            "credentials from templates with those parameters will fail.",
            hint=f"Known sources: {', '.join(sorted(known))} (see docs/templates.md).",
            id="openedx_pok.W004",
        )
    ]


def known_source_names() -> set[str]:
    """Every value source the payload offers a template parameter (see docs/templates.md)."""
    signatories = tuple(platform_adapter.Signatory() for _ in range(MAX_SIGNATORIES))
    course = SimpleNamespace(
        display_name="",
        number="",
        certificate_configuration=platform_adapter.CertificateConfiguration(signatories=signatories),
    )
    credential = SimpleNamespace(
        user=SimpleNamespace(username=""), grade_percent=None, letter_grade="", course_key="", mode=""
    )
    sources = payload.value_sources(
        credential=credential, course=course, emitter="", title="", learner_name="", issue_date=""
    )
    return set(sources)


def parameter_problems(parameters) -> list[str]:
    """Why each template parameter could not be filled, judged by the payload's own rules."""
    placeholders = dict.fromkeys(known_source_names(), "value")
    problems = []
    for parameter in parameters:
        try:
            payload.fill_custom_parameters([parameter], placeholders)
        except payload.PayloadError as error:
            problems.append(str(error))
    return problems
