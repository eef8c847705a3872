"""The bodies POK receives: a learner's credential and Studio's preview, from one builder."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from openedx_pok.models import PokCertificate
from openedx_pok.services.templates import payload
from tests.issuing import request_certificate


@pytest.mark.django_db
def test_the_emitter_prefers_the_display_organisation_the_team_set(fake_pok, make_learner, make_course):
    course_key = make_course(
        display_organization="Example University of Testing", organization_name="Long Name"
    )
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="verified")
    assert payload.credential_payload(credential).emitter == "Example University of Testing"


@pytest.mark.django_db
def test_the_emitter_falls_back_to_the_org_code(fake_pok, make_learner, make_course):
    course_key = make_course()
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="verified")
    assert payload.credential_payload(credential).emitter == course_key.org


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
    values = payload.credential_payload(credential).body["customization"]["template"]["customParameters"]
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
    assert payload.credential_payload(credential).title == "Current title"


@pytest.mark.django_db
def test_empty_optional_fields_are_left_out(fake_pok, make_learner, course_key, settings):
    settings.POK_PAGE_ID = ""
    credential = PokCertificate.objects.create(user=make_learner(), course_key=course_key, mode="honor")
    body = payload.credential_payload(credential).body
    assert "page" not in body["customization"]
    assert body["customization"]["template"] == {"id": "default-template", "customParameters": {}}


# The custom parameters of a template made for the existing POK plugin: it keyed them by label.
EXISTING_PLUGIN_LABELS = ["platform", "grade", "signatory_name", "signatory_title", "signatory_organization"]


@pytest.mark.django_db(transaction=True)
def test_a_template_made_for_the_existing_plugin_is_filled_without_any_setting(
    fake_pok, queued_tasks, make_learner, pok_course, course_grade, settings
):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {}
    parameters = [
        (f"00000000-0000-4000-8000-00000000000{index}", label)
        for index, label in enumerate(EXISTING_PLUGIN_LABELS)
    ]
    fake_pok.add_template("legacy-labels", parameters=parameters)
    settings.POK_TEMPLATE_ID = "legacy-labels"

    request_certificate(make_learner(), pok_course, course_grade(percent=0.875))
    queued_tasks.run()

    [body] = fake_pok.bodies("POST credential")
    assert body["customization"]["template"]["customParameters"] == {
        parameters[0][0]: "Test Academy",
        parameters[1][0]: "88",
        parameters[2][0]: "Grace Hopper",
        parameters[3][0]: "Dean",
        parameters[4][0]: "Example University",
    }
