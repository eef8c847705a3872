"""
The operators' admin, used through real HTTP requests to the admin site, against the fake POK server.
"""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from opaque_keys.edx.keys import CourseKey

from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from tests.issuing import held_in_pok, unknown_outcome_for

S = CredentialState


@pytest.fixture
def operator(db, client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "operator@example.com", password=None)
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


def test_a_template_made_for_the_existing_plugin_is_accepted_as_it_is(operator, fake_pok, settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {}
    labels = ["platform", "grade", "signatory_name", "signatory_title", "signatory_organization"]
    fake_pok.add_template("legacy", name="Legacy", parameters=[(f"id-{label}", label) for label in labels])

    response = add_template(operator, organization="ExampleX", template_id="legacy")

    assert CertificateTemplate.objects.filter(template_id="legacy").exists()
    assert any(
        "Legacy checked: parameters id-platform, id-grade" in message for message in messages_of(response)
    )


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


# -- Credentials ------------------------------------------------------------------------------------

CHANGELIST_URL = "admin:openedx_pok_pokcertificate_changelist"


def run_action(operator, action, credentials, **extra):
    data = {"action": action, "_selected_action": [credential.pk for credential in credentials], **extra}
    return operator.post(reverse(CHANGELIST_URL), data, follow=True)


def confirm_action(operator, action, credentials, **extra):
    return run_action(operator, action, credentials, confirm="yes", **extra)


def run_queued(queued_tasks, django_capture_on_commit_callbacks, response_maker):
    """Perform an admin request, let its transaction's on-commit hooks queue tasks, then run them."""
    with django_capture_on_commit_callbacks(execute=True):
        response = response_maker()
    queued_tasks.run()
    return response


def reloaded(credential):
    return PokCertificate.objects.get(pk=credential.pk)


@pytest.mark.parametrize("state", [S.FAILED, S.RETRYING])
def test_retry_now_sends_failed_and_retrying_credentials_to_pok_again(
    operator, credential_in, fake_pok, queued_tasks, django_capture_on_commit_callbacks, state
):
    credential = credential_in(state)
    posts_before = fake_pok.calls["POST credential"]

    response = run_queued(
        queued_tasks,
        django_capture_on_commit_callbacks,
        lambda: run_action(operator, "retry_now", [credential]),
    )

    assert "Queued 1 credential(s) to be sent to POK again." in messages_of(response)
    assert fake_pok.calls["POST credential"] == posts_before + 1
    credential = reloaded(credential)
    assert credential.state == S.PROCESSING
    assert credential.pok_credential_id in fake_pok.credentials


def test_retry_now_on_an_unknown_outcome_asks_for_confirmation_first(operator, credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)

    response = run_action(operator, "retry_now", [credential])

    page = response.content.decode()
    assert "may create a duplicate credential and spend a second credit" in page
    assert str(credential.course_key) in page
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN
    assert fake_pok.calls["POST credential"] == 1


def test_confirmed_retry_of_an_unknown_outcome_resends_it_and_the_duplicate_risk_is_real(
    operator, credential_in, fake_pok, queued_tasks, django_capture_on_commit_callbacks
):
    credential = credential_in(S.OUTCOME_UNKNOWN)

    response = run_queued(
        queued_tasks,
        django_capture_on_commit_callbacks,
        lambda: confirm_action(operator, "retry_now", [credential]),
    )

    assert "Queued 1 credential(s) to be sent to POK again." in messages_of(response)
    assert reloaded(credential).state == S.PROCESSING
    # The first POST did create a credential: what the confirmation page warned about.
    assert fake_pok.duplicates() == [(str(credential.user_id), f"CourseId:{credential.course_key}")]


@pytest.mark.parametrize("state", [S.PROCESSING, S.EMITTED, S.REVOKED])
def test_retry_now_skips_credentials_with_nothing_to_retry(operator, credential_in, fake_pok, state):
    credential = credential_in(state)
    posts_before = fake_pok.calls["POST credential"]

    response = run_action(operator, "retry_now", [credential])

    assert any(message.startswith("Skipped 1 credential:") for message in messages_of(response))
    assert reloaded(credential).state == state
    assert fake_pok.calls["POST credential"] == posts_before


def test_retry_now_reports_done_and_skipped_rows_together(operator, credential_in):
    failed, emitted, processing = (
        credential_in(S.FAILED),
        credential_in(S.EMITTED),
        credential_in(S.PROCESSING),
    )

    response = run_action(operator, "retry_now", [failed, emitted, processing])

    assert messages_of(response) == [
        "Queued 1 credential(s) to be sent to POK again.",
        "Skipped 2 credentials: Emitted, nothing to retry (1); Processing in POK, nothing to retry (1).",
    ]


def test_resync_brings_a_processing_credential_up_to_date(operator, credential_in, fake_pok):
    credential = credential_in(S.PROCESSING)

    response = run_action(operator, "resync_from_pok", [credential])

    assert "Read 1 credential(s) from POK." in messages_of(response)
    credential = reloaded(credential)
    assert credential.state == S.EMITTED
    assert credential.view_url.endswith(f"view/{credential.pok_credential_id}")


def test_resync_picks_up_a_revocation_made_in_pok(operator, credential_in, fake_pok):
    credential = credential_in(S.EMITTED)
    fake_pok.set_credential_state(credential.pok_credential_id, "revoked")

    run_action(operator, "resync_from_pok", [credential])

    assert reloaded(credential).state == S.REVOKED


@pytest.mark.parametrize("state", [S.PENDING, S.FAILED, S.OUTCOME_UNKNOWN])
def test_resync_skips_credentials_pok_never_confirmed(operator, credential_in, fake_pok, state):
    credential = credential_in(state)
    gets_before = fake_pok.calls["GET credential"]

    response = run_action(operator, "resync_from_pok", [credential])

    assert "Skipped 1 credential: not created in POK yet (no POK id) (1)." in messages_of(response)
    assert fake_pok.calls["GET credential"] == gets_before


def test_resync_reports_pok_being_unreachable(operator, credential_in, fake_pok):
    credential = credential_in(S.PROCESSING)
    fake_pok.outage = True

    response = run_action(operator, "resync_from_pok", [credential])

    (message,) = messages_of(response)
    assert message.startswith("1 credential failed: ")
    assert reloaded(credential).state == S.PROCESSING


def test_reissue_asks_for_confirmation_saying_it_costs_a_credit(operator, credential_in, fake_pok):
    credential = credential_in(S.EMITTED)

    response = run_action(operator, "reissue", [credential])

    page = response.content.decode()
    assert "which costs a credit" in page
    assert "after a learner changed their name" in page
    assert reloaded(credential).pok_credential_id == credential.pok_credential_id


@pytest.mark.parametrize("state", [S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN, S.REVOKED])
def test_confirmed_reissue_requests_a_new_credential_with_the_current_name(
    operator, credential_in, fake_pok, queued_tasks, django_capture_on_commit_callbacks, state
):
    credential = credential_in(state)
    previous_pok_id = credential.pok_credential_id
    profile = credential.user.profile
    profile.name = "Ana María García"
    profile.save()
    posts_before = fake_pok.calls["POST credential"]

    response = run_queued(
        queued_tasks,
        django_capture_on_commit_callbacks,
        lambda: confirm_action(operator, "reissue", [credential]),
    )

    assert "Queued 1 credential(s) to be issued again." in messages_of(response)
    assert fake_pok.calls["POST credential"] == posts_before + 1
    assert fake_pok.bodies("POST credential")[-1]["receiver"]["lastName"] == "María García"
    credential = reloaded(credential)
    assert credential.state == S.PROCESSING
    assert credential.pok_credential_id not in (None, previous_pok_id)
    assert any(
        f"previous POK id {previous_pok_id or 'none'}" in entry["note"] for entry in credential.history
    )


def test_a_select_all_confirmation_keeps_the_filters_not_a_list_of_ids(operator, credential_in):
    first, second, failed = credential_in(S.EMITTED), credential_in(S.EMITTED), credential_in(S.FAILED)
    url = reverse(CHANGELIST_URL) + "?state__exact=emitted"
    # "Select all": Django sends the checkboxes of the page shown plus select_across.
    select_all = {
        "action": "mark_revoked",
        "select_across": "1",
        "index": "0",
        "_selected_action": [first.pk],
    }

    page = operator.post(url, select_all).content.decode()

    assert 'name="select_across" value="1"' in page
    assert page.count('name="_selected_action"') == 1
    assert "2 credentials selected (emitted 2)" in page
    confirm = {
        "action": "mark_revoked",
        "select_across": "1",
        "_selected_action": [first.pk],
        "confirm": "yes",
    }
    operator.post(url, confirm)
    assert reloaded(first).state == S.REVOKED
    assert reloaded(second).state == S.REVOKED
    assert reloaded(failed).state == S.FAILED


@pytest.mark.parametrize("state", [S.PENDING, S.RETRYING, S.PROCESSING])
def test_reissue_skips_credentials_still_being_issued(operator, credential_in, fake_pok, state):
    credential = credential_in(state)

    response = confirm_action(operator, "reissue", [credential])

    assert any(message.startswith("Skipped 1 credential:") for message in messages_of(response))
    assert reloaded(credential).state == state


def test_mark_revoked_asks_for_confirmation_and_a_reason(operator, credential_in):
    credential = credential_in(S.EMITTED)

    response = run_action(operator, "mark_revoked", [credential])

    page = response.content.decode()
    assert "revoke the issued ones in POK&#x27;s dashboard as well" in page
    assert 'name="reason"' in page
    assert reloaded(credential).state == S.EMITTED


@pytest.mark.parametrize(
    "state", [S.PENDING, S.RETRYING, S.PROCESSING, S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN]
)
def test_confirmed_mark_revoked_revokes_with_the_reason_in_the_history(operator, credential_in, state):
    credential = credential_in(state)

    response = confirm_action(operator, "mark_revoked", [credential], reason="plagiarism")

    assert (
        "Marked 1 credential(s) revoked here; revoke the issued ones in POK's dashboard too."
        in messages_of(response)
    )
    credential = reloaded(credential)
    assert credential.state == S.REVOKED
    assert credential.history[-1]["note"] == "plagiarism (by operator)"


def test_mark_revoked_skips_credentials_already_revoked(operator, credential_in):
    credential = credential_in(S.REVOKED)
    history_length = len(credential.history)

    response = confirm_action(operator, "mark_revoked", [credential])

    assert "Skipped 1 credential: already revoked (1)." in messages_of(response)
    assert len(reloaded(credential).history) == history_length


# -- attaching the credential found in POK ----------------------------------------------------------


def attach(operator, credential, pok_id):
    return confirm_action(operator, "attach_pok_credential", [credential], pok_credential_id=pok_id)


def test_attach_asks_for_the_id_found_in_pok_on_a_page_posted_with_csrf(operator, credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)

    response = run_action(operator, "attach_pok_credential", [credential])

    page = response.content.decode()
    assert 'name="pok_credential_id"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert f"StudentId:{credential.user_id}" in page
    assert f"CourseId:{credential.course_key}" in page
    assert "no credit is spent" in page
    assert fake_pok.calls["GET credential"] == 0
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN


def test_attaching_the_credential_pok_holds_settles_the_unknown_outcome_without_a_second_post(
    operator, credential_in, fake_pok, queued_tasks, django_capture_on_commit_callbacks
):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    pok_id = held_in_pok(fake_pok, credential.user, credential.course_key)

    response = run_queued(
        queued_tasks, django_capture_on_commit_callbacks, lambda: attach(operator, credential, f" {pok_id} ")
    )

    assert (
        f"Attached POK credential {pok_id} to the credential of {credential.user.username} in "
        f"{credential.course_key}; its status is checked with POK now, nothing was sent again."
    ) in messages_of(response)
    credential = reloaded(credential)
    assert credential.state == S.EMITTED
    assert credential.pok_credential_id == pok_id
    assert credential.view_url.endswith(f"view/{pok_id}")
    assert [(entry["transition"], entry["to"]) for entry in credential.history[-2:]] == [
        ("attached", S.PROCESSING),
        ("emitted", S.EMITTED),
    ]
    assert "attached by operator" in credential.history[-2]["note"]
    assert fake_pok.calls["POST credential"] == 1
    assert fake_pok.duplicates() == []


def test_attaching_another_learners_credential_is_refused_and_changes_nothing(
    operator, credential_in, fake_pok
):
    credential, other = credential_in(S.OUTCOME_UNKNOWN), credential_in(S.OUTCOME_UNKNOWN)

    response = attach(operator, credential, held_in_pok(fake_pok, other.user, other.course_key))

    page = response.content.decode()
    assert "Not attached: POK credential" in page
    assert "it is tagged for another learner (StudentId)" in page
    assert 'name="pok_credential_id"' in page  # the page again, to correct the id
    unchanged = reloaded(credential)
    assert (unchanged.state, unchanged.pok_credential_id) == (S.OUTCOME_UNKNOWN, None)
    assert unchanged.history == credential.history
    assert fake_pok.calls["POST credential"] == 2


def test_attaching_the_learners_credential_of_another_course_is_refused(
    operator, credential_in, fake_pok, make_course, enable_pok_for_course, course_grade
):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    other_course = make_course()
    enable_pok_for_course(other_course)
    unknown_outcome_for(fake_pok, credential.user, other_course, course_grade())

    response = attach(operator, credential, held_in_pok(fake_pok, credential.user, other_course))

    page = response.content.decode()
    assert f"it is for another course ({other_course}), not {credential.course_key}" in page
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN
    assert reloaded(credential).pok_credential_id is None


@pytest.mark.parametrize("state", [S.PENDING, S.PROCESSING, S.EMITTED, S.FAILED, S.REVOKED])
def test_attach_is_refused_for_a_credential_whose_outcome_is_known(operator, credential_in, fake_pok, state):
    credential = credential_in(state)
    gets_before = fake_pok.calls["GET credential"]

    response = attach(operator, credential, "9e80b81b-1441-472b-bbd7-0120ec370042")

    (message,) = messages_of(response)
    assert (
        message == f"Not attached: {credential.get_state_display()}, only an unknown outcome can be attached."
    )
    assert reloaded(credential).state == state
    assert fake_pok.calls["GET credential"] == gets_before


def test_attaching_a_credential_another_row_holds_is_refused(operator, credential_in, fake_pok):
    credential, emitted = credential_in(S.OUTCOME_UNKNOWN), credential_in(S.EMITTED)

    response = attach(operator, credential, emitted.pok_credential_id)

    assert (
        f"Not attached: POK credential {emitted.pok_credential_id} is already attached to credential "
        f"{emitted.pk}." in response.content.decode()
    )
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN


def test_attaching_an_id_pok_does_not_know_is_refused(operator, credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)

    response = attach(operator, credential, "no-such-credential")

    assert "Not attached: POK has no credential no-such-credential" in response.content.decode()
    assert fake_pok.calls["GET credential"] == 1
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN


def test_attach_reports_pok_being_unreachable_and_changes_nothing(operator, credential_in, fake_pok):
    credential = credential_in(S.OUTCOME_UNKNOWN)
    pok_id = held_in_pok(fake_pok, credential.user, credential.course_key)
    fake_pok.outage = True

    response = attach(operator, credential, pok_id)

    assert "POK could not be asked, nothing changed" in response.content.decode()
    assert reloaded(credential).state == S.OUTCOME_UNKNOWN


def test_attach_needs_exactly_one_credential(operator, credential_in, fake_pok):
    first, second = credential_in(S.OUTCOME_UNKNOWN), credential_in(S.OUTCOME_UNKNOWN)

    response = run_action(operator, "attach_pok_credential", [first, second])

    assert messages_of(response) == [
        "Select exactly one credential to attach the credential found in POK to."
    ]


# -- listing, search, filters -----------------------------------------------------------------------


def listed(operator, **query):
    response = operator.get(reverse(CHANGELIST_URL), query)
    assert response.status_code == 200
    return {credential.pk for credential in response.context["cl"].result_list}


@pytest.fixture
def two_credentials(make_learner, make_credential, make_course):
    ana = make_learner(username="ana", email="ana@example.com")
    bob = make_learner(username="bob", email="bob@example.org")
    first = make_credential(ana, make_course("course-v1:AlphaX+PY101+2026"), pok_credential_id="pok-aaa")
    second = make_credential(bob, make_course("course-v1:BetaX+JS201+2026"), state=S.FAILED)
    return first, second


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ana", "first"),
        ("bob@example.org", "second"),
        ("course-v1:BetaX+JS201", "second"),
        ("pok-aaa", "first"),
    ],
    ids=["username", "email", "course key", "POK id"],
)
def test_search_finds_credentials_by_each_search_field(operator, two_credentials, term, expected):
    first, second = two_credentials
    assert listed(operator, q=term) == {(first if expected == "first" else second).pk}


def test_search_by_email_is_exact_and_finds_nothing_on_a_fragment(operator, two_credentials):
    assert listed(operator, q="example.org") == set()


def test_filters_by_state(operator, two_credentials):
    _first, second = two_credentials
    assert listed(operator, state__exact=S.FAILED) == {second.pk}


def test_filters_by_emission_type(operator, two_credentials):
    first, _second = two_credentials
    PokCertificate.objects.filter(pk=first.pk).update(emission_type="blockchain")
    assert listed(operator, emission_type__exact="blockchain") == {first.pk}


def test_filters_by_organisation_from_the_course_key(
    operator, two_credentials, make_learner, make_credential
):
    first, _second = two_credentials
    # An organisation whose name starts like another's must not leak into it.
    alphabet = make_credential(make_learner(), CourseKey.from_string("course-v1:AlphaXY+PY101+2026"))

    response = operator.get(reverse(CHANGELIST_URL))
    organisation_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "parameter_name", None) == "organization"
    )
    assert [value for value, _label in organisation_filter.lookup_choices] == ["AlphaX", "AlphaXY", "BetaX"]
    assert listed(operator, organization="AlphaX") == {first.pk}
    assert listed(operator, organization="AlphaXY") == {alphabet.pk}


def test_the_list_shows_learner_course_state_pok_id_attempts_and_update(operator, two_credentials):
    response = operator.get(reverse(CHANGELIST_URL))
    page = response.content.decode()
    headers = [str(header["text"]) for header in response.context["result_headers"]]
    assert headers[1:] == ["learner", "course", "state", "POK id", "attempts", "updated"]
    for text in ("ana", "course-v1:<wbr>AlphaX+<wbr>PY101+<wbr>2026", "Emitted", "pok-aaa", "Failed"):
        assert text in page


def test_the_header_counts_credentials_per_state_and_links_to_each(operator, two_credentials):
    response = operator.get(reverse(CHANGELIST_URL))
    counts = {entry["state"]: entry["count"] for entry in response.context["state_counts"]}
    assert counts == dict.fromkeys(S.values, 0) | {S.EMITTED: 1, S.FAILED: 1}
    page = response.content.decode()
    assert '<td data-state="failed"><a href="?state__exact=failed">1</a></td>' in page


def test_the_header_counts_follow_the_search(operator, two_credentials):
    response = operator.get(reverse(CHANGELIST_URL), {"q": "bob@example.org"})
    counts = {entry["state"]: entry["count"] for entry in response.context["state_counts"]}
    assert counts[S.FAILED] == 1
    assert counts[S.EMITTED] == 0


# -- one credential ---------------------------------------------------------------------------------


def test_the_change_page_shows_the_last_error_and_the_history(operator, credential_in):
    credential = credential_in(S.FAILED)

    page = operator.get(
        reverse("admin:openedx_pok_pokcertificate_change", args=[credential.pk])
    ).content.decode()

    assert "Receiver rejected." in page
    assert "attempt 1" in page
    assert "<td>Requesting from POK</td><td>Failed</td>" in page


def test_the_change_page_reads_like_prose_not_like_the_database(operator, credential_in):
    credential = credential_in(S.EMITTED)

    page = operator.get(
        reverse("admin:openedx_pok_pokcertificate_change", args=[credential.pk])
    ).content.decode()

    for label in ("POK credential ID", "View URL", "Image URL", "POK template ID", "Public ID", "Tags"):
        assert f">{label}:</label>" in page or f">{label}</label>" in page, label
    assert "Pok credential id" not in page
    assert "View url" not in page
    assert not re.search(r"<td>\d{4}-\d{2}-\d{2}T", page)  # history times are formatted, not ISO
    assert f'<code class="pok-tag">CourseId:{credential.course_key}</code>' in page
    assert '["' not in page  # the tags are not shown as JSON


def test_the_list_shows_the_start_of_long_pok_ids_and_the_whole_id_on_hover(
    operator, make_learner, make_credential, course_key
):
    credential = make_credential(make_learner(), course_key)

    page = operator.get(reverse(CHANGELIST_URL)).content.decode()

    pok_id = credential.pok_credential_id
    assert f'<code title="{pok_id}">{pok_id[:8]}…</code>' in page


def test_the_change_page_escapes_what_pok_said(operator, credential_in):
    credential = credential_in(S.FAILED)
    PokCertificate.objects.filter(pk=credential.pk).update(last_error="<script>alert(1)</script>")

    page = operator.get(
        reverse("admin:openedx_pok_pokcertificate_change", args=[credential.pk])
    ).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pok_owned_fields_cannot_be_edited(operator, credential_in):
    credential = credential_in(S.EMITTED)
    url = reverse("admin:openedx_pok_pokcertificate_change", args=[credential.pk])

    operator.post(
        url, {"pok_credential_id": "forged", "state": S.FAILED, "view_url": "https://evil.example/"}
    )

    credential_after = reloaded(credential)
    assert credential_after.pok_credential_id == credential.pok_credential_id
    assert credential_after.state == S.EMITTED
    assert credential_after.view_url == credential.view_url


def test_credentials_cannot_be_added_by_hand(operator):
    assert operator.get(reverse("admin:openedx_pok_pokcertificate_add")).status_code == 403
