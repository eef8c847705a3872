"""Which POK template, landing page and emission type a learner's credential is issued with."""

from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, Value, When
from opaque_keys.edx.keys import CourseKey

from openedx_pok import accounts
from openedx_pok.conf import setting
from openedx_pok.models import CertificateTemplate


class NoTemplateConfigured(Exception):
    """Neither the course, its organisation nor the POK_TEMPLATE_ID setting names a template."""


@dataclass(frozen=True)
class TemplateChoice:
    template_id: str
    page_id: str
    emission_type: str
    # Where the choice came from ("course", "organization" or "default"), for the admin and logs.
    scope: str
    # The POK account that issues it (accounts.DEFAULT, or a name of POK_ACCOUNTS).
    account: str = accounts.DEFAULT


def choose_template(course_key: CourseKey, mode: str) -> TemplateChoice:
    """
    The course's row, then its organisation's row, then the account's default template; a row for
    the certificate's mode beats the row for every mode at the same level.

    The account: the first of those rows that names one, else the organisation's account
    (POK_ORGANIZATION_ACCOUNTS), else the default one. Raises NoTemplateConfigured, and
    accounts.UnknownAccount for an account no longer configured.
    """
    mode = mode or ""
    rows = list(
        CertificateTemplate.objects.filter(
            Q(course_key=course_key) | Q(organization__iexact=course_key.org),
            mode__in={mode, ""},
        )
        .annotate(
            course_level=Case(
                When(course_key=course_key, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
            any_mode=Case(When(mode="", then=Value(1)), default=Value(0), output_field=IntegerField()),
        )
        .order_by("course_level", "any_mode", "pk")
    )
    account_name = next((row.account for row in rows if row.account), None)
    account = accounts.get(accounts.chosen(account_name, course_key.org))
    default_emission_type = setting("POK_EMISSION_TYPE")
    if rows:
        row = rows[0]
        return TemplateChoice(
            template_id=row.template_id,
            page_id=row.page_id or account.page_id,
            emission_type=row.emission_type or default_emission_type,
            scope="course" if row.course_level == 0 else "organization",
            account=account.name,
        )
    if not account.template_id:
        setting_name = (
            "POK_TEMPLATE_ID" if account.name == accounts.DEFAULT else f"POK_ACCOUNTS[{account.name!r}]"
        )
        raise NoTemplateConfigured(
            f"no POK template for {course_key}: set {setting_name}'s template or add a template row"
        )
    return TemplateChoice(
        template_id=account.template_id,
        page_id=account.page_id,
        emission_type=default_emission_type,
        scope="default",
        account=account.name,
    )
