from django.contrib import admin
from django.urls import include, path
from edx_django_utils.plugins import get_plugin_url_patterns

# As in LMS: the platform's error pages, and its certificate pages (stand-in) before the plugins' URLs.
handler404 = "lms.djangoapps.static_template_view.views.render_404"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("certificates/", include("lms.djangoapps.certificates.urls")),
    *get_plugin_url_patterns("lms.djangoapp"),
]
