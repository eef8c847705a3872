"""
Named like the platform's migration that the existing POK plugin's migrations depend on, so that
they run against these stand-ins (tests/legacy_plugin/); the stand-in has nothing to change here.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("course_overviews", "0002_certificate_display"),
    ]

    operations = []
