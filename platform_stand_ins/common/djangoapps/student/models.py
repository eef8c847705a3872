"""Stand-ins for the platform's UserProfile and CourseAccessRole."""

from django.conf import settings
from django.db import models
from opaque_keys.edx.django.models import CourseKeyField


class UserProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, unique=True, db_index=True, related_name="profile", on_delete=models.CASCADE
    )
    name = models.CharField(blank=True, max_length=255, db_index=True)
    language = models.CharField(blank=True, max_length=255, db_index=True)

    class Meta:
        app_label = "student"


class CourseAccessRole(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    org = models.CharField(max_length=64, db_index=True, blank=True)
    course_id = CourseKeyField(max_length=255, db_index=True, blank=True)
    role = models.CharField(max_length=64, db_index=True)

    class Meta:
        app_label = "student"
        unique_together = ("user", "org", "course_id", "role")
