"""System checks for ``SESSION_POLICY`` (E301-E312), run whenever the app is installed."""

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from ..operators import operator_path
from ..policy import ADDRESS_MODES, DEFAULTS
from ..users import holds_auth_user_id
from . import invalid, is_int

OBJ = "settings.SESSION_POLICY"
MIDDLEWARE = "session_engines.middleware.SessionMiddleware"


def error(message, id, hint=None):
    return checks.Error(message, hint=hint, obj=OBJ, id=f"session_engines.{id}")


def engine_has_user_index():
    """Return whether SESSION_ENGINE keeps a per-user index (no I/O)."""
    path = operator_path(settings.SESSION_ENGINE)
    if path is None:
        return False
    operator_class = import_string(path)
    supports = getattr(operator_class, "supports_user_index", None)
    return operator_class().supports_user_index if supports is None else supports


def check_policy_settings(app_configs=None, **kwargs):
    """Return the errors in SESSION_POLICY, and the settings it needs to be enforced."""
    value = getattr(settings, "SESSION_POLICY", {})
    keys = f"The keys are: {', '.join(DEFAULTS)}."
    if not isinstance(value, dict):
        return [error("SESSION_POLICY must be a dict.", "E301", keys)]
    errors = []
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        errors.append(error(f"SESSION_POLICY has unknown keys: {unknown}.", "E302", keys))
    opts = DEFAULTS | value
    seconds = "A number of seconds (an int of at least 1), or None for no timeout."
    for key, id in (("IDLE_TIMEOUT", "E303"), ("ABSOLUTE_TIMEOUT", "E304")):
        if not (opts[key] is None or is_int(opts[key], 1)):
            errors.append(error(invalid("SESSION_POLICY", key, opts[key]), id, seconds))
    interval, idle = opts["LAST_SEEN_INTERVAL"], opts["IDLE_TIMEOUT"]
    if not is_int(interval, 1):
        message = invalid("SESSION_POLICY", "LAST_SEEN_INTERVAL", interval)
        errors.append(error(message, "E305", "A number of seconds: an int of at least 1."))
    elif is_int(idle, 1) and interval >= idle:
        message = (
            f"SESSION_POLICY's LAST_SEEN_INTERVAL ({interval}) is not below its "
            f"IDLE_TIMEOUT ({idle})."
        )
        hint = "Last-seen is that coarse: keep it well below the idle timeout (e.g. a tenth)."
        errors.append(error(message, "E306", hint))
    end_others = opts["END_OTHER_SESSIONS_ON_PASSWORD_CHANGE"]
    if not isinstance(end_others, bool):
        message = invalid("SESSION_POLICY", "END_OTHER_SESSIONS_ON_PASSWORD_CHANGE", end_others)
        errors.append(error(message, "E307", "True or False."))
    limit = opts["MAX_SESSIONS_PER_USER"]
    if not (limit is None or is_int(limit, 1)):
        message = invalid("SESSION_POLICY", "MAX_SESSIONS_PER_USER", limit)
        errors.append(error(message, "E308", "An int of at least 1, or None for no limit."))
    if opts["CLIENT_ADDRESS"] not in ADDRESS_MODES:
        message = invalid("SESSION_POLICY", "CLIENT_ADDRESS", opts["CLIENT_ADDRESS"])
        errors.append(error(message, "E309", f"One of {', '.join(map(repr, ADDRESS_MODES))}."))
    needs_index = [
        key
        for key in ("MAX_SESSIONS_PER_USER", "END_OTHER_SESSIONS_ON_PASSWORD_CHANGE")
        if value.get(key)
    ]
    if needs_index and not engine_has_user_index():
        errors.append(
            error(
                f"SESSION_POLICY's {' and '.join(needs_index)} need a per-user index, which "
                f"{settings.SESSION_ENGINE} does not keep.",
                "E310",
                "Use session_engines.backends.db, .redis or .dynamodb.",
            )
        )
    if end_others is True and not holds_auth_user_id():
        errors.append(
            error(
                "SESSION_POLICY's END_OTHER_SESSIONS_ON_PASSWORD_CHANGE ends sessions by "
                "django.contrib.auth's user id, which SESSION_USER_ID_PATH does not index.",
                "E311",
                "Leave SESSION_USER_ID_PATH unset (auth's '_auth_user_id').",
            )
        )
    if value and MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            error(
                f"SESSION_POLICY is enforced by {MIDDLEWARE}, which is not in MIDDLEWARE.",
                "E312",
                f"Replace django.contrib.sessions.middleware.SessionMiddleware with {MIDDLEWARE}.",
            )
        )
    return errors
