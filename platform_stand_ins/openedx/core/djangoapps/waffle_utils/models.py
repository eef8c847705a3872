"""Stand-ins for the platform's waffle override models (the newest enabled row wins)."""

from django.db import models
from opaque_keys.edx.django.models import CourseKeyField

OVERRIDE_CHOICES = (("on", "Force On"), ("off", "Force Off"))


class WaffleFlagCourseOverrideModel(models.Model):
    waffle_flag = models.CharField(max_length=255, db_index=True)
    course_id = CourseKeyField(max_length=255, db_index=True)
    override_choice = models.CharField(choices=OVERRIDE_CHOICES, default="on", max_length=3)
    note = models.TextField(blank=True, help_text="e.g. why this exists and when/if it can be dropped")
    enabled = models.BooleanField(default=True)
    change_date = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "waffle_utils"
        verbose_name = "Waffle flag course override"
        verbose_name_plural = "Waffle flag course overrides"

    def __str__(self):
        return f"Course {self.course_id}: Waffle Override {'Enabled' if self.enabled else 'Not Enabled'}"

    @classmethod
    def override_value(cls, waffle_flag, course_id):
        row = cls.objects.filter(waffle_flag=waffle_flag, course_id=course_id).order_by("-pk").first()
        return row.override_choice if row and row.enabled else None


class WaffleFlagOrgOverrideModel(models.Model):
    waffle_flag = models.CharField(max_length=255, db_index=True)
    org = models.CharField(max_length=255, db_index=True)
    override_choice = models.CharField(choices=OVERRIDE_CHOICES, default="on", max_length=3)
    note = models.TextField(blank=True, help_text="e.g. why this exists and when/if it can be dropped")
    enabled = models.BooleanField(default=True)
    change_date = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "waffle_utils"
        verbose_name = "Waffle flag org override"
        verbose_name_plural = "Waffle flag org overrides"

    def __str__(self):
        return f"Org {self.org}: Waffle Override {'Enabled' if self.enabled else 'Not Enabled'}"

    @classmethod
    def override_value(cls, waffle_flag, org):
        row = cls.objects.filter(waffle_flag=waffle_flag, org=org).order_by("-pk").first()
        return row.override_choice if row and row.enabled else None
