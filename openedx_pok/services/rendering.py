"""What the certificate page shows, decided from the local credential row only."""


def render_certificate_page(context: dict) -> None:
    """Called from the render step; raises a render exception to replace the standard page, or returns."""
