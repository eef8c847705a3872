"""Stand-ins for the platform's access roles (same class names, constructors and ``has_user``)."""

from opaque_keys.edx.django.models import CourseKeyField

from common.djangoapps.student.models import CourseAccessRole


class GlobalStaff:
    def has_user(self, user):
        return bool(user and user.is_authenticated and user.is_staff)


class RoleBase:
    """A role name held for an org, or for one course of it; org roles have an empty course_id."""

    def __init__(self, role_name, org="", course_key=None):
        self.org = org
        self.course_key = course_key
        self._role_name = role_name

    def has_user(self, user):
        if not (user and user.is_authenticated and user.is_active):
            return False
        return CourseAccessRole.objects.filter(
            user=user, org=self.org, course_id=self._stored_course_id, role=self._role_name
        ).exists()

    def add_users(self, *users):
        for user in users:
            CourseAccessRole.objects.get_or_create(
                user=user, org=self.org, course_id=self._stored_course_id, role=self._role_name
            )

    @property
    def _stored_course_id(self):
        return CourseKeyField.Empty if self.course_key is None else self.course_key


class CourseRole(RoleBase):
    def __init__(self, role, course_key):
        super().__init__(role, course_key.org, course_key)


class OrgRole(RoleBase):
    """A role in every course of an org, constructed with the org's short name."""


class CourseStaffRole(CourseRole):
    ROLE = "staff"

    def __init__(self, course_key):
        super().__init__(self.ROLE, course_key)


class CourseInstructorRole(CourseRole):
    ROLE = "instructor"

    def __init__(self, course_key):
        super().__init__(self.ROLE, course_key)


class OrgStaffRole(OrgRole):
    def __init__(self, org):
        super().__init__("staff", org)


class OrgInstructorRole(OrgRole):
    def __init__(self, org):
        super().__init__("instructor", org)
