"""
Several POK accounts on one site: each organisation issues, is checked and previewed with its own
key (the fake POK refuses the wrong one), keeps the account that issued a credential when the
mapping changes, and a removed account's credentials fail readably, never sent with another key.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from openedx_pok import accounts
from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services import policy
from openedx_pok.services.issuing import operator_actions, reconciliation, retirement, status
from tests.issuing import credential_of, request_certificate, settle

S = CredentialState
pytestmark = pytest.mark.django_db(transaction=True)
SCHOOL_KEY = "school-b-key"


@pytest.fixture
def two_accounts(fake_pok, settings):
    """The default account (ExampleX's courses) and School B's own, on the same fake POK."""
    fake_pok.add_account(SCHOOL_KEY, organization_name="School B")
    fake_pok.add_template("school-diploma", name="School B diploma", api_key=SCHOOL_KEY)
    settings.POK_ACCOUNTS = {"school-b": {"API_KEY": SCHOOL_KEY, "TEMPLATE_ID": "school-diploma"}}
    settings.POK_ORGANIZATION_ACCOUNTS = {"SchoolB": "school-b"}
    return fake_pok


@pytest.fixture
def school_course(make_course, enable_pok_for_course):
    course_key = make_course("course-v1:SchoolB+BIO1+2026", display_name="Biology")
    enable_pok_for_course(course_key)
    return course_key


def keys_used(fake_pok, endpoint):
    return {key for key, called in fake_pok.calls_by_key if called == endpoint}


def test_each_organisation_issues_and_is_checked_with_its_own_key(
    two_accounts, queued_tasks, make_learner, pok_course, school_course, course_grade
):
    ana, ben = make_learner(), make_learner()
    request_certificate(ana, pok_course, course_grade())
    request_certificate(ben, school_course, course_grade())
    settle(queued_tasks)

    default_credential, school_credential = credential_of(ana, pok_course), credential_of(ben, school_course)
    assert (default_credential.state, default_credential.account) == (S.EMITTED, "default")
    assert (school_credential.state, school_credential.account) == (S.EMITTED, "school-b")
    assert set(two_accounts.credentials_of(SCHOOL_KEY)) == {school_credential.pok_credential_id}
    assert set(two_accounts.credentials_of("test-api-key")) == {default_credential.pok_credential_id}
    assert school_credential.template_id == "school-diploma"
    assert keys_used(two_accounts, "POST credential") == {"test-api-key", SCHOOL_KEY}
    assert keys_used(two_accounts, "GET credential") == {"test-api-key", SCHOOL_KEY}
    assert two_accounts.calls_by_key[(SCHOOL_KEY, "GET credential image")] >= 1
    assert two_accounts.duplicates() == []


def test_the_wrong_key_does_not_see_another_accounts_credential(
    two_accounts, queued_tasks, make_learner, school_course, course_grade, settings
):
    learner = make_learner()
    request_certificate(learner, school_course, course_grade())
    queued_tasks.run()
    credential = credential_of(learner, school_course)

    settings.POK_ACCOUNTS = {"school-b": {"API_KEY": "test-api-key"}}  # the default account's key, by mistake
    status.check(credential.pk, now=credential.next_attempt_at)
    credential = credential_of(learner, school_course)
    assert credential.state == S.FAILED
    assert "POK does not know this credential" in credential.last_error

    settings.POK_ACCOUNTS = {"school-b": {"API_KEY": SCHOOL_KEY}}  # fixed: read back, not paid again
    operator_actions.resync_from_pok(credential)
    assert credential_of(learner, school_course).state == S.EMITTED
    assert two_accounts.calls["POST credential"] == 1


def test_a_template_row_may_name_the_account(
    two_accounts, queued_tasks, make_learner, pok_course, course_grade
):
    CertificateTemplate.objects.create(
        course_key=pok_course, template_id="school-diploma", account="school-b"
    )
    learner = make_learner()
    request_certificate(learner, pok_course, course_grade())
    settle(queued_tasks)
    assert credential_of(learner, pok_course).account == "school-b"


def test_a_remapped_organisation_keeps_its_credentials_on_the_old_account(
    two_accounts, queued_tasks, make_learner, school_course, course_grade, settings
):
    two_accounts.emit_after = None
    first = make_learner()
    request_certificate(first, school_course, course_grade())
    queued_tasks.run()

    settings.POK_ORGANIZATION_ACCOUNTS = {}  # School B now issues with the default account
    second = make_learner()
    request_certificate(second, school_course, course_grade())
    queued_tasks.run()
    two_accounts.emit_all()
    settle(queued_tasks)

    assert (credential_of(first, school_course).account, credential_of(first, school_course).state) == (
        "school-b",
        S.EMITTED,
    )
    assert credential_of(second, school_course).account == "default"
    assert two_accounts.calls_by_key[("test-api-key", "GET credential")] >= 1
    assert keys_used(two_accounts, "GET credential") == {"test-api-key", SCHOOL_KEY}


def test_a_removed_account_fails_readably_and_is_never_sent_with_another_key(
    two_accounts, queued_tasks, make_learner, school_course, course_grade, settings
):
    two_accounts.emit_after = None
    issued, waiting = make_learner(), make_learner()
    request_certificate(issued, school_course, course_grade())
    queued_tasks.run()
    settings.POK_ACCOUNTS = {}  # the operator removed School B's account; its mapping remains

    request_certificate(waiting, school_course, course_grade())
    queued_tasks.run()
    unsent = credential_of(waiting, school_course)
    assert unsent.state == S.FAILED
    assert "POK account school-b" in unsent.last_error
    assert "not configured" in unsent.last_error

    credential = credential_of(issued, school_course)
    assert status.check(credential.pk, now=credential.next_attempt_at) == status.POK_NOT_ASKED
    credential = credential_of(issued, school_course)
    assert credential.state == S.PROCESSING
    assert "POK account school-b is not configured" in credential.last_error
    assert two_accounts.calls_by_key[("test-api-key", "POST credential")] == 0
    assert two_accounts.calls_by_key[("test-api-key", "GET credential")] == 0


def test_studio_preview_uses_the_courses_account(two_accounts, client, make_learner, school_course):
    from common.djangoapps.student.roles import CourseStaffRole

    teacher = make_learner()
    CourseStaffRole(school_course).add_users(teacher)
    client.force_login(teacher)
    response = client.get(f"/certificates/course/{school_course}", {"preview": "verified"})

    assert response.status_code == 200
    assert "images/preview/school-diploma/" in response.content.decode()
    assert keys_used(two_accounts, "POST template preview") == {SCHOOL_KEY}
    assert keys_used(two_accounts, "GET template") == {SCHOOL_KEY}


def test_revocation_retirement_and_reconciliation_work_per_account(
    two_accounts, queued_tasks, make_learner, school_course, course_grade, make_platform_certificate
):
    missed, retired, revoked = make_learner(), make_learner(), make_learner()
    make_platform_certificate(missed, school_course)
    reconciliation.reconcile()
    request_certificate(retired, school_course, course_grade())
    retirement.scrub_learner_pii(retired)
    request_certificate(revoked, school_course, course_grade())
    settle(queued_tasks)
    operator_actions.revoke(credential_of(revoked, school_course), "issued by mistake")

    assert (credential_of(missed, school_course).state, credential_of(missed, school_course).account) == (
        S.EMITTED,
        "school-b",
    )
    assert credential_of(retired, school_course).state == S.REVOKED  # never sent
    assert credential_of(revoked, school_course).revoked_by == "operator"
    assert set(two_accounts.credentials_of(SCHOOL_KEY)) == {
        credential_of(missed, school_course).pok_credential_id,
        credential_of(revoked, school_course).pok_credential_id,
    }


def test_missing_values_come_from_the_top_level_settings_but_never_the_key(settings):
    settings.POK_ACCOUNTS = {"school-b": {"API_URL": "https://api.credentity.xyz/"}}
    settings.POK_TEMPLATE_ID = "default-template"
    account = accounts.get("school-b")
    assert (account.api_url, account.template_id, account.api_key) == (
        "https://api.credentity.xyz/",
        "default-template",
        "",
    )
    with pytest.raises(accounts.UnknownAccount):
        accounts.get("gone")
    assert accounts.names() == ["default", "school-b"]


def test_overdue_checks_of_every_account_are_caught_by_the_safety_net(
    two_accounts, queued_tasks, make_learner, pok_course, school_course, course_grade
):
    from openedx_pok.services.issuing import sweep

    two_accounts.emit_after = None
    for course in (pok_course, school_course):
        request_certificate(make_learner(), course, course_grade())
    queued_tasks.run()
    two_accounts.emit_all()
    PokCertificate.objects.update(
        next_attempt_at=timezone.now() - policy.OVERDUE_CHECK_AFTER - timedelta(minutes=1)
    )
    assert sweep.sync_statuses()["emitted"] == 2


# -- the admin -------------------------------------------------------------------------------------------


def test_the_admin_shows_and_filters_by_account_and_counts_per_account(
    two_accounts, admin_client, queued_tasks, make_learner, pok_course, school_course, course_grade
):
    request_certificate(make_learner(), pok_course, course_grade())
    request_certificate(make_learner(), school_course, course_grade())
    settle(queued_tasks)

    page = admin_client.get("/admin/openedx_pok/pokcertificate/").content.decode()
    assert 'class="field-account"' in page
    assert '<tr data-account="school-b">' in page
    assert "?account__exact=school-b" in page
    filtered = admin_client.get("/admin/openedx_pok/pokcertificate/", {"account__exact": "school-b"})
    assert filtered.context["cl"].result_count == 1


def test_a_single_account_site_shows_no_account_column(fake_pok, admin_client, credential_in):
    credential_in(S.EMITTED)
    page = admin_client.get("/admin/openedx_pok/pokcertificate/").content.decode()
    assert 'class="field-account"' not in page
    assert "data-account" not in page


def test_a_template_row_is_checked_against_its_accounts_pok(two_accounts, admin_client):
    form = {"course_key": "", "mode": "", "page_id": "", "emission_type": ""}
    response = admin_client.post(
        "/admin/openedx_pok/certificatetemplate/add/",
        {**form, "organization": "SchoolB", "account": "school-b", "template_id": "school-diploma"},
        follow=True,
    )
    assert CertificateTemplate.objects.get().account == "school-b"
    assert two_accounts.calls_by_key[(SCHOOL_KEY, "GET template")] == 1

    # The default account's POK has no such template: refused, naming it.
    response = admin_client.post(
        "/admin/openedx_pok/certificatetemplate/add/",
        {**form, "organization": "ExampleX", "account": "", "template_id": "school-diploma"},
    )
    assert "POK has no template with the id school-diploma" in response.content.decode()
    assert 'value="school-b"' in response.content.decode()  # the configured accounts are offered


def test_pok_check_checks_every_account_with_its_own_key(two_accounts, settings, capsys):
    from django.core.management import CommandError, call_command

    call_command("pok_check")
    out = capsys.readouterr().out
    assert "POK account school-b:" in out
    assert "POK organisation: School B" in out
    assert "Template school-diploma: School B diploma (used by the default of POK account school-b)" in out
    assert two_accounts.calls_by_key[(SCHOOL_KEY, "GET organization")] == 1

    settings.POK_ACCOUNTS = {"school-b": {"API_KEY": "not-a-key", "TEMPLATE_ID": "school-diploma"}}
    with pytest.raises(CommandError):
        call_command("pok_check")
    assert "problem: POK refused the API key" in capsys.readouterr().err


def test_a_site_whose_only_keys_are_the_organisations_issues(
    two_accounts, queued_tasks, make_learner, school_course, course_grade, settings
):
    settings.POK_API_KEY = ""  # the platform itself has no POK account
    learner = make_learner()
    request_certificate(learner, school_course, course_grade())
    settle(queued_tasks)
    assert credential_of(learner, school_course).state == S.EMITTED
