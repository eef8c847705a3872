"""Stand-ins for the platform's access roles (same class names and ``has_user``)."""

from common.djangoapps.student.models import CourseAccessRole


class GlobalStaff:
    def has_user(self, user):
        return bool(user and user.is_authenticated and user.is_staff)


class CourseRole:
    ROLE = ""

    def __init__(self, course_key):
        self.course_key = course_key

    def has_user(self, user):
        if not (user and user.is_authenticated and user.is_active):
            return False
        return CourseAccessRole.objects.filter(user=user, course_id=self.course_key, role=self.ROLE).exists()

    def add_users(self, *users):
        for user in users:
            CourseAccessRole.objects.get_or_create(
                user=user, course_id=self.course_key, org=self.course_key.org, role=self.ROLE
            )


class CourseStaffRole(CourseRole):
    ROLE = "staff"


class CourseInstructorRole(CourseRole):
    ROLE = "instructor"
