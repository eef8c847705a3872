"""
The operators' admin, used through real HTTP requests to the admin site, against the fake POK server.
"""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from openedx_pok.models import CertificateTemplate


@pytest.fixture
def operator(db, client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "operator@example.com", "pass")
    client.force_login(user)
    return client


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


# -- Certificate templates --------------------------------------------------------------------------

TEMPLATE_ADD_URL = "admin:openedx_pok_certificatetemplate_add"


def add_template(operator, **fields):
    data = {
        "course_key": "",
        "organization": "",
        "mode": "",
        "template_id": "",
        "page_id": "",
        "emission_type": "",
        **fields,
    }
    return operator.post(reverse(TEMPLATE_ADD_URL), data, follow=True)


def form_errors(response):
    form = response.context["adminform"].form
    return {name: [str(error) for error in errors] for name, errors in form.errors.items()}


def test_a_template_pok_knows_is_saved_with_its_parameters_listed(operator, fake_pok, course_key):
    fake_pok.add_template("course-template", name="Course template", parameters=[("grade", "Grade")])

    response = add_template(operator, course_key=str(course_key), template_id="course-template")

    row = CertificateTemplate.objects.get()
    assert (row.course_key, row.template_id) == (course_key, "course-template")
    assert any("Course template checked: parameters grade" in message for message in messages_of(response))
    assert fake_pok.calls["GET template"] == 1


def test_the_check_reads_pok_afresh_not_the_cached_definition(operator, fake_pok):
    fake_pok.add_template("org-template", name="Organisation template")
    add_template(operator, organization="ExampleX", template_id="org-template")
    add_template(operator, organization="OtherX", template_id="org-template")
    assert fake_pok.calls["GET template"] == 2


def test_a_template_pok_does_not_know_is_refused_with_a_readable_error(operator, fake_pok):
    response = add_template(operator, organization="ExampleX", template_id="no-such-template")

    assert not CertificateTemplate.objects.exists()
    assert form_errors(response)["template_id"] == [
        "POK has no template with the id no-such-template. Copy the id from POK's dashboard (Templates)."
    ]


def test_a_parameter_without_a_value_source_is_refused_naming_it(operator, fake_pok):
    fake_pok.add_template("fancy", name="Fancy", parameters=[("favourite-colour", "Favourite colour")])

    response = add_template(operator, organization="ExampleX", template_id="fancy")

    assert not CertificateTemplate.objects.exists()
    (error,) = form_errors(response)["template_id"]
    assert "'favourite-colour' (Favourite colour) has no value source" in error
    assert "POK_CUSTOM_PARAMETER_SOURCES" in error


def test_a_parameter_mapped_in_the_settings_is_accepted(operator, fake_pok, settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"favourite-colour": "letter_grade"}
    fake_pok.add_template("fancy", name="Fancy", parameters=[("favourite-colour", "Favourite colour")])

    add_template(operator, organization="ExampleX", template_id="fancy")

    assert CertificateTemplate.objects.get().template_id == "fancy"


def test_a_parameter_mapped_to_an_unknown_source_is_refused(operator, fake_pok, settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"favourite-colour": "shoe_size"}
    fake_pok.add_template("fancy", name="Fancy", parameters=[("favourite-colour", "Favourite colour")])

    response = add_template(operator, organization="ExampleX", template_id="fancy")

    assert not CertificateTemplate.objects.exists()
    assert "unknown source 'shoe_size'" in form_errors(response)["template_id"][0]


@pytest.mark.parametrize(
    ("parameter_id", "label"),
    [("signatory_4_title", "Fourth signer"), ("p1", "Course Title"), ("issue-date", "Date")],
)
def test_parameters_named_like_a_source_need_no_mapping(operator, fake_pok, parameter_id, label):
    fake_pok.add_template("named", name="Named", parameters=[(parameter_id, label)])
    add_template(operator, organization="ExampleX", template_id="named")
    assert CertificateTemplate.objects.filter(template_id="named").exists()


def test_an_unknown_landing_page_is_refused(operator, fake_pok):
    fake_pok.add_page("welcome", "Welcome page")

    response = add_template(operator, organization="ExampleX", template_id="default-template", page_id="nope")

    assert not CertificateTemplate.objects.exists()
    assert form_errors(response)["page_id"] == ["POK has no landing page with the id nope."]


def test_a_known_landing_page_is_accepted(operator, fake_pok):
    fake_pok.add_page("welcome", "Welcome page")
    add_template(operator, organization="ExampleX", template_id="default-template", page_id="welcome")
    assert CertificateTemplate.objects.get().page_id == "welcome"


def test_when_pok_is_unreachable_the_template_is_saved_with_a_warning(operator, fake_pok):
    fake_pok.outage = True

    response = add_template(operator, organization="ExampleX", template_id="course-template")

    assert CertificateTemplate.objects.get().template_id == "course-template"
    assert any("POK could not be reached" in message for message in messages_of(response))


def test_when_pok_refuses_the_key_the_template_is_saved_with_a_warning(operator, fake_pok, settings):
    settings.POK_API_KEY = "wrong-key"

    response = add_template(operator, organization="ExampleX", template_id="course-template")

    assert CertificateTemplate.objects.exists()
    assert any("POK refused the API key" in message for message in messages_of(response))


def test_without_an_api_key_the_template_is_saved_unchecked(operator, fake_pok, settings):
    settings.POK_API_KEY = ""

    response = add_template(operator, organization="ExampleX", template_id="course-template")

    assert CertificateTemplate.objects.exists()
    assert any("POK_API_KEY is empty" in message for message in messages_of(response))
    assert fake_pok.calls["GET template"] == 0


def test_a_row_needs_a_course_or_an_organisation_not_both(operator, fake_pok, course_key):
    response = add_template(operator, course_key=str(course_key), organization="ExampleX", template_id="t")
    assert not CertificateTemplate.objects.exists()
    assert "Set either a course or an organisation, not both." in str(response.content.decode())


def test_a_malformed_course_key_is_refused(operator, fake_pok):
    response = add_template(operator, course_key="not a course", template_id="default-template")
    assert not CertificateTemplate.objects.exists()
    assert form_errors(response)["course_key"] == [
        "not a course is not a course key; they look like course-v1:Org+Number+Run."
    ]


def test_template_list_shows_scope_and_mode(operator, course_key):
    CertificateTemplate.objects.create(course_key=course_key, mode="verified", template_id="course-template")
    CertificateTemplate.objects.create(organization="ExampleX", template_id="org-template")

    page = operator.get(reverse("admin:openedx_pok_certificatetemplate_changelist")).content.decode()

    assert str(course_key) in page
    assert "organisation ExampleX" in page
    assert "every mode" in page
    assert re.search(r"verified", page)
