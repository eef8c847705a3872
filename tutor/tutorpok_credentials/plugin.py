"""
Tutor plugin for openedx-pok-credentials: installs the package into the Open edX image, writes the
operator's POK configuration into the LMS and CMS settings, runs the init job, and optionally a
Celery beat for the safety net's periodic tasks.

Its configuration keeps the `POK_` names of the existing POK plugin (`pok`, tutor-contrib-pok), so
the key and default template an operator saved for that plugin carry over when switching.
"""

import re
from importlib import metadata, resources

from tutor import hooks

# The Python distribution this plugin installs, released with the same version number.
PLUGIN_DISTRIBUTION = "openedx-pok-credentials"
# The existing POK plugin's distribution: it ships the same `openedx_pok` package, never both.
LEGACY_DISTRIBUTION = "openedx-pok"

# Empty values (empty string or null) are not written into the settings, so that the plugin's own
# defaults apply (for POK_API_URL: POK's production API, or its sandbox under `tutor dev`).
CONFIG_DEFAULTS = {
    "PIP_REQUIREMENT": f"{PLUGIN_DISTRIBUTION}=={metadata.version('tutor-contrib-pok-credentials')}",
    "API_URL": "",
    "API_KEY": "",
    "TEMPLATE_ID": "",
    "PAGE_ID": "",
    "TIMEOUT": None,
    "ENABLE_ALL_COURSES": False,
    # Credentials drive themselves; a beat only adds the safety net's periodic runs (ADR 0005).
    "RUN_CELERY_BEAT": False,
    # More POK accounts and the organisations that use them (docs/accounts.md); keys stay in the config.
    "ACCOUNTS": {},
    "ORGANIZATION_ACCOUNTS": {},
    "SWEEP_INTERVAL": 60,
    "STATUS_SYNC_INTERVAL": 60,
}

# `tutor config save --set` parses values as YAML: an all-digit key or id must still reach the
# platform as a string.
PLUGIN_SETTINGS_FROM_CONFIG = {
    "API_URL": "|string",
    "API_KEY": "|string",
    "TEMPLATE_ID": "|string",
    "PAGE_ID": "|string",
    "TIMEOUT": "",
}

# Mappings, written into the settings only when the operator filled them in.
PLUGIN_MAPPINGS_FROM_CONFIG = ("ACCOUNTS", "ORGANIZATION_ACCOUNTS")

hooks.Filters.CONFIG_DEFAULTS.add_items([(f"POK_{name}", value) for name, value in CONFIG_DEFAULTS.items()])


def legacy_requirements(requirements) -> list[str]:
    """The requirements, among ``requirements``, that would install the existing POK plugin."""
    return [
        requirement
        for requirement in requirements or []
        if re.split(r"[\s<>=!~;@\[(]", str(requirement).strip(), maxsplit=1)[0].lower().replace("_", "-")
        == LEGACY_DISTRIBUTION
    ]


hooks.Filters.ENV_TEMPLATE_FILTERS.add_items(
    [("pok_python_literal", repr), ("pok_legacy_requirements", legacy_requirements)]
)


def _package_text(*parts: str) -> str:
    return resources.files("tutorpok_credentials").joinpath(*parts).read_text(encoding="utf-8")


def _settings_patch(extra: str = "") -> str:
    """Settings lines for the values the operator configured; the plugin fills in the rest."""
    lines = [
        "# openedx-pok-credentials: values from the Tutor configuration (empty ones keep the defaults)\n"
    ]
    for name, conversion in PLUGIN_SETTINGS_FROM_CONFIG.items():
        lines.append(
            f"{{% if POK_{name} is not none and POK_{name} != '' %}}"
            f"POK_{name} = {{{{ POK_{name}{conversion}|pok_python_literal }}}}\n{{% endif %}}"
        )
    for name in PLUGIN_MAPPINGS_FROM_CONFIG:
        lines.append(
            f"{{% if POK_{name} %}}POK_{name} = {{{{ POK_{name}|pok_python_literal }}}}\n{{% endif %}}"
        )
    lines.extend([extra, "# end of openedx-pok-credentials settings\n"])
    return "".join(lines)


hooks.Filters.ENV_PATCHES.add_items(
    [
        (
            "openedx-lms-common-settings",
            _settings_patch(_package_text("patches", "openedx-lms-common-settings")),
        ),
        ("openedx-cms-common-settings", _settings_patch()),
        (
            "local-docker-compose-prod-services",
            _package_text("patches", "local-docker-compose-prod-services"),
        ),
        ("k8s-deployments", _package_text("patches", "k8s-deployments")),
    ]
)

# Last among the image's post-requirements steps: it removes the existing plugin's distribution, which
# that plugin's own step (when still enabled) installs just before.
hooks.Filters.ENV_PATCHES.add_item(
    (
        "openedx-dockerfile-post-python-requirements",
        _package_text("patches", "openedx-dockerfile-post-python-requirements"),
    ),
    priority=hooks.priorities.LOW,
)

# Tutor loads the plugin inside its own context, so `tutor local do init --limit=pok-credentials`
# runs only this.
hooks.Filters.CLI_DO_INIT_TASKS.add_item(("lms", _package_text("jobs", "init-lms.sh")))
