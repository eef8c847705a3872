"""
A throwaway Tutor project driven through the real `tutor` CLI: no Docker, and a recording stand-in
for the `docker` executable where Tutor would start a container.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTOR_EXECUTABLE = Path(sys.executable).with_name("tutor")
# This repository's Tutor plugin, and the existing POK plugin's, which it replaces.
PLUGIN = "pok-credentials"
LEGACY_PLUGIN = "pok"

# Records its arguments; `docker compose ls` answers that no project is running.
FAKE_DOCKER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if "ls" in sys.argv:
    print("[]")
"""


class TutorProject:
    """A Tutor root in a temporary directory, with the operator's commands and the rendered env."""

    def __init__(self, base: Path):
        self.root = base / "tutor-root"
        self.docker_log = base / "docker-calls.jsonl"
        fake_bin = base / "bin"
        fake_bin.mkdir()
        fake_docker = fake_bin / "docker"
        fake_docker.write_text(FAKE_DOCKER.format(python=sys.executable), encoding="utf-8")
        fake_docker.chmod(0o755)
        self.environ = {
            **os.environ,
            "TUTOR_ROOT": str(self.root),
            "TUTOR_PLUGINS_ROOT": str(base / "tutor-plugins"),
            "FAKE_DOCKER_LOG": str(self.docker_log),
            "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def run(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603  (the tutor executable installed next to this Python)
            [str(TUTOR_EXECUTABLE), *args],
            env=self.environ,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"tutor {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def configure(self, *extra_plugins: str, **values: str) -> None:
        """`tutor plugins enable pok-credentials [others]`, then `tutor config save --set NAME=value ...`."""
        self.run("plugins", "enable", PLUGIN, *extra_plugins)
        sets = [argument for name, value in values.items() for argument in ("--set", f"{name}={value}")]
        self.run("config", "save", *sets)

    def rendered(self, *path: str) -> str:
        return self.root.joinpath("env", *path).read_text(encoding="utf-8")

    def init_scripts(self) -> list[str]:
        """Run `tutor local do init --limit=pok-credentials`; the scripts handed to the job containers."""
        self.docker_log.unlink(missing_ok=True)
        self.run("local", "do", "init", f"--limit={PLUGIN}")
        calls = [json.loads(line) for line in self.docker_log.read_text(encoding="utf-8").splitlines()]
        return [call[-1] for call in calls if call[-4:-1] == ["sh", "-e", "-c"]]


@pytest.fixture
def tutor_project(tmp_path):
    return TutorProject(tmp_path)
