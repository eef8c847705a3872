"""
Stand-in for ``openedx/core/djangoapps/waffle_utils/admin.py``: the *Waffle flag course overrides*
and *Waffle flag org overrides* screens where an operator switches POK on per course or organisation.

The platform's screens are config_models' KeyedConfigurationModelAdmin (every change is a new row,
the newest one wins); these keep its fields, search and help text.
"""

from django.contrib import admin

from .models import WaffleFlagCourseOverrideModel, WaffleFlagOrgOverrideModel


@admin.register(WaffleFlagCourseOverrideModel)
class WaffleFlagCourseOverrideAdmin(admin.ModelAdmin):
    list_display = ("waffle_flag", "course_id", "override_choice", "enabled", "change_date")
    search_fields = ("waffle_flag", "course_id")
    fieldsets = (
        (
            None,
            {
                "fields": ("waffle_flag", "course_id", "note", "override_choice", "enabled"),
                "description": "Enter a valid course id and an existing waffle flag. "
                "The waffle flag name is not validated.",
            },
        ),
    )


@admin.register(WaffleFlagOrgOverrideModel)
class WaffleFlagOrgOverrideAdmin(admin.ModelAdmin):
    list_display = ("waffle_flag", "org", "override_choice", "enabled", "change_date")
    search_fields = ("waffle_flag", "org")
    fieldsets = (
        (
            None,
            {
                "fields": ("waffle_flag", "org", "note", "override_choice", "enabled"),
                "description": "Enter a valid organization and an existing waffle flag. "
                "The waffle flag name is not validated.",
            },
        ),
    )
