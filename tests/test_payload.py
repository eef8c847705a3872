"""The POST credential body: names, language tags, dates, grades, template choice and parameters."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from openedx_pok.client import TemplateParameter
from openedx_pok.models import CertificateTemplate, PokCertificate
from openedx_pok.services import payload
from openedx_pok.services.payload import PayloadError
from openedx_pok.services.template_choice import NoTemplateConfigured, choose_template


@pytest.mark.parametrize(
    ("full_name", "account_parts", "expected"),
    [
        ("Ana García", ("", ""), ("Ana", "García")),
        ("  Ana   María  García López ", ("", ""), ("Ana", "María García López")),
        ("García, Ana", ("", ""), ("Ana", "García")),
        ("García López, Ana María", ("", ""), ("Ana María", "García López")),
        ("Madonna", ("", ""), ("Madonna", "")),
        ("Madonna,", ("", ""), ("Madonna", "")),
        ("", ("", ""), ("ana42", "")),
        ("   ", ("", ""), ("ana42", "")),
        ("Ana María García", ("Ana María", "García"), ("Ana María", "García")),
        ("", ("Ana María", "García"), ("Ana María", "García")),
        ("Ana G. Smith", ("Ana", "Gómez"), ("Ana", "G. Smith")),
        (",", ("", ""), ("ana42", "")),
        (" , ", ("", ""), ("ana42", "")),
        (",,,", ("", ""), ("ana42", "")),
        ("-", (",", ","), ("ana42", "")),
        ("\u200b\u202e\u2066", ("", ""), ("ana42", "")),
        (",", ("\u200b", "\u200d"), ("ana42", "")),
        ("A\u200bna Gar\u2060cía", ("", ""), ("Ana", "García")),
        ("\u202eaicraG anA", ("", ""), ("aicraG", "anA")),
        ("Ana\u2067 García\u2069", ("", ""), ("Ana", "García")),
        ("\ufeffAna\u00ad García", ("", ""), ("Ana", "García")),
        ("Ana\nGarcía\tLópez", ("", ""), ("Ana", "García López")),
        ("Ana\x07 García", ("", ""), ("Ana", "García")),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            ("", ""),
            ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", ""),
        ),
        ("Ana\u200c García\u200d", ("", ""), ("Ana", "García")),
        ("Ana García", ("Ana\u200b", "García\u202e"), ("Ana", "García")),
    ],
    ids=repr,
)
def test_names_are_split_robustly(full_name, account_parts, expected):
    first_name, last_name = account_parts
    assert (
        payload.split_name(full_name, first_name=first_name, last_name=last_name, username="ana42")
        == expected
    )


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("es_AR", "es-AR"),
        ("es-ar", "es-AR"),
        ("pt-br", "pt-BR"),
        ("PT_BR", "pt-BR"),
        ("zh-hans", "zh-Hans"),
        ("zh_hans_cn", "zh-Hans-CN"),
        ("es-419", "es-419"),
        ("fr", "fr"),
        ("", ""),
        ("not a language", ""),
        ("x", ""),
    ],
)
def test_language_tags_are_normalised_to_bcp_47(tag, expected):
    assert payload.normalize_language_tag(tag) == expected


@pytest.mark.parametrize(
    ("learner", "site", "default", "expected"),
    [
        ("es_AR", "en", "en-US", "es-AR"),
        ("", "pt-br", "en-US", "pt-BR"),
        ("", "", "es-AR", "es-AR"),
        ("en", "fr", "en-US", "en-US"),  # a bare language borrows the default's region
        ("fr", "en", "en-US", "fr"),
        ("gibberish!", "", "en-GB", "en-GB"),
        ("", "", "", "en-US"),
    ],
)
def test_language_tag_comes_from_the_learner_then_the_site_then_the_setting(
    settings, learner, site, default, expected
):
    settings.LANGUAGE_CODE = site
    settings.POK_DEFAULT_LANGUAGE = default
    assert payload.resolve_language_tag(learner) == expected


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (Decimal("88.00"), "88"),
        (Decimal("87.50"), "88"),
        (Decimal("87.49"), "87"),
        (Decimal("100.00"), "100"),
        (Decimal("0.00"), "0"),
        (None, ""),
    ],
)
def test_grades_are_whole_percentages_rounded_half_up(percent, expected):
    assert payload.grade_string(percent) == expected


def test_issue_dates_follow_poks_date_format():
    moment = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    assert payload.format_issue_date(moment, "dd/MM/yyyy") == "07/03/2026"
    assert payload.format_issue_date(moment, "MM/dd/yyyy") == "03/07/2026"


SOURCES = {"grade": "88", "course_title": "Python", "signatory_name": "Grace Hopper", "mode": ""}


def test_parameters_are_filled_by_mapping_then_by_id_or_label(settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"p-sig": "signatory_name"}
    parameters = (
        TemplateParameter("p-sig", "Signer"),
        TemplateParameter("grade", "Final grade"),
        TemplateParameter("x1", "Course Title"),
    )
    assert payload.fill_custom_parameters(parameters, SOURCES) == {
        "p-sig": "Grace Hopper",
        "grade": "88",
        "x1": "Python",
    }


@pytest.mark.parametrize(
    ("parameter", "mapping", "message"),
    [
        (TemplateParameter("x9", "Favourite colour"), {}, "has no value source"),
        (TemplateParameter("x9", "Anything"), {"x9": "shoe_size"}, "unknown source 'shoe_size'"),
        (TemplateParameter("mode", "Mode"), {}, "would be empty"),
    ],
)
def test_a_parameter_left_without_value_is_named_in_the_error(settings, parameter, mapping, message):
    settings.POK_CUSTOM_PARAMETER_SOURCES = mapping
    with pytest.raises(PayloadError, match=message) as raised:
        payload.fill_custom_parameters((parameter,), SOURCES)
    assert f"'{parameter.id}'" in str(raised.value)


# --- template choice --------------------------------------------------------------------------------


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


# --- the whole body -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_emitter_prefers_the_display_organisation_the_team_set(fake_pok, make_learner, make_course):
    course_key = make_course(
        display_organization="Example University of Testing", organization_name="Long Name"
    )
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="verified")
    assert payload.build_payload(credential).emitter == "Example University of Testing"


@pytest.mark.django_db
def test_the_emitter_falls_back_to_the_org_code(fake_pok, make_learner, make_course):
    course_key = make_course()
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="verified")
    assert payload.build_payload(credential).emitter == course_key.org


@pytest.mark.django_db
def test_every_named_source_has_its_value(fake_pok, make_learner, course_key, settings):
    settings.POK_DATE_FORMAT = "MM/dd/yyyy"
    parameters = [
        "grade",
        "letter_grade",
        "platform_name",
        "course_title",
        "course_name",
        "course_number",
        "course_id",
        "organization",
        "issue_date",
        "mode",
        "username",
        "learner_name",
        "signatory_name",
        "signatory_title",
        "signatory_organization",
        "signatory_1_name",
    ]
    fake_pok.add_template(
        "all-sources", parameters=[(name, name.replace("_", " ").title()) for name in parameters]
    )
    settings.POK_TEMPLATE_ID = "all-sources"
    learner = make_learner(username="ana", profile_name="Ana García")
    credential = PokCertificate.objects.create(
        user=learner,
        course_key=course_key,
        mode="verified",
        grade_percent=Decimal("91.50"),
        letter_grade="A",
        emission_date=datetime(2026, 1, 31, 12, tzinfo=UTC),
    )
    values = payload.build_payload(credential).body["customization"]["template"]["customParameters"]
    assert values == {
        "grade": "92",
        "letter_grade": "A",
        "platform_name": "Test Academy",
        "course_title": "Introduction to Python",
        "course_name": "Python 101",
        "course_number": course_key.course,
        "course_id": str(course_key),
        "organization": "Example University",
        "issue_date": "01/31/2026",
        "mode": "verified",
        "username": "ana",
        "learner_name": "Ana García",
        "signatory_name": "Grace Hopper",
        "signatory_title": "Dean",
        "signatory_organization": "Example University",
        "signatory_1_name": "Grace Hopper",
    }


@pytest.mark.django_db
def test_the_inactive_certificate_configuration_is_ignored(fake_pok, make_learner, make_course):
    course_key = make_course(
        certificates={
            "certificates": [
                {"is_active": False, "course_title": "Old title", "signatories": []},
                {"is_active": True, "course_title": "Current title", "signatories": []},
            ]
        }
    )
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="honor")
    assert payload.build_payload(credential).title == "Current title"


@pytest.mark.django_db
def test_empty_optional_fields_are_left_out(fake_pok, make_learner, course_key, settings):
    settings.POK_PAGE_ID = ""
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="honor")
    body = payload.build_payload(credential).body
    assert "page" not in body["customization"]
    assert body["customization"]["template"] == {"id": "default-template", "customParameters": {}}
