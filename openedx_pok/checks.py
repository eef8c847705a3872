"""
Django system checks: operators learn about misconfiguration before learners do.

Errors are settings that make every request to POK fail; warnings are gaps an operator may have a
reason for. Checks read settings only, except the two about template rows: those are database
checks (Django runs them on ``migrate`` and ``check --database``, never on a plain ``check`` nor at
a Celery worker's start-up), and stay silent when the database cannot answer yet.
"""

from importlib import metadata
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router

from openedx_pok import accounts
from openedx_pok.client import call_deadline
from openedx_pok.conf import setting
from openedx_pok.models import CertificateTemplate, EmissionType
from openedx_pok.services.templates import value_sources
from openedx_pok.settings.common import pipeline_steps

DATE_FORMATS = ("dd/MM/yyyy", "MM/dd/yyyy")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Cache backends each process keeps to itself: no use for the plugin's locks and rate limits.
PROCESS_LOCAL_CACHES = frozenset(
    {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}
)
SERVER_ERROR_POLICIES = ("probe", "retry", "outcome_unknown")
# Seconds a request may stay "requesting" beyond its POST's deadline: recording the answer, a busy
# worker, clocks of two hosts that differ a little.
REQUESTING_TIMEOUT_MARGIN = 30
# The existing POK plugin, which this one replaces: its distribution and its two pipeline steps.
LEGACY_DISTRIBUTION = "openedx-pok"
LEGACY_STEPS = ("openedx_pok.filters.CertificateCreatedFilter", "openedx_pok.filters.CertificateRenderFilter")
# A database not migrated yet, not reachable, or not configured at all (settings naming none).
DATABASE_NOT_READY = (DatabaseError, ImproperlyConfigured)


def pok_in_use() -> bool:
    """An installed but unconfigured plugin (e.g. in CMS before setup) should not nag."""
    return bool(setting("POK_ENABLED_FOR_ALL_COURSES") or accounts.any_has_a_key())


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


def template_rows(databases):
    """The template rows when the check was asked for their database, else None (a plain ``check``)."""
    alias = router.db_for_read(CertificateTemplate)
    return CertificateTemplate.objects.using(alias) if alias in (databases or ()) else None


@register(Tags.database)
def check_default_template(app_configs=None, databases=None, **kwargs):
    rows = template_rows(databases)
    if rows is None or not pok_in_use() or setting("POK_TEMPLATE_ID"):
        return []
    try:
        has_template_rows = rows.exists()
    except DATABASE_NOT_READY:
        return []  # nothing to say before migrate has run
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
def check_server_error_policy(app_configs=None, **kwargs):
    policy = setting("POK_POST_SERVER_ERROR_POLICY")
    if policy in SERVER_ERROR_POLICIES:
        return []
    return [
        Error(
            f"POK_POST_SERVER_ERROR_POLICY {policy!r} is not a policy this plugin knows.",
            hint=f"Use one of {', '.join(SERVER_ERROR_POLICIES)} (see ADR 0002, outcome-unknown policy).",
            id="openedx_pok.E007",
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
    unknown = sorted(
        f"{parameter!r}: {source!r}"
        for parameter, source in sources.items()
        if source not in value_sources.SOURCE_NAMES
    )
    if not unknown:
        return []
    return [
        Warning(
            f"POK_CUSTOM_PARAMETER_SOURCES names sources that do not exist ({', '.join(unknown)}): "
            "credentials from templates with those parameters will fail.",
            hint=f"Known sources: {', '.join(sorted(value_sources.SOURCE_NAMES))} (see docs/templates.md).",
            id="openedx_pok.W004",
        )
    ]


@register()
def check_existing_plugin_installed(app_configs=None, **kwargs):
    """Both distributions install the package openedx_pok: whichever came last left the other's files."""
    try:
        legacy = metadata.distribution(LEGACY_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return []
    return [
        Error(
            f"The existing POK plugin ({LEGACY_DISTRIBUTION} {legacy.version}) is installed next to "
            "openedx-pok-credentials, which replaces it: both install the Python package openedx_pok, "
            "so files of one overwrite the other's.",
            hint=(
                f"pip uninstall {LEGACY_DISTRIBUTION}, then pip install --force-reinstall --no-deps "
                "openedx-pok-credentials (Tutor: tutor plugins disable pok, then tutor images build openedx)."
            ),
            id="openedx_pok.E008",
        )
    ]


@register()
def check_existing_plugin_steps(app_configs=None, **kwargs):
    """The existing plugin's pipeline steps no longer exist: a filter listing one fails to load."""
    errors = []
    for filter_type, config in sorted((getattr(settings, "OPEN_EDX_FILTERS_CONFIG", None) or {}).items()):
        for step in pipeline_steps(config):
            if step in LEGACY_STEPS:
                errors.append(
                    Error(
                        f"OPEN_EDX_FILTERS_CONFIG[{filter_type!r}] lists {step!r}, a step of the existing "
                        "POK plugin that this plugin replaces: it cannot be imported, which breaks the "
                        "platform's certificate code when the filter's fail_silently is off.",
                        hint=(
                            f"Remove {step!r} from OPEN_EDX_FILTERS_CONFIG[{filter_type!r}]['pipeline'] "
                            "where you set it (YAML configuration or a settings patch); this plugin adds "
                            "its own steps."
                        ),
                        id="openedx_pok.E009",
                    )
                )
    return errors


@register()
def check_accounts(app_configs=None, **kwargs):
    """POK_ACCOUNTS: a mapping of names to mappings of known keys, each with its own API key."""
    value = setting("POK_ACCOUNTS")
    if not isinstance(value, dict):
        return [_accounts_error(f"POK_ACCOUNTS is a {type(value).__name__}, not a dict.")]
    messages = []
    for name, entry in value.items():
        if name == accounts.DEFAULT:
            messages.append(
                _accounts_error("POK_ACCOUNTS names an account 'default': that one is the POK_* settings.")
            )
        elif not isinstance(entry, dict):
            messages.append(
                _accounts_error(f"POK_ACCOUNTS[{name!r}] is a {type(entry).__name__}, not a dict.")
            )
        elif unknown := sorted(set(entry) - set(accounts.ACCOUNT_KEYS)):
            messages.append(
                _accounts_error(f"POK_ACCOUNTS[{name!r}] has unknown keys: {', '.join(unknown)}.")
            )
        elif not entry.get("API_KEY"):
            messages.append(
                Error(
                    f"POK account {name!r} has no API_KEY: its organisations' credentials cannot be issued "
                    "(they are never sent with another account's key).",
                    hint=f"Set POK_ACCOUNTS[{name!r}]['API_KEY'] to the key of that organisation's account.",
                    id="openedx_pok.E012",
                )
            )
    return messages


def _accounts_error(message: str) -> Error:
    return Error(
        message,
        hint="POK_ACCOUNTS maps an account name to {'API_KEY': ..., 'API_URL': ..., 'TEMPLATE_ID': ..., "
        "'PAGE_ID': ...} (docs/accounts.md).",
        id="openedx_pok.E010",
    )


@register()
def check_organization_accounts(app_configs=None, **kwargs):
    mapping = setting("POK_ORGANIZATION_ACCOUNTS")
    if not isinstance(mapping, dict):
        return [
            Error(
                f"POK_ORGANIZATION_ACCOUNTS is a {type(mapping).__name__}, not a dict.",
                hint="Map organisation short names to account names, e.g. {'SchoolB': 'school-b'}.",
                id="openedx_pok.E011",
            )
        ]
    known = set(accounts.names())
    return [
        Error(
            f"POK_ORGANIZATION_ACCOUNTS maps {organization!r} to the account {account!r}, which POK_ACCOUNTS "
            "does not define: its credentials fail until it does.",
            hint=f"Add {account!r} to POK_ACCOUNTS, or map {organization!r} to {' or '.join(sorted(known))}.",
            id="openedx_pok.E011",
        )
        for organization, account in sorted(mapping.items())
        if account not in known
    ]


@register(Tags.database)
def check_template_accounts(app_configs=None, databases=None, **kwargs):
    """A template row naming an account no longer configured: its courses' credentials fail."""
    rows = template_rows(databases)
    if rows is None:
        return []
    known = set(accounts.names())
    try:
        unknown = sorted(set(rows.exclude(account="").values_list("account", flat=True)) - known)
    except DATABASE_NOT_READY:
        return []  # nothing to say before migrate has run
    return [
        Warning(
            f"POK certificate templates name the account {account!r}, which POK_ACCOUNTS does not define.",
            hint="Add it to POK_ACCOUNTS, or choose another account on those rows in the Django admin.",
            id="openedx_pok.W006",
        )
        for account in unknown
    ]


def database_check_messages() -> list:
    """Our database checks against every configured database, for pok_check (Django's own are left out)."""
    databases = list(connections)
    return [*check_default_template(databases=databases), *check_template_accounts(databases=databases)]
