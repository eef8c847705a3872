from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, db_index=True, related_name="preferences", on_delete=models.CASCADE
    )
    key = models.CharField(max_length=255, db_index=True)
    value = models.TextField()

    class Meta:
        app_label = "user_api"
        unique_together = ("user", "key")
