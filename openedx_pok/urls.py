"""URLs under the plugin's own prefix (``/pok/``): LMS's ``certificates/`` URLs cannot be shadowed."""

from django.urls import path

from openedx_pok import views

app_name = "openedx_pok"

urlpatterns = [
    path("credentials/mine", views.my_credentials, name="my_credentials"),
    path("credentials/lookup", views.staff_credential_lookup, name="staff_credential_lookup"),
    path("credentials/<uuid:public_id>/status", views.credential_status, name="credential_status"),
    path("credentials/<uuid:public_id>/image", views.credential_image, name="credential_image"),
]
