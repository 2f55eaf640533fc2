"""Which user a session belongs to, for the per-user index, without importing any app.

``SESSION_USER_ID_PATH`` is a dotted path into the session dict (default ``"userInfo.userId"``);
a project that keeps the user id elsewhere (``"_auth_user_id"`` for django.contrib.auth) sets it.
"""

from django.conf import settings

DEFAULT_USER_ID_PATH = "userInfo.userId"


def user_id_of(session_data):
    """The user id stored in a decoded session dict, as a string, or None."""
    value = session_data
    for part in getattr(settings, "SESSION_USER_ID_PATH", DEFAULT_USER_ID_PATH).split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else str(value)
