"""
The demo host: a small Open edX-like project that loads the plugin exactly as LMS does.

``make demo`` (``python -m demo``) runs it with the bundled fake POK server, an in-process Celery
worker and the periodic tasks, on a SQLite database under ``demo/var/``. It reuses the platform
stand-ins of the test suite (``platform_stand_ins/``), including the two certificate call sites.
"""
