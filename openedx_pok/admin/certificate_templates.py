"""The course and organisation templates: which POK template, page and account a course's certificates use."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from openedx_pok import accounts
from openedx_pok.forms import CertificateTemplateForm
from openedx_pok.models import CertificateTemplate


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
        (_("POK"), {"fields": ("account", "template_id", "page_id", "emission_type")}),
    )

    def get_list_display(self, request):
        """The account column only on sites with several POK accounts."""
        if accounts.several():
            return ("scope", "mode_label", "account_label", *self.list_display[2:])
        return self.list_display

    @admin.display(description=_("POK account"), ordering="account")
    def account_label(self, template):
        return template.account or _("organisation's or default")

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
