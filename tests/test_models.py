"""Database-level guarantees of the plugin's models."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from openedx_pok.models import CertificateTemplate, PokCertificate


def test_a_second_credential_for_the_same_learner_and_course_is_refused(learner, course_key):
    PokCertificate.objects.create(user=learner, course_key=course_key)
    with pytest.raises(IntegrityError), transaction.atomic():
        PokCertificate.objects.create(user=learner, course_key=course_key)


def test_the_same_learner_may_hold_credentials_in_two_courses(learner, make_course):
    PokCertificate.objects.create(user=learner, course_key=make_course())
    PokCertificate.objects.create(user=learner, course_key=make_course())
    assert PokCertificate.objects.filter(user=learner).count() == 2


def test_two_credentials_cannot_share_a_pok_id(make_learner, course_key):
    PokCertificate.objects.create(user=make_learner(), course_key=course_key, pok_credential_id="pok-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PokCertificate.objects.create(user=make_learner(), course_key=course_key, pok_credential_id="pok-1")


def test_credentials_without_a_pok_id_do_not_collide(make_learner, course_key):
    PokCertificate.objects.create(user=make_learner(), course_key=course_key)
    PokCertificate.objects.create(user=make_learner(), course_key=course_key)
    assert PokCertificate.objects.filter(pok_credential_id__isnull=True).count() == 2


def test_public_ids_are_unguessable_uuids(make_learner, course_key):
    first = PokCertificate.objects.create(user=make_learner(), course_key=course_key)
    second = PokCertificate.objects.create(user=make_learner(), course_key=course_key)
    assert first.public_id != second.public_id
    assert first.public_id.version == 4


def test_one_template_row_per_course_and_mode(course_key):
    CertificateTemplate.objects.create(course_key=course_key, template_id="t1")
    CertificateTemplate.objects.create(course_key=course_key, mode="verified", template_id="t2")
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateTemplate.objects.create(course_key=course_key, template_id="t3")


def test_one_template_row_per_organisation_and_mode(db):
    CertificateTemplate.objects.create(organization="ExampleX", template_id="t1")
    CertificateTemplate.objects.create(organization="OtherX", template_id="t2")
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateTemplate.objects.create(organization="ExampleX", template_id="t3")


@pytest.mark.parametrize(
    ("course", "organization"),
    [(True, "ExampleX"), (False, "")],
    ids=["both", "neither"],
)
def test_a_template_names_a_course_or_an_organisation(course_key, course, organization):
    template = CertificateTemplate(
        course_key=course_key if course else None, organization=organization, template_id="t"
    )
    with pytest.raises(ValidationError):
        template.full_clean()


@pytest.mark.parametrize(
    ("field_name", "limit"),
    [
        ("title", 255),
        ("pok_state", 64),
        ("view_url", 500),
        ("image_url", 1000),
        ("mode", 100),
        ("last_error", 2000),
    ],
)
def test_each_text_is_cut_to_what_its_field_holds(field_name, limit):
    assert PokCertificate.limit(field_name) == limit
    assert PokCertificate.fit(field_name, "x" * (limit + 10)) == "x" * limit
    assert PokCertificate.fit(field_name, "short") == "short"


def test_fitting_turns_any_value_into_text():
    assert PokCertificate.fit("letter_grade", None) == ""
    assert PokCertificate.fit("generation_mode", 12) == "12"
