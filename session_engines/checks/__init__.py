"""System checks (``manage.py check``) for the engines' settings and the caches they use.

``SessionEnginesConfig.ready()`` registers them. The settings checks carry the tag ``sessions``
(``manage.py check --tag sessions``): E101-E109 for ``SESSION_DYNAMODB`` (``checks.dynamodb``),
E201-E205 and E208-E214 for ``SESSION_REDIS`` (``checks.redis``), E301-E312 for
``SESSION_POLICY`` (``checks.policy``), E401-E405 for ``SESSION_MIGRATE`` (``checks.migrate``),
E501-E506 for ``SESSION_METRICS`` (``checks.metrics``).
The cache checks carry
Django's ``caches`` tag: E206 and E207, for a django-redis cache that holds sessions. An
engine's client library (boto3, redis-py, django-redis) is imported only when that engine is
configured, so a project may install one without the other.
"""

import importlib

SESSIONS = "sessions"  # the tag of the settings checks


def is_int(value, minimum):
    """Return whether ``value`` is an int (not a bool) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def missing_library(name):
    """Return whether the library ``name`` cannot be imported."""
    try:
        importlib.import_module(name)
    except ImportError:
        return True
    return False


def invalid(setting, key, value):
    """Return the message for a setting's bad value."""
    return f"{setting}[{key!r}] = {value!r} is invalid."
