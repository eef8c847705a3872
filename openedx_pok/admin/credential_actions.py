"""
What operators do to credentials from the admin (retry, resync, re-issue, revoke, attach the
credential found in POK): each action one call to the operator services, refused where the
lifecycle says so, with a confirmation page where it may cost a credit or cannot be undone.
"""

from collections import Counter
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from openedx_pok import monitoring
from openedx_pok.client import PokError
from openedx_pok.models import CredentialState, PokCertificate
from openedx_pok.services import lifecycle
from openedx_pok.services.issuing import operator_actions
from openedx_pok.services.templates import payload

S = CredentialState

# A confirmation page lists this many of the selected credentials, and counts the rest.
CONFIRMATION_ROWS_SHOWN = 100


class AttachForm(forms.Form):
    """The id of the credential an operator found in POK's dashboard; the service checks the rest."""

    pok_credential_id = forms.CharField(
        label=_("POK credential ID"),
        max_length=200,
        help_text=_("As POK's dashboard shows it, e.g. 9e80b81b-1441-472b-bbd7-0120ec370042."),
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


class CredentialActions:
    """The credential admin's actions, for ``PokCertificateAdmin``."""

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

    @admin.action(description=_("Attach the credential found in POK (no credit)"))
    def attach_pok_credential(self, request, queryset):
        """
        One credential whose outcome is unknown, and the id of the credential found for it in POK's
        dashboard: a page asks for the id, the service checks it with POK and attaches it.
        """
        if queryset.count() != 1:
            self.message_user(
                request,
                _("Select exactly one credential to attach the credential found in POK to."),
                messages.WARNING,
            )
            return None
        credential = queryset.select_related("user").get()
        refused = lifecycle.refusal(credential, "attach")
        if refused:
            self.message_user(request, _("Not attached: %(reason)s.") % {"reason": refused}, messages.WARNING)
            return None
        form = AttachForm(request.POST if request.POST.get("confirm") else None)
        error = ""
        if form.is_valid():
            pok_id = form.cleaned_data["pok_credential_id"].strip()
            try:
                operator_actions.attach_pok_credential(credential, pok_id, actor=request.user.get_username())
            except lifecycle.IssuanceError as refusal:
                error = _("Not attached: %(reason)s.") % {"reason": refusal}
            except PokError as failure:
                error = _("POK could not be asked, nothing changed: %(reason)s") % {"reason": failure.message}
            else:
                monitoring.set_custom_attribute("admin_action", "attach_pok_credential")
                self.message_user(
                    request,
                    _(
                        "Attached POK credential %(pok_id)s to the credential of %(learner)s in %(course)s; "
                        "its status is checked with POK now, nothing was sent again."
                    )
                    % {
                        "pok_id": pok_id,
                        "learner": credential.user.get_username(),
                        "course": credential.course_key,
                    },
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Attach the credential found in POK"),
            "credential": credential,
            "tags": payload.credential_tags(credential),
            "form": form,
            "error": error,
            "action": "attach_pok_credential",
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/openedx_pok/pokcertificate/attach_credential.html", context)

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
