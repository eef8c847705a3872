"""
``pok_check``: is this installation able to issue POK credentials? Answers before a learner asks.

Checks the settings, reaches POK with the configured key, lists what the organisation has
(templates, pages, credits) and verifies every template the plugin may issue from. Prints one
line per finding; every problem is a line starting with ``problem:``, and any problem makes the
command exit with a non-zero status. Sections run in order; add a section by adding a method to
:meth:`Command.sections`.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.checks import ERROR, run_checks
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from openedx_pok.checks import known_source_names, parameter_problems
from openedx_pok.client import PokAuthError, PokClient, PokError, PokNotFound, PokUnavailable, get_client
from openedx_pok.conf import setting
from openedx_pok.models import CertificateTemplate
from openedx_pok.monitoring import counts_by_state, format_counts
from openedx_pok.services.payload import source_name_for

DEFAULT_SCOPE = "the default (POK_TEMPLATE_ID)"


@dataclass
class Report:
    """What the sections found; ``pok_reachable`` tells later sections whether to call POK."""

    command: BaseCommand
    problems: list[str] = field(default_factory=list)
    pok_reachable: bool = False
    page_ids: set[str] | None = None

    def info(self, line: str) -> None:
        self.command.stdout.write(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.command.stderr.write(f"problem: {line}")


class Command(BaseCommand):
    help = "Check the POK settings, reach POK, and verify every template the plugin may issue from."

    def handle(self, *args, **options):
        report = Report(self)
        client = None
        for section in self.sections():
            client = section(report, client) or client
        if report.problems:
            raise CommandError(f"pok_check found {len(report.problems)} problem(s).")
        report.info(self.style.SUCCESS("POK configuration OK."))

    def sections(self):
        """The checks, in order; each receives the report and the client (None before one exists)."""
        return [
            self.check_settings,
            self.check_organization,
            self.check_catalogue,
            self.check_configured_templates,
            self.report_credential_counts,
        ]

    # -- sections --------------------------------------------------------------------------------

    def check_settings(self, report: Report, client) -> PokClient | None:
        if not setting("POK_API_KEY"):
            report.problem("POK_API_KEY is empty: set the API key from POK's dashboard.")
        for name in ("POK_TIMEOUT", "POK_CONNECT_TIMEOUT"):
            value = setting(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                report.problem(f"{name} is {value!r}: it must be a positive number of seconds.")
        if not isinstance(setting("POK_CUSTOM_PARAMETER_SOURCES"), dict):
            report.problem("POK_CUSTOM_PARAMETER_SOURCES must be a dict of parameter id -> source.")
        # The plugin's system checks hold the rules for the URL, date format and emission type.
        for message in run_checks():
            if not (message.id or "").startswith("openedx_pok."):
                continue
            if message.level >= ERROR:
                report.problem(f"{message.msg} ({message.id})")
            else:
                report.info(f"note: {message.msg} ({message.id})")
        if report.problems:
            report.info("POK not contacted: fix the settings above first.")
            return None
        return get_client()

    def check_organization(self, report: Report, client: PokClient | None) -> None:
        if client is None:
            return
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

    def check_catalogue(self, report: Report, client: PokClient | None) -> None:
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

    def check_configured_templates(self, report: Report, client: PokClient | None) -> None:
        try:
            templates, pages = configured_templates_and_pages()
        except DatabaseError as error:
            report.problem(f"Cannot read the POK certificate templates (has migrate run?): {error}")
            return
        if not templates:
            report.problem("No template configured: set POK_TEMPLATE_ID or add POK certificate templates.")
        if not report.pok_reachable:
            return
        for template_id, scopes in sorted(templates.items()):
            self.check_template(report, client, template_id, scopes)
        for page_id, scopes in sorted(pages.items()):
            if report.page_ids is not None and page_id not in report.page_ids:
                report.problem(f"Page {page_id} (used by {', '.join(scopes)}) does not exist in POK.")

    def report_credential_counts(self, report: Report, client) -> None:
        try:
            counts = counts_by_state()
        except DatabaseError:
            return  # the templates section has already said the tables are missing
        report.info(f"Credentials by state: {format_counts(counts)} (see docs/states.md)")

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
        report.info(f"Template {template_id}: {template.name} (used by {used_by})")
        if not template.custom_parameters:
            report.info("  no custom parameters")
        source_names = known_source_names()
        for parameter in template.custom_parameters:
            problems = parameter_problems([parameter])
            if problems:
                report.problem(f"Template {template_id}: {problems[0]}.")
            else:
                source = source_name_for(parameter, source_names)
                report.info(f"  parameter {parameter.id} ({parameter.label}) <- {source}")


def configured_templates_and_pages() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Template ids and page ids the plugin may use, each with the scopes that use it."""
    templates, pages = defaultdict(list), defaultdict(list)
    if setting("POK_TEMPLATE_ID"):
        templates[setting("POK_TEMPLATE_ID")].append(DEFAULT_SCOPE)
    if setting("POK_PAGE_ID"):
        pages[setting("POK_PAGE_ID")].append("the default (POK_PAGE_ID)")
    for row in CertificateTemplate.objects.order_by("pk"):
        scope = f"course {row.course_key}" if row.course_key else f"organisation {row.organization}"
        if row.mode:
            scope += f" ({row.mode})"
        templates[row.template_id].append(scope)
        if row.page_id:
            pages[row.page_id].append(scope)
    return dict(templates), dict(pages)


def _count(value: int | None) -> str:
    return "unknown" if value is None else str(value)
