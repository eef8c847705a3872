"""Which template, landing page and emission type a credential is issued with."""

import pytest

from openedx_pok.models import CertificateTemplate
from openedx_pok.services.templates.template_choice import NoTemplateConfigured, choose_template


@pytest.fixture
def templates(course_key):
    CertificateTemplate.objects.create(organization=course_key.org, template_id="org-all")
    CertificateTemplate.objects.create(
        organization=course_key.org, mode="verified", template_id="org-verified"
    )
    CertificateTemplate.objects.create(course_key=course_key, mode="honor", template_id="course-honor")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "template_id", "scope"),
    [
        ("honor", "course-honor", "course"),
        ("verified", "org-verified", "organization"),
        ("audit", "org-all", "organization"),
    ],
)
def test_templates_are_chosen_course_then_organisation_then_mode(
    course_key, templates, mode, template_id, scope
):
    choice = choose_template(course_key, mode)
    assert (choice.template_id, choice.scope) == (template_id, scope)


@pytest.mark.django_db
def test_a_course_row_for_every_mode_beats_an_organisation_row_for_the_mode(course_key, templates):
    CertificateTemplate.objects.create(course_key=course_key, template_id="course-all", page_id="p1")
    choice = choose_template(course_key, "verified")
    assert (choice.template_id, choice.page_id, choice.scope) == ("course-all", "p1", "course")


@pytest.mark.django_db
def test_without_rows_the_settings_decide(make_course, settings):
    settings.POK_TEMPLATE_ID = "default-template"
    settings.POK_PAGE_ID = "default-page"
    settings.POK_EMISSION_TYPE = "blockchain"
    choice = choose_template(make_course(), "verified")
    assert (choice.template_id, choice.page_id, choice.emission_type, choice.scope) == (
        "default-template",
        "default-page",
        "blockchain",
        "default",
    )
    settings.POK_TEMPLATE_ID = ""
    with pytest.raises(NoTemplateConfigured):
        choose_template(make_course(), "verified")


@pytest.mark.django_db
def test_another_organisations_rows_are_ignored(make_course, settings):
    CertificateTemplate.objects.create(organization="OtherX", template_id="other")
    assert choose_template(make_course(), "verified").template_id == settings.POK_TEMPLATE_ID
