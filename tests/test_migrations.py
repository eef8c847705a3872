"""Data migrations, run forward on rows written with the models as they were before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

REVOCATION_ORIGIN = ("openedx_pok", "0002_revocation_origin")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_revocation_origin():
    """The database as it was before the revocation origin became a column; migrated back to the end after."""
    graph = MigrationExecutor(connection).loader.graph
    previous = [
        node.key for node in graph.node_map[REVOCATION_ORIGIN].parents if node.key[0] == "openedx_pok"
    ]
    yield migrate(previous)
    migrate(graph.leaf_nodes("openedx_pok"))


def test_who_revoked_is_read_from_the_history_notes(before_revocation_origin):
    apps = before_revocation_origin
    user_model = apps.get_model("auth", "User")
    credential_model = apps.get_model("openedx_pok", "PokCertificate")
    rows = {
        "platform": ("revoked", "certificate revoked in Open edX", "ana@example.com"),
        "pok": ("revoked", "revoked in POK", "ana@example.com"),
        "operator": ("revoked", "issued by mistake (by staff)", "ana@example.com"),
        "retirement": ("revoked", "learner retired", ""),
        # Retirement blanked the notes of a row revoked earlier; the e-mail went with them.
        "retired later": ("revoked", "", ""),
        "not revoked": ("emitted", "emitted by POK", "ana@example.com"),
    }
    for number, (label, (state, note, email)) in enumerate(rows.items()):
        user = user_model.objects.create(username=f"learner{number}")
        credential_model.objects.create(
            user=user,
            course_key=f"course-v1:ExampleX+PY{number}+2026",
            state=state,
            receiver_email=email,
            history=[{"at": "2026-01-01T00:00:00+00:00", "from": "emitted", "to": state, "note": note}],
            template_id=label,
        )

    apps = migrate([REVOCATION_ORIGIN])

    credential_model = apps.get_model("openedx_pok", "PokCertificate")
    origins = dict(credential_model.objects.values_list("template_id", "revoked_by"))
    assert origins == {
        "platform": "platform",
        "pok": "pok",
        "operator": "operator",
        "retirement": "retirement",
        "retired later": "retirement",
        "not revoked": "",
    }
