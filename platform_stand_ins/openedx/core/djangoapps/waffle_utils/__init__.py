"""Stand-in for ``openedx.core.djangoapps.waffle_utils``: course override, then org override, then global."""

from opaque_keys.edx.keys import CourseKey


class CourseWaffleFlag:
    def __init__(self, name, module_name, log_prefix=""):
        self.name = name
        self.module_name = module_name
        self.log_prefix = log_prefix

    def is_enabled(self, course_key=None):
        from .models import WaffleFlagCourseOverrideModel, WaffleFlagOrgOverrideModel

        if course_key and isinstance(course_key, CourseKey):
            course_override = WaffleFlagCourseOverrideModel.override_value(self.name, course_key)
            if course_override is not None:
                return course_override == "on"
            org_override = WaffleFlagOrgOverrideModel.override_value(self.name, course_key.org)
            if org_override is not None:
                return org_override == "on"
        # The platform's global flag lives in django-waffle; here it is never on.
        return False
