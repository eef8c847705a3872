"""
Settings of a site running the existing POK plugin, outside Open edX: what its migrations and
models need (auth, and the platform's course_overviews, here the repository's stand-in).
"""

import json
import os

SECRET_KEY = "legacy-site-tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "openedx.core.djangoapps.content.course_overviews",
    "openedx_pok",
]
DATABASES = {"default": json.loads(os.environ["POK_SITE_DATABASE"])}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
