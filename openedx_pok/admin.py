"""
Django admin for operators: every credential's state, and the course and organisation templates.

The admin is an entry point like the tasks: its actions call the operator services and report what
they did; the state machine, retries and POK calls live in the services, never here.
"""

from collections import Counter
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import monitoring
from openedx_pok.checks import parameter_problems
from openedx_pok.client import PokAuthError, PokError, PokNotFound, get_client
from openedx_pok.conf import setting
from openedx_pok.models import CertificateTemplate, CredentialState, PokCertificate
from openedx_pok.services import lifecycle, operator_actions
from openedx_pok.services.template_definitions import forget_template_definition, get_template_definition

S = CredentialState

# History entries carry these keys (lifecycle.apply); any other, such as the transition, joins the note.
HISTORY_COLUMNS = frozenset({"at", "from", "to", "note"})
# A confirmation page lists this many of the selected credentials, and counts the rest.
CONFIRMATION_ROWS_SHOWN = 100


# -- Certificate templates --------------------------------------------------------------------------


class CertificateTemplateForm(forms.ModelForm):
    """Checks the template (and landing page) against POK before saving, when POK can be reached."""

    class Meta:
        model = CertificateTemplate
        fields = ("course_key", "organization", "mode", "template_id", "page_id", "emission_type")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What the check found out, shown as messages once the row is saved.
        self.pok_warnings: list[str] = []
        self.pok_notes: list[str] = []

    def clean_course_key(self):
        """The key field takes any text; a typo must be a form error, not a crash when saving."""
        value = self.cleaned_data.get("course_key")
        if not value or isinstance(value, CourseKey):
            return value
        try:
            return CourseKey.from_string(str(value).strip())
        except InvalidKeyError as error:
            raise forms.ValidationError(
                _("%(value)s is not a course key; they look like course-v1:Org+Number+Run.")
                % {"value": value}
            ) from error

    def clean(self):
        cleaned_data = super().clean()
        template_id = (cleaned_data.get("template_id") or "").strip()
        page_id = (cleaned_data.get("page_id") or "").strip()
        if template_id and not self.has_error("template_id"):
            cleaned_data["template_id"] = template_id
            cleaned_data["page_id"] = page_id
            self.check_against_pok(template_id, page_id)
        return cleaned_data

    def check_against_pok(self, template_id: str, page_id: str) -> None:
        if not setting("POK_API_KEY"):
            self.pok_warnings.append(
                _("POK_API_KEY is empty: the template was saved without being checked against POK.")
            )
            return
        forget_template_definition(template_id)  # the operator may just have changed it in POK
        try:
            template = get_template_definition(template_id)
            page_ids = {page.id for page in get_client().list_pages()} if page_id else set()
        except PokNotFound:
            self.add_error(
                "template_id",
                _("POK has no template with the id %(id)s. Copy the id from POK's dashboard (Templates).")
                % {"id": template_id},
            )
            return
        except PokAuthError:
            self.pok_warnings.append(
                _(
                    "POK refused the API key, so the template was saved without being checked. "
                    "Check POK_API_KEY."
                )
            )
            return
        except PokError as error:
            self.pok_warnings.append(
                _(
                    "POK could not be reached (%(reason)s): the template was saved without being checked. "
                    "Run `manage.py lms pok_check` once POK is back."
                )
                % {"reason": error.message}
            )
            return
        if page_id and page_id not in page_ids:
            self.add_error("page_id", _("POK has no landing page with the id %(id)s.") % {"id": page_id})
        problems = parameter_problems(template.custom_parameters)
        if problems:
            self.add_error(
                "template_id",
                _(
                    "POK template %(name)s needs parameters this plugin cannot fill: %(problems)s. "
                    "Map each in the POK_CUSTOM_PARAMETER_SOURCES setting (see docs/templates.md)."
                )
                % {"name": template.name or template_id, "problems": "; ".join(problems)},
            )
            return
        parameter_ids = ", ".join(parameter.id for parameter in template.custom_parameters)
        self.pok_notes.append(
            _("POK template %(name)s checked: parameters %(parameters)s.")
            % {"name": template.name or template_id, "parameters": parameter_ids or _("none")}
        )


@admin.register(CertificateTemplate)
class CertificateTemplateAdmin(admin.ModelAdmin):
    form = CertificateTemplateForm
    list_display = ("scope", "mode_label", "template_id", "page_id", "emission_type", "modified")
    list_filter = ("emission_type", "mode")
    search_fields = ("^course_key", "organization", "=template_id")
    fieldsets = (
        (
            _("Which certificates"),
            {
                "fields": ("course_key", "organization", "mode"),
                "description": _(
                    "Set a course key, or an organisation for all its courses (not both). A course row "
                    "wins over an organisation row; rows for a mode win over rows for every mode."
                ),
            },
        ),
        (_("POK"), {"fields": ("template_id", "page_id", "emission_type")}),
    )

    @admin.display(description=_("course or organisation"), ordering="course_key")
    def scope(self, template):
        return (
            str(template.course_key)
            if template.course_key
            else _("organisation %(org)s") % {"org": template.organization}
        )

    @admin.display(description=_("mode"), ordering="mode")
    def mode_label(self, template):
        return template.mode or _("every mode")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in getattr(form, "pok_warnings", ()):
            self.message_user(request, warning, messages.WARNING)
        for note in getattr(form, "pok_notes", ()):
            self.message_user(request, note, messages.INFO)


# -- Credentials ------------------------------------------------------------------------------------


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
                    "tags",
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
        return str(credential.course_key)

    @admin.display(description=_("POK id"), ordering="pok_credential_id")
    def pok_id(self, credential):
        return credential.pok_credential_id or "—"

    @admin.display(description=_("updated"), ordering="modified")
    def updated(self, credential):
        return credential.modified

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
                    entry.get("at", ""),
                    entry.get("from", ""),
                    entry.get("to", ""),
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
            counts = monitoring.counts_by_state(changelist.queryset)
            response.context_data["state_counts"] = [
                {
                    "state": state,
                    "label": S(state).label if state in S.values else state,
                    "count": count,
                    "query": changelist.get_query_string({"state__exact": state}, ["p"]),
                }
                for state, count in counts.items()
            ]
        return response

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
