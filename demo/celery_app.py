"""The demo's Celery application, configured from Django settings as LMS configures its own."""

from celery import Celery

app = Celery("demo")
app.config_from_object("django.conf:settings")
# Like LMS: every installed app's tasks.py, the plugin's included.
app.autodiscover_tasks()
# Tasks the plugin declares with shared_task bind to this app, in the web threads as in the worker.
app.set_default()
