"""
The existing POK plugin's credentials and course templates, set aside by 0001, become this plugin's
rows: emitted ones stay emitted (never sent again), those POK is processing are due for a status
check. What cannot be adopted stays in the openedx_pok_legacy_* tables and is reported here and by
`manage.py lms pok_adoption_report`.
"""

from django.conf import settings
from django.db import migrations

from openedx_pok.services.adoption import copying


def adopt(apps, schema_editor):
    report = copying.adopt(
        schema_editor.connection,
        credential_model=apps.get_model("openedx_pok", "PokCertificate"),
        template_model=apps.get_model("openedx_pok", "CertificateTemplate"),
        user_model=apps.get_model(settings.AUTH_USER_MODEL),
    )
    if report.tables:
        print("".join(f"\n  openedx_pok: {line}" for line in report.summary_lines()), end="\n ")


class Migration(migrations.Migration):
    dependencies = [
        ("openedx_pok", "0002_credentials_and_templates"),
    ]

    # Reversing 0002 drops the adopted rows with our tables; the set-aside tables still hold them.
    operations = [migrations.RunPython(adopt, migrations.RunPython.noop)]
