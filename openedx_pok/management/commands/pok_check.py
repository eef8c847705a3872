"""
``pok_check``: is this installation able to issue POK credentials? Answers before a learner asks.

Checks the settings, then, for every POK account (the default one and POK_ACCOUNTS), reaches POK
with its key, lists what its organisation has (templates, pages, credits) and verifies every
template the plugin may issue from with it. Prints one line per finding; every problem is a line
starting with ``problem:``, and any problem makes the command exit with a non-zero status. Sections
run in order; add one by adding a method to :meth:`Command.account_sections` (once per account)
or :meth:`Command.site_sections` (once).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.checks import ERROR, run_checks
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from openedx_pok import accounts, checks, platform_adapter
from openedx_pok.client import PokAuthError, PokClient, PokError, PokNotFound, PokUnavailable, get_client
from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME, LEGACY_COURSE_WAFFLE_FLAG_NAME, setting
from openedx_pok.models import CertificateTemplate, PokCertificate
from openedx_pok.monitoring import counts_by_account_and_state, format_counts, totals_by_state
from openedx_pok.services.adoption import copying
from openedx_pok.services.issuing.unfilled_parameters import never_sent_for_unfilled_parameters
from openedx_pok.services.templates.value_sources import (
    SOURCE_NAMES,
    course_parameter_problems,
    parameter_problems,
    source_name_for,
)

DEFAULT_SCOPE = "the default (POK_TEMPLATE_ID)"


@dataclass
class Report:
    """
    What the sections found. Per account: ``pok_reachable`` tells later sections whether to call
    POK, ``page_ids`` and ``templates`` what its POK answered.
    """

    command: BaseCommand
    problems: list[str] = field(default_factory=list)
    account: str = accounts.DEFAULT
    pok_reachable: bool = False
    page_ids: set[str] | None = None
    templates: dict = field(default_factory=dict)  # template id -> what POK answered, once read

    def start_account(self, name: str) -> None:
        self.account, self.pok_reachable, self.page_ids, self.templates = name, False, None, {}

    def info(self, line: str) -> None:
        self.command.stdout.write(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.command.stderr.write(f"problem: {line}")


class Command(BaseCommand):
    help = "Check the POK settings, reach POK, and verify every template the plugin may issue from."

    def handle(self, *args, **options):
        report = Report(self)
        if self.check_settings(report):
            names = accounts.names()
            for name in names:
                self.check_account(report, name, several=len(names) > 1)
        for section in self.site_sections():
            section(report)
        if report.problems:
            raise CommandError(f"pok_check found {len(report.problems)} problem(s).")
        report.info(self.style.SUCCESS("POK configuration OK."))

    def account_sections(self):
        """The checks of one account, in order; each receives the report and the account's client."""
        return [
            self.check_organization,
            self.check_catalogue,
            self.check_configured_templates,
            self.check_course_templates,
        ]

    def site_sections(self):
        return [self.report_credential_counts, self.check_existing_plugin]

    def check_account(self, report: Report, name: str, *, several: bool) -> None:
        report.start_account(name)
        if several:
            report.info(f"POK account {name}:")
        if not accounts.get(name).api_key:
            if name != accounts.DEFAULT:  # the settings section has said it for the default one
                report.problem(f"POK account {name} has no API key: set POK_ACCOUNTS[{name!r}]['API_KEY'].")
            return
        client = get_client(name)
        for section in self.account_sections():
            section(report, client)

    # -- sections --------------------------------------------------------------------------------

    def check_settings(self, report: Report) -> bool:
        """Whether POK may be contacted: the settings every call needs are sound."""
        if not setting("POK_API_KEY"):
            report.problem("POK_API_KEY is empty: set the API key from POK's dashboard.")
        for name in ("POK_TIMEOUT", "POK_CONNECT_TIMEOUT"):
            value = setting(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                report.problem(f"{name} is {value!r}: it must be a positive number of seconds.")
        if not isinstance(setting("POK_CUSTOM_PARAMETER_SOURCES"), dict):
            report.problem("POK_CUSTOM_PARAMETER_SOURCES must be a dict of parameter id -> source.")
        # The plugin's system checks hold the rules for the URL, date format and emission type; the
        # database checks (not part of a plain `check`) the rules for the template rows.
        for message in [*run_checks(), *checks.database_check_messages()]:
            if not (message.id or "").startswith("openedx_pok."):
                continue
            if message.level >= ERROR:
                report.problem(f"{message.msg} ({message.id})")
            else:
                report.info(f"note: {message.msg} ({message.id})")
        if report.problems:
            report.info("POK not contacted: fix the settings above first.")
            return False
        return True

    def check_organization(self, report: Report, client: PokClient) -> None:
        try:
            organization = client.get_organization()
        except PokAuthError as error:
            report.problem(f"POK refused the API key (HTTP {error.status_code}): {error.message}")
            return
        except PokUnavailable as error:
            report.problem(f"{client.base_url}: {error.message}")
            return
        except PokError as error:
            report.problem(f"POK answered organization/me with an error: {error.message}")
            return
        report.pok_reachable = True
        credits = "unknown" if organization.available_credits is None else organization.available_credits
        report.info(f"POK organisation: {organization.name or '(no name)'} at {client.base_url}")
        emitted = _count(organization.emitted_credentials)
        processing = _count(organization.processing_credentials)
        report.info(
            f"  credits available: {credits}; credentials emitted: {emitted}, processing: {processing}"
        )
        if organization.available_credits is not None and organization.available_credits <= 0:
            report.problem("The POK organisation has no credits left: new credentials will be refused.")

    def check_catalogue(self, report: Report, client: PokClient) -> None:
        if not report.pok_reachable:
            return
        try:
            templates = client.list_templates()
            pages = client.list_pages()
        except PokError as error:
            report.problem(f"Listing templates and pages failed: {error.message}")
            return
        report.info(f"Templates in POK ({len(templates)}):")
        for template in templates:
            report.info(f"  {template.id}: {template.name}")
        report.info(f"Pages in POK ({len(pages)}):")
        for page in pages:
            report.info(f"  {page.id}: {page.name}")
        report.page_ids = {page.id for page in pages}

    def check_configured_templates(self, report: Report, client: PokClient) -> None:
        try:
            templates, pages = configured_templates_and_pages(report.account)
        except DatabaseError as error:
            report.problem(f"Cannot read the POK certificate templates (has migrate run?): {error}")
            return
        if not templates and report.account == accounts.DEFAULT:
            if not accounts.several():
                report.problem(
                    "No template configured: set POK_TEMPLATE_ID or add POK certificate templates."
                )
            else:
                report.info(
                    "note: no template issues with the default account (POK_TEMPLATE_ID, template rows)."
                )
        elif not templates:
            report.problem(
                f"No template for POK account {report.account}: set POK_ACCOUNTS[{report.account!r}]"
                "['TEMPLATE_ID'] or add POK certificate templates for its organisations."
            )
        if not report.pok_reachable:
            return
        for template_id, scopes in sorted(templates.items()):
            self.check_template(report, client, template_id, scopes)
        for page_id, scopes in sorted(pages.items()):
            if report.page_ids is not None and page_id not in report.page_ids:
                report.problem(f"Page {page_id} (used by {', '.join(scopes)}) does not exist in POK.")

    def check_course_templates(self, report: Report, client: PokClient) -> None:
        """A parameter its course leaves empty (a signatory missing in Studio) fails every learner of it."""
        if not report.templates:
            return  # POK not reached, or no template could be read
        rows = CertificateTemplate.objects.filter(organization="").order_by("pk")
        for row in (row for row in rows if row_account(row) == report.account):
            template = report.templates.get(row.template_id)
            if template is None:
                continue  # the templates section has said why
            fillable = [
                parameter for parameter in template.custom_parameters if not parameter_problems([parameter])
            ]
            if not fillable:
                continue
            try:
                course = platform_adapter.get_course_details(row.course_key)
            except platform_adapter.CourseNotFound:
                report.info(
                    f"note: course {row.course_key} has a POK template row; the platform has no such course."
                )
                continue
            for problem in course_parameter_problems(fillable, course):
                report.problem(f"Course {row.course_key}, template {row.template_id}: {problem}.")

    def report_credential_counts(self, report: Report) -> None:
        try:
            by_account = counts_by_account_and_state()
        except DatabaseError:
            return  # the templates section has already said the tables are missing
        report.info(
            f"Credentials by state: {format_counts(totals_by_state(by_account))} (see docs/states.md)"
        )
        if accounts.several():
            for account, account_counts in by_account.items():
                report.info(f"  POK account {account}: {format_counts(account_counts)}")
        waiting = len(never_sent_for_unfilled_parameters())
        if waiting:
            report.info(
                f"note: {waiting} failed credential(s) were never sent because a template parameter had no "
                "value; once that is fixed, send them with `pok_retry --unfilled-parameters`."
            )

    def check_existing_plugin(self, report: Report) -> None:
        """What became of the existing POK plugin's rows; whether its course flag still switches courses."""
        try:
            adopted = copying.report_adoption(
                connection,
                credential_model=PokCertificate,
                template_model=CertificateTemplate,
                user_model=get_user_model(),
            )
        except DatabaseError:
            return  # the templates section has already said the tables are missing
        if adopted.tables:
            for line in adopted.summary_lines():
                report.info(f"note: {line}")
        legacy_flag = setting("POK_LEGACY_COURSE_FLAG")
        flag = legacy_flag or LEGACY_COURSE_WAFFLE_FLAG_NAME
        try:
            scopes = platform_adapter.where_course_flag_is_on(flag)
        except DatabaseError:
            return
        if scopes:
            where = ", ".join(scopes)
            if legacy_flag:
                report.info(
                    f"note: the existing POK plugin's course flag {flag} still switches POK on for {where} "
                    f"(POK_LEGACY_COURSE_FLAG). To move to this plugin's flag, set the same overrides for "
                    f"{COURSE_WAFFLE_FLAG_NAME}, then set POK_LEGACY_COURSE_FLAG = ''."
                )
            else:
                report.problem(
                    f"The existing POK plugin's course flag {flag} is on for {where}, but "
                    f"POK_LEGACY_COURSE_FLAG is empty, so POK is off there: set the same overrides for "
                    f"{COURSE_WAFFLE_FLAG_NAME}, or set POK_LEGACY_COURSE_FLAG = {flag!r} again."
                )

    def check_template(self, report: Report, client: PokClient, template_id: str, scopes) -> None:
        used_by = ", ".join(scopes)
        try:
            template = client.get_template(template_id)
        except PokNotFound:
            report.problem(f"Template {template_id} (used by {used_by}) does not exist in POK.")
            return
        except PokError as error:
            report.problem(f"Template {template_id} (used by {used_by}) could not be read: {error.message}")
            return
        report.templates[template_id] = template
        report.info(f"Template {template_id}: {template.name} (used by {used_by})")
        if not template.custom_parameters:
            report.info("  no custom parameters")
        for parameter in template.custom_parameters:
            problems = parameter_problems([parameter])
            if problems:
                report.problem(f"Template {template_id}: {problems[0]}.")
            else:
                source = source_name_for(parameter, SOURCE_NAMES)
                report.info(f"  parameter {parameter.id} ({parameter.label}) <- {source}")


def row_account(row: CertificateTemplate) -> str:
    """The account a template row's certificates issue with, as the template choice decides it."""
    organization = row.organization or (row.course_key.org if row.course_key else "")
    return accounts.chosen(row.account, organization)


def configured_templates_and_pages(account: str = accounts.DEFAULT) -> tuple[dict, dict]:
    """Template ids and page ids the plugin may use with an account, each with the scopes using it."""
    templates, pages = defaultdict(list), defaultdict(list)
    details = accounts.get(account)
    default_scope = DEFAULT_SCOPE if account == accounts.DEFAULT else f"the default of POK account {account}"
    if details.template_id:
        templates[details.template_id].append(default_scope)
    if details.page_id and (account == accounts.DEFAULT or details.page_id != setting("POK_PAGE_ID")):
        pages[details.page_id].append(
            "the default (POK_PAGE_ID)" if account == accounts.DEFAULT else default_scope
        )
    for row in (row for row in CertificateTemplate.objects.order_by("pk") if row_account(row) == account):
        scope = f"course {row.course_key}" if row.course_key else f"organisation {row.organization}"
        if row.mode:
            scope += f" ({row.mode})"
        templates[row.template_id].append(scope)
        if row.page_id:
            pages[row.page_id].append(scope)
    return dict(templates), dict(pages)


def _count(value: int | None) -> str:
    return "unknown" if value is None else str(value)
