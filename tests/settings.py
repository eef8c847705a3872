"""
Settings of the test host: built the way LMS builds its own, so the plugin is loaded through its
installed entry point and ``add_plugins``, never listed by hand.
"""

import os

from edx_django_utils.plugins import add_plugins, get_plugin_apps

SECRET_KEY = "tests-only-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
PLATFORM_NAME = "Test Academy"
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "common.djangoapps.student",
    "lms.djangoapps.certificates",
    "openedx.core.djangoapps.content.course_overviews",
    "openedx.core.djangoapps.waffle_utils",
    "openedx.core.djangoapps.user_api",
    "organizations",
    "openedx.core.djangoapps.plugins",
]
INSTALLED_APPS += get_plugin_apps("lms.djangoapp")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crum.CurrentRequestUserMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The platform's certificate templates (stand-ins), as LMS has them in its template dirs.
        "DIRS": [
            os.path.join(os.path.dirname(os.path.dirname(__file__)), "platform_stand_ins", "lms", "templates")
        ],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DB_ENGINE") == "mysql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("DB_NAME", "openedx_pok"),
            "USER": os.environ.get("DB_USER", "root"),
            "PASSWORD": os.environ.get("DB_PASSWORD", ""),
            "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": os.environ.get("DB_TEST_NAME", "test_openedx_pok"), "CHARSET": "utf8mb4"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Learners are created by the hundred: a deliberately slow password hash would dominate the suite.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"

# The fake POK server replaces these per test; nothing here may reach the real POK.
POK_API_URL = "http://127.0.0.1:9/"
POK_API_KEY = "test-api-key"
POK_TEMPLATE_ID = "default-template"
# The test host talks to a local fake POK over http and runs no Celery beat; tests/test_checks.py
# exercises these checks with run_checks, which reports silenced ones too.
SILENCED_SYSTEM_CHECKS = ["openedx_pok.W001", "openedx_pok.W003"]
# The fake POK server answers with http://127.0.0.1 URLs; production accepts only https on POK's hosts.
POK_ALLOW_INSECURE_LOCAL_URLS = True
# LMS's switch for HTML certificates; the certificate web view stand-in honours it like the platform.
FEATURES = {"CERTIFICATES_HTML_VIEW": True}

OPEN_EDX_FILTERS_CONFIG = {}

add_plugins(__name__, "lms.djangoapp", "common")
add_plugins(__name__, "lms.djangoapp", "test")
