"""What `tutor plugins enable pok-credentials` and `tutor config save` write into a Tutor project's env/."""

import re
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("tutor.hooks", reason="the Tutor lane needs the tutor package: run `make test-tutor`")

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.tutor.conftest import PLUGIN

LMS_SETTINGS = ("apps", "openedx", "settings", "lms", "production.py")
CMS_SETTINGS = ("apps", "openedx", "settings", "cms", "production.py")
LMS_DEVELOPMENT_SETTINGS = ("apps", "openedx", "settings", "lms", "development.py")
DOCKERFILE = ("build", "openedx", "Dockerfile")
COMPOSE_PRODUCTION = ("local", "docker-compose.prod.yml")
K8S_DEPLOYMENTS = ("k8s", "deployments.yml")


def test_the_operators_key_reaches_lms_and_cms_settings(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    for path in (LMS_SETTINGS, CMS_SETTINGS, LMS_DEVELOPMENT_SETTINGS):
        assert "POK_API_KEY = 'k'\n" in tutor_project.rendered(*path)


def test_values_left_empty_in_tutor_are_not_written_so_the_plugin_defaults_apply(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    lms_settings = tutor_project.rendered(*LMS_SETTINGS)
    for name in ("POK_API_URL", "POK_TEMPLATE_ID", "POK_PAGE_ID", "POK_TIMEOUT"):
        assert f"{name} =" not in lms_settings


def test_every_configured_value_is_written(tutor_project):
    tutor_project.configure(
        POK_API_KEY="k",
        POK_API_URL="https://api.credentity.xyz/",
        POK_TEMPLATE_ID="tpl-1",
        POK_PAGE_ID="page-1",
        POK_TIMEOUT="20",
    )

    for path in (LMS_SETTINGS, CMS_SETTINGS):
        settings = tutor_project.rendered(*path)
        assert "POK_API_URL = 'https://api.credentity.xyz/'\n" in settings
        assert "POK_TEMPLATE_ID = 'tpl-1'\n" in settings
        assert "POK_PAGE_ID = 'page-1'\n" in settings
        assert "POK_TIMEOUT = 20\n" in settings


THIS_PROJECT = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
)["project"]


def pip_commands(dockerfile: str) -> list[tuple[str, str]]:
    """Every `pip install` or `pip uninstall` of the image, in order, with its single quoted argument."""
    return re.findall(r"(?:\bpip|\$PIP_COMMAND) (install|uninstall --yes) [\"']?([^\"'\s]+)", dockerfile)


def test_the_image_installs_this_repositorys_distribution_at_its_version_by_default(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    installed = [
        argument
        for command, argument in pip_commands(tutor_project.rendered(*DOCKERFILE))
        if command == "install"
    ]
    [requirement] = [Requirement(argument) for argument in installed if "pok" in argument]
    assert canonicalize_name(requirement.name) == canonicalize_name(THIS_PROJECT["name"])
    assert requirement.name == "openedx-pok-credentials"
    assert str(requirement.specifier) == f"=={THIS_PROJECT['version']}"


def test_the_existing_plugins_distribution_is_removed_before_ours_is_installed(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    commands = [
        (command, argument)
        for command, argument in pip_commands(tutor_project.rendered(*DOCKERFILE))
        if "pok" in argument
    ]
    assert commands == [
        ("uninstall --yes", "openedx-pok"),
        ("install", f"openedx-pok-credentials=={THIS_PROJECT['version']}"),
    ]


def test_the_requirement_can_point_at_a_git_checkout(tutor_project):
    requirement = "openedx-pok-credentials @ git+https://github.com/example/openedx-pok.git@main"
    tutor_project.configure(POK_API_KEY="k", POK_PIP_REQUIREMENT=requirement)

    dockerfile = tutor_project.rendered(*DOCKERFILE)
    assert f"$PIP_COMMAND install '{requirement}'" in dockerfile
    assert "install 'openedx-pok-credentials==" not in dockerfile


def test_an_empty_requirement_installs_nothing_but_still_removes_the_existing_plugin(tutor_project):
    tutor_project.configure(POK_API_KEY="k", POK_PIP_REQUIREMENT="")

    assert [
        (command, argument)
        for command, argument in pip_commands(tutor_project.rendered(*DOCKERFILE))
        if "pok" in argument
    ] == [("uninstall --yes", "openedx-pok")]


def test_an_extra_requirement_that_installs_the_existing_plugin_stops_the_build(tutor_project):
    spellings = ["openedx-pok==21.0.1", "openedx_pok", "Openedx-Pok>=21"]
    tutor_project.configure(POK_API_KEY="k")
    appends = [
        argument
        for spelling in spellings
        for argument in ("--append", f"OPENEDX_EXTRA_PIP_REQUIREMENTS={spelling}")
    ]
    tutor_project.run("config", "save", *appends)

    dockerfile = tutor_project.rendered(*DOCKERFILE)
    failing_steps = [line for line in dockerfile.splitlines() if line.endswith("exit 1")]
    assert len(failing_steps) == len(spellings)
    for spelling, failing_step in zip(spellings, failing_steps, strict=True):
        assert f"OPENEDX_EXTRA_PIP_REQUIREMENTS installs {spelling}" in failing_step
        assert f"tutor config save --remove 'OPENEDX_EXTRA_PIP_REQUIREMENTS={spelling}'" in failing_step


def test_other_extra_requirements_leave_the_build_alone(tutor_project):
    tutor_project.configure(POK_API_KEY="k")
    tutor_project.run("config", "save", "--append", "OPENEDX_EXTRA_PIP_REQUIREMENTS=openedx-pok-extras")

    assert "exit 1" not in tutor_project.rendered(*DOCKERFILE)


def test_the_beat_schedule_runs_sweep_and_status_sync_in_lms_only(tutor_project):
    tutor_project.configure(POK_API_KEY="k", POK_SWEEP_INTERVAL="120")

    lms_settings = tutor_project.rendered(*LMS_SETTINGS)
    assert 'CELERYBEAT_SCHEDULE = dict(globals().get("CELERYBEAT_SCHEDULE") or {})' in lms_settings
    assert '"task": "openedx_pok.tasks.sweep_credentials",\n    "schedule": 120.0,' in lms_settings
    assert '"task": "openedx_pok.tasks.sync_credential_statuses",\n    "schedule": 60.0,' in lms_settings
    assert "CELERYBEAT_SCHEDULE" not in tutor_project.rendered(*CMS_SETTINGS)


def test_no_celery_beat_runs_unless_the_operator_asks_for_it(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    assert "pok-beat" not in yaml.safe_load(tutor_project.rendered(*COMPOSE_PRODUCTION))["services"]
    assert "pok-beat" not in tutor_project.rendered(*K8S_DEPLOYMENTS)


def test_one_celery_beat_service_runs_with_the_lms_settings_when_asked_for(tutor_project):
    tutor_project.configure(POK_API_KEY="k", POK_RUN_CELERY_BEAT="true")

    services = yaml.safe_load(tutor_project.rendered(*COMPOSE_PRODUCTION))["services"]
    beat = services["pok-beat"]
    assert beat["command"][:3] == ["celery", "--app=lms.celery", "beat"]
    assert beat["environment"]["DJANGO_SETTINGS_MODULE"] == "lms.envs.tutor.production"
    assert beat["image"] == services["lms-worker"]["image"]

    deployments = {
        document["metadata"]["name"]: document
        for document in yaml.safe_load_all(tutor_project.rendered(*K8S_DEPLOYMENTS))
        if document
    }
    k8s_beat = deployments["pok-beat"]["spec"]
    assert k8s_beat["replicas"] == 1
    assert k8s_beat["strategy"]["type"] == "Recreate"
    assert k8s_beat["template"]["spec"]["containers"][0]["args"][:3] == ["celery", "--app=lms.celery", "beat"]


def test_operators_who_run_their_own_beat_can_leave_ours_out(tutor_project):
    tutor_project.configure(POK_API_KEY="k", POK_RUN_CELERY_BEAT="false")

    assert "pok-beat" not in yaml.safe_load(tutor_project.rendered(*COMPOSE_PRODUCTION))["services"]
    assert "pok-beat" not in tutor_project.rendered(*K8S_DEPLOYMENTS)


def test_the_init_task_migrates_and_leaves_the_course_switch_alone_by_default(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    [script] = tutor_project.init_scripts()
    assert "./manage.py lms migrate openedx_pok" in script
    assert "waffle_flag" not in script


def test_the_init_task_reports_what_it_adopted_from_the_existing_plugin_after_migrating(tutor_project):
    tutor_project.configure(POK_API_KEY="k")

    [script] = tutor_project.init_scripts()
    assert script.index("./manage.py lms migrate openedx_pok") < script.index(
        "./manage.py lms pok_adoption_report --summary"
    )
    # With no beat, adopted credentials POK is still processing are checked at once.
    assert script.index("./manage.py lms pok_adoption_report --summary") < script.index(
        "./manage.py lms pok_sync"
    )


def test_the_init_task_switches_every_course_on_when_asked(tutor_project):
    tutor_project.configure(POK_API_KEY="k", POK_ENABLE_ALL_COURSES="true")

    [script] = tutor_project.init_scripts()
    assert script.index("./manage.py lms migrate openedx_pok") < script.index(
        "./manage.py lms waffle_flag openedx_pok.enable_pok_certificates --everyone --create"
    )


def test_the_init_task_warns_while_the_api_key_is_empty(tutor_project):
    tutor_project.configure()

    [script] = tutor_project.init_scripts()
    assert "POK_API_KEY is empty" in script
    assert "POK_API_KEY =" not in tutor_project.rendered(*LMS_SETTINGS)


def test_disabling_the_plugin_removes_everything_it_rendered(tutor_project):
    tutor_project.configure(POK_API_KEY="k")
    tutor_project.run("plugins", "disable", PLUGIN)

    assert "POK_" not in tutor_project.rendered(*LMS_SETTINGS)
    assert "openedx-pok" not in tutor_project.rendered(*DOCKERFILE)
    assert "pok-beat" not in tutor_project.rendered(*COMPOSE_PRODUCTION)
