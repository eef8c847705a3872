from django.contrib import admin
from django.urls import include, path
from edx_django_utils.plugins import get_plugin_url_patterns

# As in LMS: the platform's certificate pages (stand-in) come before the plugins' URLs.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("certificates/", include("lms.djangoapps.certificates.urls")),
    *get_plugin_url_patterns("lms.djangoapp"),
]
