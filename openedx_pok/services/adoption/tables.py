"""
The existing plugin's tables: set aside under ``openedx_pok_legacy_*`` by migration 0001 (and put
back when it is reversed), then found and read a batch at a time.
"""

# Each table of the existing plugin under its names before and after its migration 0009, and the
# column that only a table of ours has (a table with it was created by this plugin, not that one).
CERTIFICATE_TABLES = ("openedx_pok_pokcertificate", "openedx_pok_certificatepokapi")
TEMPLATE_TABLES = ("openedx_pok_certificatetemplate", "openedx_pok_coursetemplate")
OUR_COLUMNS = {
    "openedx_pok_pokcertificate": "public_id",
    "openedx_pok_certificatetemplate": "organization",
}
LEGACY_PREFIX = "openedx_pok_legacy_"
BATCH_SIZE = 500


class AdoptionError(Exception):
    """The database is in a state the migration cannot adopt safely; the message says what to do."""


def archive_name(table: str) -> str:
    """openedx_pok_pokcertificate -> openedx_pok_legacy_pokcertificate."""
    return LEGACY_PREFIX + table.removeprefix("openedx_pok_")


def original_name(archive: str) -> str:
    return "openedx_pok_" + archive.removeprefix(LEGACY_PREFIX)


# -- migration 0001: the existing plugin's tables step aside ------------------------------------------


def set_aside_legacy_tables(schema_editor) -> list[tuple[str, str]]:
    """
    Rename the existing plugin's tables to ``openedx_pok_legacy_*`` and drop their foreign keys, so
    that deleting a user or a course never trips over rows no model knows any more. SQLite cannot
    drop a constraint without rebuilding the table; there (tests and development only) they stay.
    """
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    moved = []
    for table in (*CERTIFICATE_TABLES, *TEMPLATE_TABLES):
        if table not in existing:
            continue
        if OUR_COLUMNS.get(table) in _column_names(connection, table):
            raise AdoptionError(
                f"{table} already has this plugin's columns but its migrations are not recorded (a "
                "development version named its first migration 0001_initial). Record them with "
                "`manage.py lms migrate openedx_pok 0002_credentials_and_templates --fake`, then migrate."
            )
        archive = archive_name(table)
        if archive in existing:
            raise AdoptionError(
                f"Both {table} and {archive} exist: the existing POK plugin's tables were set aside "
                f"before. Compare the two, keep one (rename or drop {table}), then migrate again."
            )
        schema_editor.execute(
            schema_editor.sql_rename_table
            % {"old_table": schema_editor.quote_name(table), "new_table": schema_editor.quote_name(archive)}
        )
        if connection.vendor != "sqlite":
            _drop_foreign_keys(schema_editor, archive)
        moved.append((table, archive))
    return moved


def restore_legacy_tables(schema_editor) -> None:
    """Undo :func:`set_aside_legacy_tables` (their foreign keys are not recreated)."""
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    for archive in sorted(name for name in existing if name.startswith(LEGACY_PREFIX)):
        if original_name(archive) not in existing:
            schema_editor.execute(
                schema_editor.sql_rename_table
                % {
                    "old_table": schema_editor.quote_name(archive),
                    "new_table": schema_editor.quote_name(original_name(archive)),
                }
            )


def _drop_foreign_keys(schema_editor, table: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    for name, details in sorted(constraints.items()):
        if details.get("foreign_key"):
            schema_editor.execute(
                schema_editor.sql_delete_fk
                % {"table": schema_editor.quote_name(table), "name": schema_editor.quote_name(name)}
            )


def _column_names(connection, table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [column.name for column in connection.introspection.get_table_description(cursor, table)]


# -- reading the set-aside tables ----------------------------------------------------------------


def legacy_tables(connection) -> dict[str, str]:
    """{"certificates": table, "templates": table} for the set-aside tables that exist."""
    existing = set(connection.introspection.table_names())
    found = {}
    for kind, tables in (("certificates", CERTIFICATE_TABLES), ("templates", TEMPLATE_TABLES)):
        for table in tables:
            if archive_name(table) in existing:
                found[kind] = archive_name(table)
                break
    return found


def iter_legacy_rows(connection, table: str):
    """Every row of a set-aside table as a dict, by id, a batch at a time."""
    columns = _column_names(connection, table)
    quote = connection.ops.quote_name
    select = f"SELECT {', '.join(quote(column) for column in columns)} FROM {quote(table)}"  # noqa: S608
    last_id = None
    while True:
        where, params = ("", []) if last_id is None else (f" WHERE {quote('id')} > %s", [last_id])
        with connection.cursor() as cursor:
            cursor.execute(f"{select}{where} ORDER BY {quote('id')} LIMIT {BATCH_SIZE}", params)
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]
