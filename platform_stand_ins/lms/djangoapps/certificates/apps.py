from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "lms.djangoapps.certificates"
    label = "certificates"
    default_auto_field = "django.db.models.AutoField"
