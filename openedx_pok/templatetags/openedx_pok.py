"""Template filters of the learner pages."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def isolate(value) -> str:
    """
    Escape ``value`` and wrap it in ``<bdi>``: a name or title written right to left (or left to
    right on a right-to-left page) cannot reorder the translated sentence around it.
    """
    if value in (None, ""):
        return ""
    return format_html("<bdi>{}</bdi>", value)
