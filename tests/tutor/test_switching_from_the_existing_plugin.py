"""
An operator switching from the existing POK plugin (`pok`, tutor-contrib-pok from the registry) to
this one, with both installed in the same Tutor environment, as the switch happens in practice.
"""

import re
from importlib import metadata

import pytest

pytest.importorskip("tutor.hooks", reason="the Tutor lane needs the tutor package: run `make test-tutor`")

from tests.tutor.conftest import LEGACY_PLUGIN, PLUGIN

LMS_SETTINGS = ("apps", "openedx", "settings", "lms", "production.py")
DOCKERFILE = ("build", "openedx", "Dockerfile")


def _legacy_tutor_plugin_installed() -> bool:
    try:
        metadata.distribution("tutor-contrib-pok")
    except metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _legacy_tutor_plugin_installed(),
    reason="needs the existing plugin, tutor-contrib-pok, installed next to this one (make test-tutor does)",
)


def test_both_plugins_are_installed_side_by_side(tutor_project):
    listing = tutor_project.run("plugins", "list")

    assert re.search(rf"^{LEGACY_PLUGIN}\s", listing, re.MULTILINE)
    assert re.search(rf"^{PLUGIN}\s", listing, re.MULTILINE)


def test_the_key_and_template_saved_for_the_existing_plugin_carry_over(tutor_project):
    tutor_project.run("plugins", "enable", LEGACY_PLUGIN)
    tutor_project.run(
        "config", "save", "--set", "POK_API_KEY=legacy-key", "--set", "POK_TEMPLATE_ID=legacy-tpl"
    )
    tutor_project.run("plugins", "disable", LEGACY_PLUGIN)
    tutor_project.configure()

    lms_settings = tutor_project.rendered(*LMS_SETTINGS)
    assert "POK_API_KEY = 'legacy-key'\n" in lms_settings
    assert "POK_TEMPLATE_ID = 'legacy-tpl'\n" in lms_settings
    assert "tutor-contrib-pok patch" not in tutor_project.rendered(*DOCKERFILE)


def test_with_the_existing_plugin_still_enabled_the_image_ends_with_this_distribution(tutor_project):
    tutor_project.configure(LEGACY_PLUGIN, POK_API_KEY="k")

    dockerfile = tutor_project.rendered(*DOCKERFILE)
    legacy_install = dockerfile.index('pip install "openedx-pok==')
    uninstall = dockerfile.index("pip uninstall --yes openedx-pok\n")
    our_install = dockerfile.index("$PIP_COMMAND install 'openedx-pok-credentials==")
    assert legacy_install < uninstall < our_install


def test_the_init_task_says_to_disable_the_existing_plugin_while_it_is_enabled(tutor_project):
    tutor_project.configure(LEGACY_PLUGIN, POK_API_KEY="k")

    [script] = tutor_project.init_scripts()
    assert "the existing POK plugin (pok) is still enabled" in script
    assert "tutor plugins disable pok" in script


def test_the_init_task_is_quiet_about_the_existing_plugin_once_it_is_disabled(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    [script] = tutor_project.init_scripts()
    assert "existing POK plugin (pok)" not in script
