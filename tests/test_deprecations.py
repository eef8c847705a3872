"""
Python 3.12 (Verawood's) without a 3.12 interpreter: every module of the plugin imported in a fresh
process with DeprecationWarning (Django's RemovedIn... warnings included) an error for warnings
raised on behalf of the plugin's own code. The libraries' own warnings about Python 3.11 are theirs.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, warnings
warnings.simplefilter("default")
warnings.filterwarnings("error", category=DeprecationWarning, module=r"openedx_pok(\\.|$)")
warnings.filterwarnings("error", category=PendingDeprecationWarning, module=r"openedx_pok(\\.|$)")
warnings.filterwarnings("ignore", message="Python 3.11 support is deprecated", category=DeprecationWarning)
import django
django.setup()
import openedx_pok
names = sorted(module.name for module in pkgutil.walk_packages(openedx_pok.__path__, "openedx_pok."))
for name in names:
    importlib.import_module(name)
print(len(names), "modules imported")
"""


def test_every_module_of_the_plugin_imports_without_a_deprecation_of_its_own():
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", IMPORT_EVERY_MODULE],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform_stand_ins")]),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = int(result.stdout.split()[0])
    assert imported > 40, result.stdout
