"""System checks for ``SESSION_MIGRATE``, when ``session_engines.backends.migrate`` is used
(E401-E405)."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

ENGINE = "session_engines.backends.migrate"
OBJ = "settings.SESSION_MIGRATE"
SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


def error(message, hint, id):
    return checks.Error(message, hint=hint, obj=OBJ, id=f"session_engines.{id}")


def store_class(engine):
    """Return ``engine``'s SessionStore class, or None when it names no engine."""
    if not isinstance(engine, str):
        return None
    try:
        return import_string(f"{engine}.SessionStore")
    except ImportError:
        return None


def check_migrate_settings(app_configs=None, **kwargs):
    """Return the errors in SESSION_MIGRATE, when the migrating engine is used."""
    if settings.SESSION_ENGINE != ENGINE:
        return []
    from ..backends.base import ConditionalSessionBase
    from ..backends.migrate import DEFAULTS

    config = getattr(settings, "SESSION_MIGRATE", None)
    if not isinstance(config, dict):
        hint = 'SESSION_MIGRATE = {"FROM": <the engine the site ran on>, "TO": <one of ours>}.'
        return [error("SESSION_MIGRATE must be a dict.", hint, "E401")]
    errors = [
        error(f"SESSION_MIGRATE has an unknown key {key!r}.", "The keys are: FROM, TO.", "E402")
        for key in sorted(set(config) - set(DEFAULTS))
    ]
    old, new = config.get("FROM"), config.get("TO")
    if store_class(old) is None or old in (ENGINE, SIGNED_COOKIES):
        hint = "The engine the site ran on, e.g. 'django.contrib.sessions.backends.db' (not "
        hint += "signed_cookies: its cookie holds the session, there is nothing to move)."
        errors.append(error(f"SESSION_MIGRATE['FROM'] = {old!r} is not an engine.", hint, "E403"))
    new_class = store_class(new)
    if new_class is None or new == ENGINE or not issubclass(new_class, ConditionalSessionBase):
        hint = "One of session_engines.backends.db, .redis, .dynamodb (compare-and-set saves)."
        message = f"SESSION_MIGRATE['TO'] = {new!r} is not an engine sessions can move to."
        errors.append(error(message, hint, "E404"))
    if old == new:
        hint = "Set SESSION_ENGINE to it, without the migrating engine."
        errors.append(error("SESSION_MIGRATE's FROM and TO are the same engine.", hint, "E405"))
    return errors
