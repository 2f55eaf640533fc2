"""Which user a session belongs to, and the name operators see, without importing any app.

``SESSION_USER_ID_PATH`` is a dotted path into the session dict; it defaults to
``"_auth_user_id"``, where ``django.contrib.auth.login()`` keeps the user's primary key. Its value
is what the per-user index holds and what "log out everywhere" takes.

``SESSION_USER_NAME_PATH``, when set, is a dotted path to the display name in the session. When
it is unset and the user id is auth's, the name is the user model's ``get_username()``, read in
one query for a whole page of sessions; otherwise sessions show no name.
"""

from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError

from .conf import setting


def _value_at(session_data, path):
    value = session_data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else str(value)


def user_id_path():
    """Return the dotted path of the user id in a session dict (SESSION_USER_ID_PATH)."""
    return setting("SESSION_USER_ID_PATH", SESSION_KEY)


def user_id_of(session_data):
    """Return the user id stored in a decoded session dict, as a string, or None."""
    return _value_at(session_data, user_id_path())


def auth_user_id(user):
    """Return the id ``django.contrib.auth.login()`` stores for ``user`` (its pk, as text)."""
    return user._meta.pk.value_to_string(user)


def holds_auth_user_id():
    """Return whether the per-user index holds auth's user id (SESSION_USER_ID_PATH default)."""
    return user_id_path() == SESSION_KEY


def user_names(sessions):
    """Return the display name of each decoded session dict (None when unknown), in order."""
    sessions = list(sessions)
    name_path = setting("SESSION_USER_NAME_PATH")
    if name_path is not None:
        return [_value_at(data, name_path) for data in sessions]
    if user_id_path() != SESSION_KEY:
        return [None] * len(sessions)
    user_ids = [user_id_of(data) for data in sessions]
    names = _usernames(filter(None, user_ids))
    return [names.get(user_id) for user_id in user_ids]


def _usernames(user_ids):
    """Return ``{user id: get_username()}`` for the ids that are users, in one query."""
    try:
        model = get_user_model()
    except ImproperlyConfigured:  # django.contrib.auth is not installed
        return {}
    pk_field, pks = model._meta.pk, {}
    for user_id in set(user_ids):
        try:
            pk = pk_field.to_python(user_id)
            pk_field.run_validators(pk)  # e.g. an integer out of the column's range
        except ValidationError:
            continue  # not a primary key: no such user, and no query for it
        pks[user_id] = pk
    users = model._default_manager.in_bulk(set(pks.values()))  # no query for no ids
    return {user_id: users[pk].get_username() for user_id, pk in pks.items() if pk in users}
