"""Django system checks: operators learn about misconfiguration before learners do."""

from django.core.checks import Error, register

from openedx_pok.conf import setting


@register()
def check_api_key(app_configs=None, **kwargs):
    if setting("POK_ENABLED_FOR_ALL_COURSES") and not setting("POK_API_KEY"):
        return [
            Error(
                "POK is on for all courses but POK_API_KEY is empty.",
                hint="Set POK_API_KEY in the LMS settings (Tutor: tutor config save --set POK_API_KEY=...).",
                id="openedx_pok.E001",
            )
        ]
    return []
