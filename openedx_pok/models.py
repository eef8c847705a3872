"""
The plugin's data: one POK credential per learner and course, and the course/organisation templates.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from opaque_keys.edx.django.models import CourseKeyField

# Text columns without a limit in the database that the plugin still keeps short: operators read them.
KEPT_SHORT = {"last_error": 2000}


class CredentialState(models.TextChoices):
    """Where a credential stands; the moves between states are declared in ``services/transitions.py``."""

    PENDING = "pending", _("Pending")
    REQUESTING = "requesting", _("Requesting from POK")
    RETRYING = "retrying", _("Waiting to retry")
    PROCESSING = "processing", _("Processing in POK")
    EMITTED = "emitted", _("Emitted")
    FAILED = "failed", _("Failed")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Outcome unknown")
    REVOKED = "revoked", _("Revoked")


class RevokedBy(models.TextChoices):
    """Who revoked a credential: a new request may undo only the platform's and POK's revocations."""

    PLATFORM = "platform", _("Open edX")
    POK = "pok", _("POK")
    OPERATOR = "operator", _("an operator")
    RETIREMENT = "retirement", _("the learner's retirement")


class EmissionType(models.TextChoices):
    POK = "pok", _("Web credential")
    BLOCKCHAIN = "blockchain", _("Blockchain (NFT)")


class PokCertificate(models.Model):
    """
    A learner's POK credential for one course, and where its issuing stands.

    .. pii: receiver_name and receiver_email copy the learner's name and email as sent to POK.
    .. pii_types: name, email_address
    .. pii_retirement: local_api (scrubbed on USER_RETIRE_LMS_MISC)
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pok_certificates"
    )
    course_key = CourseKeyField(_("course key"), max_length=255, db_index=True)
    # Unguessable id used in public URLs and the status endpoint, never the integer primary key.
    public_id = models.UUIDField(_("public ID"), default=uuid.uuid4, unique=True, editable=False)

    state = models.CharField(max_length=32, choices=CredentialState.choices, default=CredentialState.PENDING)
    revoked_by = models.CharField(
        _("revoked by"),
        max_length=16,
        choices=RevokedBy.choices,
        blank=True,
        help_text=_("Who revoked it, when revoked."),
    )
    pok_state = models.CharField(
        _("POK state"), max_length=64, blank=True, help_text=_("State as POK last reported it.")
    )
    pok_credential_id = models.CharField(
        _("POK credential ID"), max_length=64, null=True, blank=True, unique=True
    )
    view_url = models.URLField(_("view URL"), max_length=500, blank=True)
    image_url = models.URLField(_("image URL"), max_length=1000, blank=True)
    image_url_expires_at = models.DateTimeField(_("image URL expires at"), null=True, blank=True)

    # The POK account that issued it: its key serves every later call for this credential, even
    # when the organisation is mapped to another account afterwards.
    account = models.CharField(
        _("POK account"), max_length=64, default="default", help_text=_("The POK account that issues it.")
    )
    template_id = models.CharField(_("POK template ID"), max_length=64, blank=True)
    page_id = models.CharField(_("POK landing page ID"), max_length=64, blank=True)
    emission_type = models.CharField(max_length=16, choices=EmissionType.choices, blank=True)
    emission_date = models.DateTimeField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True)
    emitter = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    language_tag = models.CharField(max_length=35, blank=True)
    receiver_name = models.CharField(max_length=255, blank=True)
    receiver_email = models.EmailField(max_length=254, blank=True)

    # Snapshots of what the platform only knows while the certificate is being requested.
    grade_percent = models.DecimalField(_("grade (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    letter_grade = models.CharField(max_length=64, blank=True)
    mode = models.CharField(max_length=100, blank=True)
    generation_mode = models.CharField(max_length=32, blank=True)

    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When the plugin acts on this credential next by itself: sends it (pending, retrying, failed) "
            "or checks it in POK (processing). Empty: it waits for nothing."
        ),
    )
    requesting_since = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("POK certificate")
        verbose_name_plural = _("POK certificates")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course_key"], name="openedx_pok_one_credential_per_course"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="openedx_pok_state_due_idx"),
            models.Index(fields=["state", "requesting_since"], name="openedx_pok_state_since_idx"),
            models.Index(fields=["course_key", "state"], name="openedx_pok_course_state_idx"),
            models.Index(fields=["modified"], name="openedx_pok_modified_idx"),
            models.Index(fields=["account", "state"], name="openedx_pok_account_state_idx"),
        ]

    def __str__(self):
        return f"{self.course_key} / user {self.user_id}: {self.state}"

    @classmethod
    def limit(cls, field_name: str) -> int | None:
        """How many characters ``field_name`` holds: its ``max_length``, or :data:`KEPT_SHORT`'s."""
        return KEPT_SHORT.get(field_name) or cls._meta.get_field(field_name).max_length

    @classmethod
    def fit(cls, field_name: str, value) -> str:
        """
        ``value`` as text cut to what ``field_name`` holds (None becomes ""): every text the plugin
        stores goes through here, so one place knows each field's limit.
        """
        text = "" if value is None else str(value)
        limit = cls.limit(field_name)
        return text if limit is None else text[:limit]


class PeriodicRun(models.Model):
    """
    When a periodic task (the sweep, the reconciliation) last ran, and when its self-scheduled
    chain is next due to show life: the database's judgement of whether the chain is alive, since
    a broker restart loses the waiting run and the cache's marker outlives it.
    """

    task_name = models.CharField(_("task"), max_length=100, unique=True)
    last_run_at = models.DateTimeField(_("last run at"), null=True, blank=True)
    next_run_at = models.DateTimeField(
        _("next run due at"),
        null=True,
        blank=True,
        help_text=_(
            "When the chain's next run should start (or, while a run goes, finish). Long past: the "
            "broker lost it, and whatever runs next schedules it again. Empty: no run is wanted."
        ),
    )

    class Meta:
        verbose_name = _("POK periodic run")
        verbose_name_plural = _("POK periodic runs")

    def __str__(self):
        return f"{self.task_name}: last {self.last_run_at}, next {self.next_run_at}"


class CertificateTemplate(models.Model):
    """
    Which POK template a course, or every course of an organisation, issues from.

    Precedence: a course row, then an organisation row, then the POK_TEMPLATE_ID setting; within
    each level a row for the certificate's mode wins over a row for every mode (empty mode).
    """

    # Exactly one of course_key and organization is set (see clean); the other stays empty.
    course_key = CourseKeyField(_("course key"), max_length=255, blank=True, db_index=True)
    organization = models.CharField(
        _("organisation"),
        max_length=255,
        blank=True,
        db_index=True,
        help_text=_("Organisation short name, e.g. OpenedX."),
    )
    mode = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text=_("Certificate mode, e.g. verified; empty for every mode."),
    )
    template_id = models.CharField(
        _("POK template ID"), max_length=64, help_text=_("As POK's dashboard shows it, under Templates.")
    )
    page_id = models.CharField(
        _("POK landing page ID"),
        max_length=64,
        blank=True,
        help_text=_("As POK's dashboard shows it; empty for POK's default page."),
    )
    account = models.CharField(
        _("POK account"),
        max_length=64,
        blank=True,
        help_text=_("A name of POK_ACCOUNTS; empty: the organisation's account, else the default one."),
    )
    emission_type = models.CharField(
        max_length=16,
        choices=EmissionType.choices,
        blank=True,
        help_text=_("Empty uses the POK_EMISSION_TYPE setting."),
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("POK certificate template")
        verbose_name_plural = _("POK certificate templates")
        constraints = [
            models.UniqueConstraint(
                fields=["course_key", "organization", "mode"], name="openedx_pok_one_template_per_scope_mode"
            ),
        ]

    def __str__(self):
        scope = self.course_key or f"organization {self.organization}"
        return f"{scope} ({self.mode or 'all modes'}) -> {self.template_id}"

    def clean(self):
        self.organization = (self.organization or "").strip()
        if bool(self.course_key) == bool(self.organization):
            raise ValidationError(_("Set either a course or an organisation, not both."))
