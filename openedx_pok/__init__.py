"""Open edX plugin that issues course certificates as POK credentials."""

__version__ = "0.1.0"
