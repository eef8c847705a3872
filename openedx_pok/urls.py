"""URLs under the plugin's own prefix (``/pok/``): LMS's ``certificates/`` URLs cannot be shadowed."""

app_name = "openedx_pok"

urlpatterns: list = []
