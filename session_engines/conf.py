"""Our settings, read where they are used and never at import.

``setting(name, default)`` is ``getattr(settings, name, default)``, without its cost: Django's
settings raise and catch an ``AttributeError`` for a setting a project leaves unset, at every
read (about 2 µs, as much as the rest of a session load's Python). Values are kept for the
settings object they were read from: ``override_settings`` (and pytest-django's ``settings``,
which sets and deletes through it) puts a new one in place, and they are read anew. A dict
setting is the project's own object, so a change made inside it is seen at once.
"""

from django.conf import settings

_values: dict = {}
_read_from: list = [None]  # the settings object (settings._wrapped) _values came from
_UNSET = object()  # kept for a setting the project leaves unset
_UNREAD = object()


def setting(name, default=None):
    """Return the setting ``name``, or ``default`` when the project does not set it."""
    if settings._wrapped is not _read_from[0]:
        _values.clear()
        _read_from[0] = settings._wrapped
    value = _values.get(name, _UNREAD)
    if value is _UNREAD:
        value = _values[name] = getattr(settings, name, _UNSET)
    return default if value is _UNSET else value
