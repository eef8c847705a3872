"""
Settings of the test host: built the way LMS builds its own, so the plugin is loaded through its
installed entry point and ``add_plugins``, never listed by hand.
"""

import os

from edx_django_utils.plugins import add_plugins, get_plugin_apps
from lms.envs.common import *  # noqa: F403

SECRET_KEY = "tests-only-secret"
PLATFORM_NAME = "Test Academy"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [*INSTALLED_APPS, *get_plugin_apps("lms.djangoapp")]  # noqa: F405


def mariadb_database(name: str) -> dict:
    """A database on the MySQL-family lane's server: MariaDB on 127.0.0.1:3306 unless DB_* say otherwise."""
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        "USER": os.environ.get("DB_USER", "root"),
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DB_PORT", "3306"),
        "OPTIONS": {"charset": "utf8mb4"},
    }


if os.environ.get("DB_ENGINE") == "mysql":
    DATABASES = {
        "default": {
            **mariadb_database(os.environ.get("DB_NAME", "openedx_pok")),
            "TEST": {"NAME": os.environ.get("DB_TEST_NAME", "test_openedx_pok"), "CHARSET": "utf8mb4"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# Learners are created by the hundred: a deliberately slow password hash would dominate the suite.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")

# The fake POK server replaces these per test; nothing here may reach the real POK.
POK_API_URL = "http://127.0.0.1:9/"
POK_API_KEY = "test-api-key"
POK_TEMPLATE_ID = "default-template"
# The test host talks to a local fake POK over http and runs no Celery beat; tests/test_checks.py
# exercises these checks with run_checks, which reports silenced ones too.
SILENCED_SYSTEM_CHECKS = ["openedx_pok.W001", "openedx_pok.W005"]
# The fake POK server answers with http://127.0.0.1 URLs; production accepts only https on POK's hosts.
POK_ALLOW_INSECURE_LOCAL_URLS = True

add_plugins(__name__, "lms.djangoapp", "common")
add_plugins(__name__, "lms.djangoapp", "test")
