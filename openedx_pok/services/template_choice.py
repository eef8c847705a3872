"""Which POK template, landing page and emission type a learner's credential is issued with."""

from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, Value, When
from opaque_keys.edx.keys import CourseKey

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


def choose_template(course_key: CourseKey, mode: str) -> TemplateChoice:
    """
    The course's row, then its organisation's row, then the settings; a row for the certificate's
    mode beats the row for every mode at the same level.
    """
    mode = mode or ""
    rows = (
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
    default_emission_type = setting("POK_EMISSION_TYPE")
    row = rows.first()
    if row is not None:
        return TemplateChoice(
            template_id=row.template_id,
            page_id=row.page_id or setting("POK_PAGE_ID") or "",
            emission_type=row.emission_type or default_emission_type,
            scope="course" if row.course_level == 0 else "organization",
        )
    template_id = setting("POK_TEMPLATE_ID")
    if not template_id:
        raise NoTemplateConfigured(
            f"no POK template for {course_key}: set POK_TEMPLATE_ID or add a template row"
        )
    return TemplateChoice(
        template_id=template_id,
        page_id=setting("POK_PAGE_ID") or "",
        emission_type=default_emission_type,
        scope="default",
    )
