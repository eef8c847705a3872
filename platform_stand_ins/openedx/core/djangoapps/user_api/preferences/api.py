"""Stand-in for the platform's preferences API (same names and signatures)."""

from openedx.core.djangoapps.user_api.models import UserPreference


def get_user_preference(requesting_user, preference_key, username=None):
    user = requesting_user if username is None else type(requesting_user).objects.get(username=username)
    row = UserPreference.objects.filter(user=user, key=preference_key).first()
    return row.value if row else None


def set_user_preference(requesting_user, preference_key, preference_value, username=None):
    user = requesting_user if username is None else type(requesting_user).objects.get(username=username)
    UserPreference.objects.update_or_create(
        user=user, key=preference_key, defaults={"value": preference_value}
    )
