"""Which user a session belongs to, for the per-user index, without importing any app.

``SESSION_USER_ID_PATH`` is a dotted path into the session dict (default ``"userInfo.userId"``);
a project that keeps the user id elsewhere (``"_auth_user_id"`` for django.contrib.auth) sets it.
``SESSION_USER_NAME_PATH`` (default ``"userInfo.userNm"``) is the display name operators see.
"""

from django.conf import settings

DEFAULT_USER_ID_PATH = "userInfo.userId"
DEFAULT_USER_NAME_PATH = "userInfo.userNm"


def _value_at(session_data, path):
    value = session_data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else str(value)


def user_id_of(session_data):
    """The user id stored in a decoded session dict, as a string, or None."""
    return _value_at(session_data, getattr(settings, "SESSION_USER_ID_PATH", DEFAULT_USER_ID_PATH))


def user_name_of(session_data):
    """The user's display name stored in a decoded session dict, as a string, or None."""
    path = getattr(settings, "SESSION_USER_NAME_PATH", DEFAULT_USER_NAME_PATH)
    return _value_at(session_data, path)
