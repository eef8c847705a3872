"""Stand-ins for edx-organizations' models."""

from django.db import models
from opaque_keys.edx.django.models import CourseKeyField


class Organization(models.Model):
    name = models.CharField(max_length=255, db_index=True)
    short_name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        app_label = "organizations"


class OrganizationCourse(models.Model):
    course_id = CourseKeyField(max_length=255, db_index=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    active = models.BooleanField(default=True)

    class Meta:
        app_label = "organizations"
        unique_together = ("course_id", "organization")
