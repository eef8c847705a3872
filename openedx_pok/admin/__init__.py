"""
Django admin for operators: every credential's state (:mod:`.credentials`), and the course and
organisation templates (:mod:`.certificate_templates`).

The admin is an entry point like the tasks: its actions call the operator services and report what
they did; the state machine, retries and POK calls live in the services, never here. Django's
autodiscovery imports this package; importing each module registers its model's admin.
"""

from openedx_pok.admin import certificate_templates, credentials  # noqa: F401  (they register)
