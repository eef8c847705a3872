"""
The Celery application of the MariaDB lane's real worker (``celery -A tests.celery_app worker``),
configured from Django settings like LMS's own application, with the plugin's tasks autodiscovered.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.celery_worker_settings")

app = Celery("openedx_pok_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
