"""The test host's settings with no database configured, as a build step or a docs job may run them."""

from tests.settings import *  # noqa: F403

DATABASES = {}
POK_TEMPLATE_ID = ""
POK_ENABLED_FOR_ALL_COURSES = True
