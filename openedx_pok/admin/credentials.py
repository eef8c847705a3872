"""
Every credential's state for operators: the changelist with its counts per state (and per POK
account), each row's attempts and history. What operators can do to the rows is in
:mod:`.credential_actions`.
"""

import re
from datetime import UTC, datetime

from django.contrib import admin
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from openedx_pok import accounts, monitoring
from openedx_pok.admin.credential_actions import CredentialActions
from openedx_pok.models import CredentialState, PokCertificate

S = CredentialState


# History entries carry these keys (lifecycle.apply); any other, such as the transition, joins the note.
HISTORY_COLUMNS = frozenset({"at", "from", "to", "note"})
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


@admin.register(PokCertificate)
class PokCertificateAdmin(CredentialActions, admin.ModelAdmin):
    list_display = ("learner", "course", "state", "pok_id", "attempts", "updated")
    list_filter = ("state", "emission_type", OrganizationFilter)
    # Exact or prefix matches only: they use the indexes on a table with a row per certificate.
    search_fields = ("^user__username", "=user__email", "^course_key", "=pok_credential_id")
    search_help_text = _("Username or course key (beginning), email or POK id (exact).")
    list_select_related = ("user",)
    show_full_result_count = False
    ordering = ("-modified",)
    actions = ("retry_now", "resync_from_pok", "reissue", "mark_revoked", "attach_pok_credential")
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
