"""
Run by the existing POK plugin's Python: migrate the site's database (to a given migration of that
plugin, or all of them) and create the scenario read from stdin with that plugin's models; print
what was created as JSON. ``--check`` only counts the rows its models see.
"""

import json
import os
import sys
from pathlib import Path

import django

# This script runs from its own folder: the repository root, which holds our openedx_pok, is not on
# the path, so `openedx_pok` is the installed existing plugin.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platform_stand_ins"))
os.environ["DJANGO_SETTINGS_MODULE"] = "legacy_site_settings"
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402
from opaque_keys.edx.keys import CourseKey  # noqa: E402
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview  # noqa: E402

import openedx_pok  # noqa: E402

CERTIFICATE_MODELS = ("PokCertificate", "CertificatePokApi")
TEMPLATE_MODELS = ("CertificateTemplate", "CourseTemplate")


def plugin_models(target):
    """That plugin's models: its own classes, or those its migrations describe at ``target``."""
    if target is None:
        from openedx_pok.models import CertificateTemplate, PokCertificate

        return PokCertificate, CertificateTemplate
    apps = MigrationLoader(connection).project_state(("openedx_pok", target)).apps
    models = {model.__name__: model for model in apps.get_app_config("openedx_pok").get_models()}
    return (
        next(models[name] for name in CERTIFICATE_MODELS if name in models),
        next(models[name] for name in TEMPLATE_MODELS if name in models),
    )


def seed(scenario):
    target = scenario.get("target")
    if target:
        # The apps it depends on as they are now; only the plugin itself stops at ``target``.
        for app in ("contenttypes", "auth", "course_overviews"):
            call_command("migrate", app, verbosity=0)
    call_command("migrate", *(["openedx_pok", target] if target else []), verbosity=0)
    certificate_model, template_model = plugin_models(target)
    users = {
        username: get_user_model().objects.create_user(username=username, email=f"{username}@example.com")
        for username in scenario.get("users", [])
    }
    for course_id in scenario.get("courses", []):
        course_key = CourseKey.from_string(course_id)
        CourseOverview.objects.create(id=course_key, display_name=course_id, org=course_key.org)
    certificates = [
        certificate_model.objects.create(user_id=users[fields.pop("user")].pk, **fields)
        for fields in scenario.get("certificates", [])
    ]
    templates = [
        template_model.objects.create(course_id=CourseKey.from_string(fields.pop("course")), **fields).pk
        for fields in scenario.get("templates", [])
    ]
    applied = sorted(
        name for app, name in MigrationLoader(connection).applied_migrations if app == "openedx_pok"
    )
    return {
        "plugin_version": openedx_pok.__version__,
        "plugin_file": openedx_pok.__file__,
        "migrations_on_disk": sorted(
            name for app, name in MigrationLoader(connection).disk_migrations if app == "openedx_pok"
        ),
        "applied": applied,
        "users": {username: user.pk for username, user in users.items()},
        "certificates": {certificate.pk: certificate.created.isoformat() for certificate in certificates},
        "templates": templates,
        "certificate_table": certificate_model._meta.db_table,
        "template_table": template_model._meta.db_table,
    }


def check():
    """After this repository's plugin was migrated back to zero: that plugin reads its rows again."""
    certificate_model, template_model = plugin_models(None)
    return {
        "certificates": sorted(certificate_model.objects.values_list("pok_certificate_id", flat=True)),
        "templates": sorted(template_model.objects.values_list("template_id", flat=True)),
    }


if __name__ == "__main__":
    result = check() if "--check" in sys.argv else seed(json.load(sys.stdin))
    json.dump(result, sys.stdout)
