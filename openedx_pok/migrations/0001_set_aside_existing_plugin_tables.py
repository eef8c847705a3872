"""
On a database where the existing POK plugin (the registry's openedx-pok, same app label) ran its
migrations, its tables carry the names of ours: rename them to openedx_pok_legacy_*, where they stay
(docs/decisions/0007-adopting-the-existing-plugins-database.md). On a fresh database: nothing to do.
Migration names of that plugin (0001_initial ... 0012_alter_certificatetemplate_course) must never be
reused here: Django would take them for applied on its sites.
"""

from django.db import migrations

from openedx_pok.services.adoption import tables


def set_aside(apps, schema_editor):
    moved = tables.set_aside_legacy_tables(schema_editor)
    if moved:
        lines = [f"the existing POK plugin's table {table} is kept as {archive}" for table, archive in moved]
        print("".join(f"\n  openedx_pok: {line}" for line in lines), end="\n ")


def restore(apps, schema_editor):
    tables.restore_legacy_tables(schema_editor)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    # Renaming tables is DDL: MySQL cannot run it inside the transaction Django would open for it.
    operations = [migrations.RunPython(set_aside, restore, atomic=False)]
