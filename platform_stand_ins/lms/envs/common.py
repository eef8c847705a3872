"""
The part of LMS's base settings (``lms/envs/common.py``) that the plugin and these stand-ins rely
on, shared by the test host (``tests.settings``) and the demo host (``demo.settings``).

Each host adds its own apps, the plugin apps from ``get_plugin_apps`` and its ``add_plugins``
calls, as the platform's environment files do after importing this module.
"""

from pathlib import Path

DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# LMS's switch for HTML certificates; the certificate web view stand-in honours it like the platform.
FEATURES = {"CERTIFICATES_HTML_VIEW": True}

# LMS names its APM backends here; the hosts have none, so edx-django-utils has nothing to load.
OPENEDX_TELEMETRY = []

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
        # The platform's certificate templates (valid, invalid, server error), as LMS has them.
        "DIRS": [Path(__file__).resolve().parents[1] / "templates"],
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

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"

OPEN_EDX_FILTERS_CONFIG = {}
