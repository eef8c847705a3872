"""
One database of a site switching plugins, driven from both sides: the existing POK plugin's Python
(``seed.py`` in .venv-legacy) and this plugin's (``manage``), each in its own process, as on a site.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]


def legacy_python() -> Path:
    """The existing plugin's interpreter; `make test` builds it and says where (POK_LEGACY_PYTHON)."""
    path = os.environ.get("POK_LEGACY_PYTHON")
    if not path:
        pytest.skip("needs the existing POK plugin's environment: run the suite with `make test`")
    assert Path(path).is_file(), f"POK_LEGACY_PYTHON={path} does not exist: run `make test` to build it"
    return Path(path)


class LegacySite:
    def __init__(self, database: dict):
        self.database = database

    @classmethod
    def create(cls, directory: Path, name: str) -> "LegacySite":
        """A new empty database: a SQLite file, or in the MySQL lane a MariaDB database of its own."""
        if os.environ.get("DB_ENGINE") != "mysql":
            return cls({"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / f"{name}.sqlite3")})
        database = {
            "ENGINE": "django.db.backends.mysql",
            "NAME": f"{os.environ.get('DB_TEST_NAME', 'test_openedx_pok')}_{name}",
            "USER": os.environ.get("DB_USER", "root"),
            "PASSWORD": os.environ.get("DB_PASSWORD", ""),
            "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
        }
        site = cls(database)
        site._server(f"DROP DATABASE IF EXISTS `{database['NAME']}`", f"CREATE DATABASE `{database['NAME']}`")
        return site

    def drop(self) -> None:
        if self.database["ENGINE"].endswith("mysql"):
            self._server(f"DROP DATABASE IF EXISTS `{self.database['NAME']}`")

    def _server(self, *statements: str) -> None:
        import MySQLdb

        settings = self.database
        server = MySQLdb.connect(
            host=settings["HOST"],
            port=int(settings["PORT"]),
            user=settings["USER"],
            password=settings["PASSWORD"],
        )
        try:
            for statement in statements:
                server.cursor().execute(statement)
        finally:
            server.close()

    def _environment(self) -> dict:
        environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        environment["POK_SITE_DATABASE"] = json.dumps(self.database)
        return environment

    def _run(self, command: list, stdin: str = "", *, may_fail: bool = False) -> str:
        result = subprocess.run(  # noqa: S603  (interpreters of this repository's environments)
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=self._environment(),
            cwd=REPOSITORY,
            check=False,
            timeout=600,
        )
        failed = f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
        assert may_fail or result.returncode == 0, failed
        assert "Traceback" not in result.stderr, failed
        return result.stdout

    def seed(self, scenario: dict) -> dict:
        """Migrate with the existing plugin and create ``scenario`` with its models."""
        return json.loads(self._run([str(legacy_python()), str(HERE / "seed.py")], json.dumps(scenario)))

    def read_with_existing_plugin(self) -> dict:
        return json.loads(self._run([str(legacy_python()), str(HERE / "seed.py"), "--check"]))

    def manage(self, *arguments: str, may_fail: bool = False) -> str:
        """A management command of this plugin's host on the site's database; its standard output."""
        return self._run(
            [
                sys.executable,
                "-m",
                "django",
                *arguments,
                "--settings=tests.legacy_plugin.adopting_site_settings",
                "--pythonpath=.",
                "--pythonpath=platform_stand_ins",
            ],
            may_fail=may_fail,
        )

    def table_row_counts(self) -> dict[str, int]:
        """Rows in each table of the app, the set-aside ones included, as the database holds them."""
        code = "\n".join(
            [
                "import json",
                "from django.db import connection",
                "counts = {}",
                "with connection.cursor() as cursor:",
                "    for table in connection.introspection.table_names():",
                "        if table.startswith('openedx_pok_'):",
                "            cursor.execute(f'SELECT COUNT(*) FROM {table}')",
                "            counts[table] = cursor.fetchone()[0]",
                "print(json.dumps(counts))",
            ]
        )
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])
