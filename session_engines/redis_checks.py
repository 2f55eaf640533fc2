"""System checks for the Redis session engines (``manage.py check``, and at start-up).

For ``session_engines.backends.redis``: the ``SESSION_REDIS`` dict. For both Redis engines: the
cache
they use must not hide outages (``IGNORE_EXCEPTIONS``) or unpickle session data.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

from .checks import IDS, missing_library

NATIVE = "session_engines.backends.redis"
CACHE_ENGINES = ("session_engines.backends.cache", "django.contrib.sessions.backends.cache")
DJANGO_REDIS = "django_redis.cache.RedisCache"

# The ids this module emits (all ids live in session_engines.checks.IDS).
E_NOT_A_DICT = IDS["redis_not_a_dict"]
E_UNKNOWN_KEY = IDS["redis_unknown_key"]
E_NOT_DJANGO_REDIS = IDS["redis_not_django_redis"]
E_BAD_PREFIX = IDS["redis_bad_prefix"]
E_BAD_WAIT = IDS["redis_bad_wait"]
E_IGNORES_EXCEPTIONS = IDS["redis_ignores_exceptions"]
E_PICKLE = IDS["redis_pickle"]
E_WAIT_OUTLASTS_SOCKET = IDS["redis_wait_outlasts_socket"]
E_NO_DJANGO_REDIS = IDS["redis_no_django_redis"]


def is_int(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@register(Tags.compatibility)
def check_session_redis(app_configs=None, **kwargs):
    if settings.SESSION_ENGINE != NATIVE:
        return []
    if missing_library("django_redis"):
        hint = "pip install 'django-aws-session-engines[redis]' (or django-redis)."
        return [
            Error("The native Redis engine needs django-redis.", hint=hint, id=E_NO_DJANGO_REDIS)
        ]
    from .backends import redis  # only now: a project without django-redis never gets here

    config = getattr(settings, "SESSION_REDIS", {})
    if not isinstance(config, dict):
        return [Error("SESSION_REDIS must be a dict.", id=E_NOT_A_DICT)]
    errors = [
        Error(
            f"SESSION_REDIS has an unknown key {key!r}.",
            hint=f"Known: {sorted(redis.DEFAULTS)}.",
            id=E_UNKNOWN_KEY,
        )
        for key in sorted(set(config) - set(redis.DEFAULTS))
    ]
    opts = redis.options()
    cache = settings.CACHES.get(opts["CACHE_ALIAS"], {})
    if cache.get("BACKEND") != DJANGO_REDIS:
        errors.append(
            Error(
                f"SESSION_REDIS['CACHE_ALIAS'] = {opts['CACHE_ALIAS']!r} must name a "
                f"{DJANGO_REDIS} cache.",
                id=E_NOT_DJANGO_REDIS,
            )
        )
    if not isinstance(opts["KEY_PREFIX"], str) or not opts["KEY_PREFIX"]:
        errors.append(
            Error("SESSION_REDIS['KEY_PREFIX'] must be a non-empty string.", id=E_BAD_PREFIX)
        )
    if not is_int(opts["WAIT_REPLICAS"], 0) or not is_int(opts["WAIT_TIMEOUT_MS"], 1):
        errors.append(
            Error(
                "SESSION_REDIS['WAIT_REPLICAS'] must be an int >= 0 and 'WAIT_TIMEOUT_MS' an "
                "int >= 1.",
                hint="WAIT with 0 ms would block until the replicas answer, however long.",
                id=E_BAD_WAIT,
            )
        )
    socket_timeout = cache.get("OPTIONS", {}).get("SOCKET_TIMEOUT")
    if (
        not any(e.id == E_BAD_WAIT for e in errors)
        and opts["WAIT_REPLICAS"]
        and socket_timeout
        and opts["WAIT_TIMEOUT_MS"] >= socket_timeout * 1000
    ):
        errors.append(
            Error(
                f"SESSION_REDIS['WAIT_TIMEOUT_MS'] ({opts['WAIT_TIMEOUT_MS']}) must be below the "
                f"cache's SOCKET_TIMEOUT ({socket_timeout} s).",
                hint="Otherwise a missing replica reads as a timeout instead of a refused write.",
                id=E_WAIT_OUTLASTS_SOCKET,
            )
        )
    return errors + cache_errors(opts["CACHE_ALIAS"])


@register(Tags.compatibility)
def check_session_cache(app_configs=None, **kwargs):
    if settings.SESSION_ENGINE not in CACHE_ENGINES:
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    if settings.CACHES.get(alias, {}).get("BACKEND") != DJANGO_REDIS:
        return []
    errors = cache_errors(alias)
    serializer = settings.CACHES[alias].get("OPTIONS", {}).get("SERIALIZER", "pickle")
    if "pickle" in serializer.lower():
        errors.append(
            Error(
                f"CACHES[{alias!r}] pickles session data (django-redis's default).",
                hint='Set OPTIONS["SERIALIZER"] = "django_redis.serializers.json.JSONSerializer".',
                id=E_PICKLE,
            )
        )
    return errors


def cache_errors(alias):
    options = settings.CACHES.get(alias, {}).get("OPTIONS", {})
    if options.get("IGNORE_EXCEPTIONS") or getattr(
        settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False
    ):
        return [
            Error(
                f"CACHES[{alias!r}] ignores Redis exceptions: an outage would log users out "
                "silently.",
                hint="Remove IGNORE_EXCEPTIONS; session_engines.middleware answers 503 instead.",
                id=E_IGNORES_EXCEPTIONS,
            )
        ]
    return []
