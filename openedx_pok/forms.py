"""
The admin's form for a course or organisation template row: a readable error for a malformed course
key, and the template checked against POK (``services.templates.template_verification``) before it
is saved.
"""

from django import forms
from django.utils.translation import gettext_lazy as _
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok import accounts
from openedx_pok.models import CertificateTemplate
from openedx_pok.services.templates import template_verification


class CertificateTemplateForm(forms.ModelForm):
    """Checks the template (and landing page) against POK before saving, when POK can be reached."""

    class Meta:
        model = CertificateTemplate
        fields = ("course_key", "organization", "mode", "account", "template_id", "page_id", "emission_type")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The accounts are settings (keys never reach the database): offer the configured names,
        # and keep a row's own account visible even when it is no longer configured.
        names = accounts.names()
        current = self.instance.account if self.instance.pk else ""
        choices = [
            ("", _("the organisation's account, else the default one")),
            *((name, name) for name in names),
        ]
        if current and current not in names:
            choices.append((current, _("%(name)s (not configured)") % {"name": current}))
        self.fields["account"] = forms.ChoiceField(
            label=_("POK account"),
            choices=choices,
            required=False,
            help_text=_("Which POK account issues these certificates (POK_ACCOUNTS)."),
        )
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
            self._record(template_verification.verify(template_id, page_id, self._account(cleaned_data)))
        return cleaned_data

    @staticmethod
    def _account(cleaned_data) -> str:
        """The account the row's certificates would issue with: the row's, the organisation's, the default."""
        course_key = cleaned_data.get("course_key")
        organization = cleaned_data.get("organization") or (course_key.org if course_key else "")
        return accounts.chosen(cleaned_data.get("account"), organization)

    def _record(self, verification: template_verification.Verification) -> None:
        if verification.page_error:
            self.add_error("page_id", verification.page_error)
        if verification.template_error:
            self.add_error("template_id", verification.template_error)
        if verification.warning:
            self.pok_warnings.append(verification.warning)
        if verification.note:
            self.pok_notes.append(verification.note)
