"""The test host's settings on the legacy site's database: this plugin, installed in its place."""

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {"default": json.loads(os.environ["POK_SITE_DATABASE"])}
