"""URLs of the demo host, in LMS's order: the platform's own, then the plugins'."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from edx_django_utils.plugins import get_plugin_url_patterns

from demo import views

demo_patterns = [
    path("", views.home, name="home"),
    path("demo/pass/", views.pass_course, name="pass"),
    path("demo/revoke/", views.revoke, name="revoke"),
    path("demo/pok-outage/", views.switch_outage, name="outage"),
    path("demo/sign-in-as/", views.sign_in_as, name="sign_in_as"),
]

# LMS's own "Page not found" page, which the platform shows for a certificate revoked in Open edX.
handler404 = "lms.djangoapps.static_template_view.views.render_404"

urlpatterns = [
    path("", include((demo_patterns, "demo"))),
    path("login/", auth_views.LoginView.as_view(template_name="demo/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The platform's certificate pages (the render call site), before any plugin URL, as in LMS.
    path("certificates/", include("lms.djangoapps.certificates.urls")),
    *get_plugin_url_patterns("lms.djangoapp"),
]
