"""
``pok_attach <credential> <POK credential id>``: settle a credential whose outcome is unknown with
the credential found for it in POK's dashboard, without sending it again (no second credit).

``<credential>`` is the row's id (as the admin shows it), its public id (a UUID), or the learner's
Open edX certificate: its verify UUID or its ``/certificates/<verify_uuid>`` link. POK is asked for
the given credential (a GET); it is attached only when its receiver and course are the row's, and
its status is then checked with POK. Any refusal exits with a non-zero status and says why.
"""

import getpass
import uuid

from django.core.management.base import BaseCommand, CommandError

from openedx_pok import platform_adapter
from openedx_pok.client import PokError
from openedx_pok.models import PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions


class Command(BaseCommand):
    help = (
        "Attach the credential found in POK's dashboard to a credential whose outcome is unknown, after "
        "checking its receiver and course with POK: nothing is sent again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "credential",
            help="The row's id or public id, or the Open edX certificate's verify UUID or link.",
        )
        parser.add_argument("pok_credential_id", help="The credential's id, as POK's dashboard shows it.")
        parser.add_argument(
            "--by",
            default="",
            help="Who attaches it, for the credential's history (default: this system user).",
        )

    def handle(self, *args, credential, pok_credential_id, by, **options):
        row = find_credential(credential)
        actor = f"{by or system_user()} (pok_attach)"
        try:
            operator_actions.attach_pok_credential(row, pok_credential_id, actor=actor)
        except lifecycle.IssuanceError as refusal:
            raise CommandError(f"Not attached: {refusal}.") from refusal
        except PokError as error:
            raise CommandError(
                f"POK could not be asked, nothing changed: {lifecycle.describe_error(error)}"
            ) from error
        row.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                f"Attached POK credential {row.pok_credential_id} to credential {row.pk} "
                f"({row.course_key}, user {row.user_id}): now {row.state}, its status is checked with POK."
            )
        )


def find_credential(given: str) -> PokCertificate:
    """The row named by its id, its public id, or the learner's Open edX certificate."""
    text = given.strip().rstrip("/")
    if text.isdigit():
        row = PokCertificate.objects.filter(pk=int(text)).first()
        if row is None:
            raise CommandError(f"No POK credential with id {text}.")
        return row
    reference = text.rsplit("/", 1)[-1]
    try:
        public_id = uuid.UUID(reference)
    except ValueError as error:
        raise CommandError(
            f"{given} is neither a credential's id nor a public id nor an Open edX certificate's verify UUID."
        ) from error
    row = PokCertificate.objects.filter(public_id=public_id).first()
    if row is not None:
        return row
    certificate = platform_adapter.get_certificate_by_verify_uuid(public_id.hex)  # stored without dashes
    if certificate is None:
        raise CommandError(f"No POK credential and no Open edX certificate is known as {reference}.")
    row = PokCertificate.objects.filter(
        user_id=certificate.user_id, course_key=certificate.course_key
    ).first()
    if row is None:
        raise CommandError(
            f"The Open edX certificate {reference} (user {certificate.user_id}, {certificate.course_key}) "
            "has no POK credential."
        )
    return row


def system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "an operator"
