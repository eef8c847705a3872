"""
Settings of the demo host, built the way LMS builds its own: the plugin arrives through its
installed entry point and ``add_plugins``, never listed by hand.

Values set here before ``add_plugins`` play the operator's configuration (the plugin keeps them);
they shorten the retry and polling delays so that a visitor sees states move within seconds.
"""

import os
import sys
from pathlib import Path

import django
from edx_django_utils.plugins import add_plugins, get_plugin_apps

DEMO_DIR = Path(__file__).resolve().parent
REPO_DIR = DEMO_DIR.parent
STAND_INS_DIR = REPO_DIR / "platform_stand_ins"
if str(STAND_INS_DIR) not in sys.path:
    # The Open edX modules the plugin imports, under their real names (never installed).
    sys.path.insert(0, str(STAND_INS_DIR))

from lms.envs.common import *  # noqa: E402, F403  (importable once the stand-ins are on the path)

SECRET_KEY = "demo-only-insecure-secret-key"
PLATFORM_NAME = "Demo Academy"
ROOT_URLCONF = "demo.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
LOGO_IMAGE_URL = "/static/demo/logo.svg"
# The demo's passwords are printed when it starts: a slow hasher would only slow down seeding and sign-in.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    *INSTALLED_APPS,  # noqa: F405
    "django.contrib.staticfiles",
    "demo",
    *get_plugin_apps("lms.djangoapp"),
]

DEMO_DATABASE_PATH = Path(os.environ.get("DEMO_DB_PATH") or DEMO_DIR / "var" / "demo.sqlite3")
_sqlite_options = {"timeout": 30}
if django.VERSION >= (5, 1):
    # Writers take the lock up front, so the web and worker threads queue instead of deadlocking.
    _sqlite_options["transaction_mode"] = "IMMEDIATE"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DEMO_DATABASE_PATH),
        "OPTIONS": _sqlite_options,
    }
}

# Celery runs inside the demo process: an in-memory broker and an embedded worker (demo.host).
# The platform's Celery app reads Celery's old-style setting names (no namespace); so does the demo's.
BROKER_URL = "memory://"
BROKER_TRANSPORT_OPTIONS = {"polling_interval": 0.2}
CELERY_DEFAULT_QUEUE = "celery"
CELERY_ALWAYS_EAGER = False
CELERY_RESULT_SERIALIZER = "json"
CELERYD_HIJACK_ROOT_LOGGER = False
# Like Tutor, the demo runs no Celery beat: credentials schedule their own retries and status checks.
POK_ADD_BEAT_SCHEDULE = False
# One process: its local-memory cache is shared by everything the demo runs.
SILENCED_SYSTEM_CHECKS = ["openedx_pok.W001", "openedx_pok.W005"]

# The fake POK server's address is only known once it listens; demo.host sets it before Django starts.
# The fallback is the discard port, so a stray command can never reach the real POK.
POK_API_URL = os.environ.get("DEMO_POK_API_URL", "http://127.0.0.1:9/")
POK_API_KEY = "demo-api-key"
POK_TEMPLATE_ID = "demo-default-template"
# River Institute of the Arts issues with its own POK account, and pays with its own credits.
POK_ACCOUNTS = {"river": {"API_KEY": "demo-river-key", "TEMPLATE_ID": "river-arts-template"}}
POK_ORGANIZATION_ACCOUNTS = {"RiverX": "river"}
POK_ALLOW_INSECURE_LOCAL_URLS = True
# The demo templates' custom parameters (demo.seed) and where their values come from.
POK_CUSTOM_PARAMETER_SOURCES = {
    "final-grade": "grade",
    "lead-signatory": "signatory_1_name",
    "course-code": "course_number",
}
POK_RETRY_BASE_DELAY = 2
POK_RETRY_MAX_DELAY = 8
POK_MAX_ATTEMPTS = 6
POK_STATUS_POLL_INITIAL_DELAY = 2
POK_STATUS_POLL_MAX_DELAY = 5
POK_REQUESTING_TIMEOUT = 60
POK_TIMEOUT = 5
POK_CONNECT_TIMEOUT = 2

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "openedx_pok": {"level": "INFO"},
        # The periodic tasks report every few seconds here; their effect shows on the home page.
        "openedx_pok.tasks": {"level": "WARNING"},
        "demo": {"level": "INFO"},
        "celery": {"level": "WARNING"},
        "kombu": {"level": "ERROR"},
        # openedx-filters logs every exception a step raises, with a traceback, including the
        # RenderCustomResponse that is how the render step answers: one per certificate page view.
        # (The plugin's steps log their own failures under openedx_pok.filters.)
        "openedx_filters.tooling": {"level": "CRITICAL"},
        "django.request": {"level": "ERROR"},
    },
}

add_plugins(__name__, "lms.djangoapp", "common")
add_plugins(__name__, "lms.djangoapp", "production")
