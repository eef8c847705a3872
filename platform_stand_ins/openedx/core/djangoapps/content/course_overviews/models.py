"""Stand-in for the platform's CourseOverview, also holding the course block fields the plugin reads."""

from django.db import models
from opaque_keys.edx.django.models import CourseKeyField


class CourseOverview(models.Model):
    id = CourseKeyField(db_index=True, primary_key=True, max_length=255)
    display_name = models.TextField(null=True)
    org = models.TextField(max_length=255, default="outdated_entry")
    display_org_with_default = models.TextField()
    display_number_with_default = models.TextField()
    language = models.TextField(null=True)
    end = models.DateTimeField(null=True)
    self_paced = models.BooleanField(default=False)
    # When learners may see the course's certificates ("early_no_info", "end", "end_with_date").
    certificates_display_behavior = models.TextField(null=True)
    certificates_show_before_end = models.BooleanField(default=False)
    certificate_available_date = models.DateTimeField(default=None, null=True)
    # The platform keeps this in the modulestore's course block (course.certificates); here it rides along.
    certificates = models.JSONField(default=dict)

    class Meta:
        app_label = "course_overviews"

    @classmethod
    def get_from_id(cls, course_id):
        return cls.objects.get(id=course_id)
