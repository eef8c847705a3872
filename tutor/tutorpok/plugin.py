"""
Tutor plugin for openedx-pok: installs the package into the Open edX image, writes the operator's
POK configuration into the LMS and CMS settings, runs the periodic tasks and the init job.
"""

from importlib import resources

from tutor import hooks

# Empty values (empty string or null) are not written into the settings, so that the plugin's own
# defaults apply (for POK_API_URL: POK's production API, or its sandbox under `tutor dev`).
CONFIG_DEFAULTS = {
    "PIP_REQUIREMENT": "openedx-pok",
    "API_URL": "",
    "API_KEY": "",
    "TEMPLATE_ID": "",
    "PAGE_ID": "",
    "TIMEOUT": None,
    "ENABLE_ALL_COURSES": False,
    "RUN_CELERY_BEAT": True,
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

hooks.Filters.CONFIG_DEFAULTS.add_items([(f"POK_{name}", value) for name, value in CONFIG_DEFAULTS.items()])

hooks.Filters.ENV_TEMPLATE_FILTERS.add_item(("pok_python_literal", repr))


def _package_text(*parts: str) -> str:
    return resources.files("tutorpok").joinpath(*parts).read_text(encoding="utf-8")


def _settings_patch(extra: str = "") -> str:
    """Settings lines for the values the operator configured; the plugin fills in the rest."""
    lines = ["# openedx-pok: values from the Tutor configuration (empty ones keep the plugin's defaults)\n"]
    for name, conversion in PLUGIN_SETTINGS_FROM_CONFIG.items():
        lines.append(
            f"{{% if POK_{name} is not none and POK_{name} != '' %}}"
            f"POK_{name} = {{{{ POK_{name}{conversion}|pok_python_literal }}}}\n{{% endif %}}"
        )
    lines.extend([extra, "# end of openedx-pok settings\n"])
    return "".join(lines)


hooks.Filters.ENV_PATCHES.add_items(
    [
        (
            "openedx-lms-common-settings",
            _settings_patch(_package_text("patches", "openedx-lms-common-settings")),
        ),
        ("openedx-cms-common-settings", _settings_patch()),
        (
            "openedx-dockerfile-post-python-requirements",
            _package_text("patches", "openedx-dockerfile-post-python-requirements"),
        ),
        (
            "local-docker-compose-prod-services",
            _package_text("patches", "local-docker-compose-prod-services"),
        ),
        ("k8s-deployments", _package_text("patches", "k8s-deployments")),
    ]
)

# Tutor loads the plugin inside its own context, so `tutor local do init --limit=pok` runs only this.
hooks.Filters.CLI_DO_INIT_TASKS.add_item(("lms", _package_text("jobs", "init-lms.sh")))
