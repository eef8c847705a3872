"""Stand-in for the platform's certificate views package (only the HTML web view)."""

from lms.djangoapps.certificates.views.webview import (  # noqa: F401
    render_cert_by_uuid,
    render_html_view,
    render_preview_certificate,
)
