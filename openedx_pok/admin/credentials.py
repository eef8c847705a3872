"""
Every credential's state for operators: the changelist with its counts per state (and per POK
account), each row's attempts and history, and the actions (retry, resync, re-issue, revoke), each
one call to the operator services, refused where the lifecycle says so.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from openedx_pok import accounts, monitoring
from openedx_pok.client import PokError
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions

S = CredentialState


# History entries carry these keys (lifecycle.apply); any other, such as the transition, joins the note.
HISTORY_COLUMNS = frozenset({"at", "from", "to", "note"})
# A confirmation page lists this many of the selected credentials, and counts the rest.
CONFIRMATION_ROWS_SHOWN = 100
# The changelist shows this many characters of a POK id (the whole id is in the cell's title).
POK_ID_SHOWN = 8


class OrganizationFilter(admin.SimpleListFilter):
    """Course keys are stored as text: an organisation is the prefix of its courses' keys."""

    title = _("organisation")
    parameter_name = "organization"

    def lookups(self, request, model_admin):
        course_keys = PokCertificate.objects.order_by().values_list("course_key", flat=True).distinct()
        organizations = sorted({course_key.org for course_key in course_keys if course_key})
        return [(organization, organization) for organization in organizations]

    def queryset(self, request, queryset):
        organization = self.value()
        if not organization:
            return queryset
        return queryset.filter(course_key__startswith=f"course-v1:{organization}+") | queryset.filter(
            course_key__startswith=f"{organization}/"  # pre-2015 keys: Org/Course/Run
        )


@dataclass
class ActionReport:
    """What an action did to each selected credential, for the message the operator reads."""

    done: list[PokCertificate] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def fail(self, reason: str) -> None:
        self.failed[reason] += 1


def _short_datetime(value: datetime | None) -> str:
    """A date and time in the operator's locale and the site's time zone, short enough for a column."""
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _history_time(value: str) -> str:
    """History entries keep ISO 8601 times; an unreadable one is shown as it was stored."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _state_label(state: str) -> str:
    return str(S(state).label) if state in S.values else str(state or "")


def _reasons(counter: Counter) -> str:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return "; ".join(f"{reason} ({count})" for reason, count in ordered)


@admin.register(PokCertificate)
class PokCertificateAdmin(admin.ModelAdmin):
    list_display = ("learner", "course", "state", "pok_id", "attempts", "updated")
    list_filter = ("state", "emission_type", OrganizationFilter)
    # Exact or prefix matches only: they use the indexes on a table with a row per certificate.
    search_fields = ("^user__username", "=user__email", "^course_key", "=pok_credential_id")
    search_help_text = _("Username or course key (beginning), email or POK id (exact).")
    list_select_related = ("user",)
    show_full_result_count = False
    ordering = ("-modified",)
    actions = ("retry_now", "resync_from_pok", "reissue", "mark_revoked")
    change_list_template = "admin/openedx_pok/pokcertificate/change_list.html"
    fieldsets = (
        (None, {"fields": ("user", "course_key", "public_id", "mode", "state")}),
        (
            _("In POK"),
            {
                "fields": (
                    "account",
                    "pok_credential_id",
                    "pok_state",
                    "view_url",
                    "image_url",
                    "image_url_expires_at",
                    "template_id",
                    "page_id",
                    "emission_type",
                    "emission_date",
                    "title",
                    "emitter",
                    "tag_list",
                    "language_tag",
                    "receiver_name",
                    "receiver_email",
                )
            },
        ),
        (_("Grade when requested"), {"fields": ("grade_percent", "letter_grade", "generation_mode")}),
        (
            _("Attempts"),
            {
                "fields": (
                    "attempts",
                    "next_attempt_at",
                    "requesting_since",
                    "last_error_text",
                    "history_table",
                    "created",
                    "modified",
                )
            },
        ),
    )
    # The row is the state machine's and POK's: it changes through the actions, never by hand.
    readonly_fields = tuple(name for _section, options in fieldsets for name in options["fields"])

    def has_add_permission(self, request):
        return False  # credentials come from certificates, or from pok_backfill

    @admin.display(description=_("learner"), ordering="user__username")
    def learner(self, credential):
        return credential.user.username

    @admin.display(description=_("course"), ordering="course_key")
    def course(self, credential):
        """The key may wrap after its ``:`` and ``+`` separators, never in the middle of a part."""
        parts = re.split(r"(?<=[:+/])", str(credential.course_key))
        return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts))

    @admin.display(description=_("POK id"), ordering="pok_credential_id")
    def pok_id(self, credential):
        """A POK id is a 36-character UUID: its start tells rows apart, and the cell's title holds it all."""
        pok_id = credential.pok_credential_id
        if not pok_id:
            return "—"
        shown = pok_id if len(pok_id) <= POK_ID_SHOWN else f"{pok_id[:POK_ID_SHOWN]}…"
        return format_html('<code title="{}">{}</code>', pok_id, shown)

    @admin.display(description=_("updated"), ordering="modified")
    def updated(self, credential):
        return _short_datetime(credential.modified)

    @admin.display(description=_("tags"))
    def tag_list(self, credential):
        tags = [str(tag) for tag in credential.tags or [] if str(tag)]
        if not tags:
            return "—"
        return format_html_join(" ", '<code class="pok-tag">{}</code>', ((tag,) for tag in tags))

    @admin.display(description=_("last error"))
    def last_error_text(self, credential):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", credential.last_error or "—")

    @admin.display(description=_("history"))
    def history_table(self, credential):
        entries = list(reversed(credential.history or []))
        if not entries:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _history_time(entry.get("at", "")),
                    _state_label(entry.get("from", "")),
                    _state_label(entry.get("to", "")),
                    "; ".join(
                        [entry.get("note", "")]
                        + [f"{key}: {value}" for key, value in entry.items() if key not in HISTORY_COLUMNS]
                    ).strip("; "),
                )
                for entry in entries
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("when"),
            _("from"),
            _("to"),
            _("note"),
            rows,
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = (
            getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        )
        if changelist is not None:
            by_account = (
                monitoring.counts_by_account_and_state(changelist.queryset) if accounts.several() else None
            )
            counts = (
                monitoring.counts_by_state(changelist.queryset)
                if by_account is None
                else monitoring.totals_by_state(by_account)
            )
            response.context_data["state_counts"] = [
                {
                    "state": state,
                    "label": _state_label(state),
                    "count": count,
                    "query": changelist.get_query_string({"state__exact": state}, ["p"]),
                }
                for state, count in counts.items()
            ]
            if by_account is not None:
                response.context_data["account_counts"] = [
                    {
                        "account": account,
                        "query": changelist.get_query_string({"account__exact": account}, ["p"]),
                        "counts": [by_state.get(state, 0) for state in counts],
                    }
                    for account, by_state in by_account.items()
                ]
        return response

    def get_list_display(self, request):
        """The account column and filter only on sites with several POK accounts."""
        if accounts.several():
            return ("learner", "course", "account", *self.list_display[2:])
        return self.list_display

    def get_list_filter(self, request):
        return (*self.list_filter, "account") if accounts.several() else self.list_filter

    # -- actions ----------------------------------------------------------------------------------

    @admin.action(description=_("Retry now"))
    def retry_now(self, request, queryset):
        unknown = [credential for credential in queryset if credential.state == S.OUTCOME_UNKNOWN]
        if unknown and not request.POST.get("confirm"):
            return self.confirmation_page(
                request,
                queryset,
                action="retry_now",
                title=_("Retry credentials whose outcome is unknown?"),
                warning=_(
                    "POK may already have created the credentials marked “Outcome unknown”: their request "
                    "was sent but the answer never came, and POK offers no way to look them up. Sending "
                    "them again may create a duplicate credential and spend a second credit for each. "
                    "Check POK's dashboard first when you can."
                ),
                confirm_label=_("Yes, send them again"),
            )
        # Reaching here with unknown outcomes selected means the operator confirmed the risk.
        report = self.apply_to_each(queryset, "retry", operator_actions.retry_now, accept_duplicate_risk=True)
        self.report(request, report, _("Queued %(count)d credential(s) to be sent to POK again."))
        return None

    @admin.action(description=_("Resync from POK"))
    def resync_from_pok(self, request, queryset):
        report = self.apply_to_each(queryset, "resync", operator_actions.resync_from_pok)
        self.report(request, report, _("Read %(count)d credential(s) from POK."))

    @admin.action(description=_("Re-issue (costs a credit)"))
    def reissue(self, request, queryset):
        if not request.POST.get("confirm"):
            return self.confirmation_page(
                request,
                queryset,
                action="reissue",
                title=_("Re-issue these credentials?"),
                warning=_(
                    "Each credential is requested from POK again with the learner's current name and the "
                    "course's current template: a new POK credential, which costs a credit. Use it after a "
                    "learner changed their name. The previous POK credential stays valid until you revoke it "
                    "in POK's dashboard."
                ),
                confirm_label=_("Yes, re-issue and spend the credits"),
            )
        report = self.apply_to_each(queryset, "reissue", operator_actions.reissue)
        self.report(request, report, _("Queued %(count)d credential(s) to be issued again."))
        return None

    @admin.action(description=_("Mark revoked"))
    def mark_revoked(self, request, queryset):
        if not request.POST.get("confirm"):
            return self.confirmation_page(
                request,
                queryset,
                action="mark_revoked",
                title=_("Mark these credentials revoked?"),
                warning=_(
                    "The certificate pages will show these credentials as no longer valid, and credentials "
                    "not yet sent will never be. POK offers no way to revoke a credential through its API: "
                    "revoke the issued ones in POK's dashboard as well."
                ),
                confirm_label=_("Yes, mark them revoked"),
                ask_reason=True,
            )
        reason = (request.POST.get("reason") or "").strip() or _("revoked in the Django admin")
        reason = f"{reason} (by {request.user.get_username()})"
        report = self.apply_to_each(queryset, "revoke", operator_actions.revoke, reason)
        self.report(
            request,
            report,
            _("Marked %(count)d credential(s) revoked here; revoke the issued ones in POK's dashboard too."),
        )
        return None

    def apply_to_each(self, queryset, action: str, service, *args, **kwargs) -> ActionReport:
        """Run an operator action on every selected credential the lifecycle allows it for."""
        report = ActionReport()
        for credential in queryset:
            refused = lifecycle.refusal(credential, action)
            if refused:
                report.skip(refused)
                continue
            try:
                service(credential, *args, **kwargs)
            except lifecycle.IssuanceError as error:
                report.skip(str(error))
            except PokError as error:
                report.fail(error.message)
            else:
                report.done.append(credential)
        return report

    def report(self, request, report: ActionReport, done_message) -> None:
        monitoring.set_custom_attribute("admin_action", request.POST.get("action", ""))
        monitoring.set_custom_attribute("admin_action_done", len(report.done))
        monitoring.set_custom_attribute("admin_action_skipped", sum(report.skipped.values()))
        monitoring.set_custom_attribute("admin_action_failed", sum(report.failed.values()))
        if report.done or not (report.skipped or report.failed):
            self.message_user(request, done_message % {"count": len(report.done)}, messages.SUCCESS)
        skipped = sum(report.skipped.values())
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(count)d credential: %(reasons)s.",
                    "Skipped %(count)d credentials: %(reasons)s.",
                    skipped,
                )
                % {"count": skipped, "reasons": _reasons(report.skipped)},
                messages.WARNING,
            )
        failed = sum(report.failed.values())
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d credential failed: %(reasons)s.",
                    "%(count)d credentials failed: %(reasons)s.",
                    failed,
                )
                % {"count": failed, "reasons": _reasons(report.failed)},
                messages.ERROR,
            )

    def confirmation_page(
        self, request, queryset, *, action, title, warning, confirm_label, ask_reason=False
    ):
        """
        The intermediate page; confirming posts the same selection back with ``confirm``. A
        "select all" selection is passed on as such (the changelist's filters are in the URL, and
        Django wants one selected id alongside), so a large selection does not become a page with
        one hidden field per row.
        """
        select_across = request.POST.get("select_across") == "1"
        count = queryset.count()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "warning": warning,
            "confirm_label": confirm_label,
            "ask_reason": ask_reason,
            "action": action,
            "count": count,
            "credentials": queryset.select_related("user")[:CONFIRMATION_ROWS_SHOWN],
            "not_shown": max(0, count - CONFIRMATION_ROWS_SHOWN),
            "select_across": select_across,
            "selected_ids": (
                request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)[:1]
                if select_across
                else list(queryset.values_list("pk", flat=True))
            ),
            "states": monitoring.format_counts(monitoring.counts_by_state(queryset)),
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/openedx_pok/pokcertificate/confirm_action.html", context)
