"""
Settings of the real Celery worker that tests/test_celery_worker.py starts: the test host's
settings, pointed at the test's database, broker, queue and fake POK through the environment.
"""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["POK_WORKER_DB_NAME"]  # noqa: F405
CELERY_BROKER_URL = os.environ["POK_WORKER_BROKER_URL"]
CELERY_TASK_DEFAULT_QUEUE = os.environ["POK_WORKER_QUEUE"]
POK_CELERY_QUEUE = os.environ["POK_WORKER_QUEUE"]
POK_API_URL = os.environ["POK_WORKER_API_URL"]
POK_TIMEOUT = 5
POK_RETRY_BASE_DELAY = 0.2
POK_RETRY_MAX_DELAY = 2
POK_STATUS_POLL_INITIAL_DELAY = 0
POK_STATUS_POLL_MAX_DELAY = 1
if os.environ.get("POK_WORKER_CACHE_URL"):  # the chains' markers, shared with the test's process
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["POK_WORKER_CACHE_URL"],
        }
    }
