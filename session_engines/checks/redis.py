"""System checks for the Redis engines: ``SESSION_REDIS`` for the native engine (E201-E205,
E208-E214) and the django-redis cache that holds sessions, for either engine (E206, E207).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from . import invalid, is_int, missing_library

ENGINE = "session_engines.backends.redis"
CACHE_ENGINES = ("session_engines.backends.cache", "django.contrib.sessions.backends.cache")
DJANGO_REDIS = "django_redis.cache.RedisCache"
REDIS_CACHES = (DJANGO_REDIS, "django.core.cache.backends.redis.RedisCache")
OBJ = "settings.SESSION_REDIS"


def check_redis_settings(app_configs=None, **kwargs):
    """Return the errors in SESSION_REDIS, when the native Redis engine is used."""
    if settings.SESSION_ENGINE != ENGINE:
        return []
    if missing_library("redis"):
        return [missing_redis_library("redis")]
    from ..backends import redis  # redis-py: only for projects that use this engine

    config = getattr(settings, "SESSION_REDIS", {})
    if not isinstance(config, dict):
        return [
            checks.Error(
                "SESSION_REDIS must be a dict.",
                hint=f"The keys are: {', '.join(redis.DEFAULTS)}.",
                obj=OBJ,
                id="session_engines.E201",
            )
        ]
    errors = [
        checks.Error(
            f"SESSION_REDIS has an unknown key {key!r}.",
            hint=f"The keys are: {', '.join(redis.DEFAULTS)}.",
            obj=OBJ,
            id="session_engines.E202",
        )
        for key in sorted(set(config) - set(redis.DEFAULTS))
    ]
    opts = redis.options()
    connection_errors = redis_connection_errors(opts, "CONNECTION_KWARGS" in config)
    connection_errors += cluster_errors(opts)
    errors += connection_errors + near_cache_errors(opts)
    if not isinstance(opts["KEY_PREFIX"], str) or not opts["KEY_PREFIX"]:
        errors.append(
            checks.Error(
                invalid("SESSION_REDIS", "KEY_PREFIX", opts["KEY_PREFIX"]),
                hint="A non-empty string, the start of every key the engine writes.",
                obj=OBJ,
                id="session_engines.E204",
            )
        )
    if not is_int(opts["WAIT_REPLICAS"], 0) or not is_int(opts["WAIT_TIMEOUT_MS"], 1):
        errors.append(
            checks.Error(
                "SESSION_REDIS['WAIT_REPLICAS'] must be an int >= 0 and 'WAIT_TIMEOUT_MS' an "
                "int >= 1.",
                hint="WAIT with 0 ms would block until the replicas answer, however long.",
                obj=OBJ,
                id="session_engines.E205",
            )
        )
    elif opts["WAIT_REPLICAS"] and not connection_errors:
        timeout = socket_timeout(opts)
        if isinstance(timeout, int | float) and opts["WAIT_TIMEOUT_MS"] >= timeout * 1000:
            errors.append(
                checks.Error(
                    f"SESSION_REDIS['WAIT_TIMEOUT_MS'] ({opts['WAIT_TIMEOUT_MS']}) must be below "
                    f"the connection's socket timeout ({timeout} s).",
                    hint="Otherwise a missing replica reads as a timeout, not a refused write.",
                    obj=OBJ,
                    id="session_engines.E208",
                )
            )
    return errors


def redis_connection_errors(opts, has_connection_kwargs):
    """Return the errors in where the native engine gets its connection: URL, else a cache."""
    url, kwargs, alias = opts["URL"], opts["CONNECTION_KWARGS"], opts["CACHE_ALIAS"]
    if url is None:
        errors = []
        if settings.CACHES.get(alias, {}).get("BACKEND") not in REDIS_CACHES:
            errors.append(
                checks.Error(
                    f"SESSION_REDIS['CACHE_ALIAS'] = {alias!r} must name a Redis cache "
                    "(django-redis or django.core.cache.backends.redis.RedisCache).",
                    hint="Or set SESSION_REDIS['URL'] for the engine's own connection.",
                    obj=OBJ,
                    id="session_engines.E203",
                )
            )
        elif is_django_redis(alias) and missing_library("django_redis"):
            errors.append(missing_redis_library("django-redis"))
        if has_connection_kwargs:
            errors.append(
                checks.Error(
                    "SESSION_REDIS['CONNECTION_KWARGS'] is used only with 'URL'.",
                    hint=f"Set the connection options in CACHES[{alias!r}]['OPTIONS'].",
                    obj=OBJ,
                    id="session_engines.E211",
                )
            )
        return errors
    if not is_redis_url(url):
        return [
            checks.Error(
                invalid("SESSION_REDIS", "URL", url),
                hint="redis://host:6379/0, or rediss://user:password@host:6379/0 (TLS, ACL).",
                obj=OBJ,
                id="session_engines.E210",
            )
        ]
    problem = connection_kwargs_problem(url, kwargs)
    if problem:
        return [
            checks.Error(
                f"SESSION_REDIS['CONNECTION_KWARGS'] {problem}",
                hint="A dict of redis-py connection options, e.g. {'socket_timeout': 1}.",
                obj=OBJ,
                id="session_engines.E211",
            )
        ]
    return []


def cluster_errors(opts):
    """Return the errors in CLUSTER: True, False or "auto", and a cluster needs URL."""
    cluster = opts["CLUSTER"]
    if cluster not in (True, False, "auto") or not isinstance(cluster, bool | str):
        problem, hint = invalid("SESSION_REDIS", "CLUSTER", cluster), 'True, False or "auto".'
    elif cluster and opts["URL"] is None:
        problem = f"SESSION_REDIS['CLUSTER'] = {cluster!r} needs SESSION_REDIS['URL']."
        hint = "django-redis has no cluster support: give the engine the URL of any node."
    else:
        return []
    return [checks.Error(problem, hint=hint, obj=OBJ, id="session_engines.E212")]


def near_cache_errors(opts):
    """Return the errors in NEAR_CACHE: None, or a dict of near_cache.DEFAULTS's keys, and never
    on a cluster."""
    from .. import near_cache

    config = opts["NEAR_CACHE"]
    if config is None:
        return []
    hint = "None (off), or e.g. {'MAX_ENTRIES': 10000, 'HEALTH_CHECK_INTERVAL': 1.0}."
    if not isinstance(config, dict) or set(config) - set(near_cache.DEFAULTS):
        problem = invalid("SESSION_REDIS", "NEAR_CACHE", config)
        return [checks.Error(problem, hint=hint, obj=OBJ, id="session_engines.E213")]
    config = near_cache.DEFAULTS | config
    interval = config["HEALTH_CHECK_INTERVAL"]
    if not is_int(config["MAX_ENTRIES"], 1) or not (
        isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0
    ):
        problem = (
            "SESSION_REDIS['NEAR_CACHE']['MAX_ENTRIES'] must be an int >= 1 and "
            "'HEALTH_CHECK_INTERVAL' a number of seconds > 0."
        )
        return [checks.Error(problem, hint=hint, obj=OBJ, id="session_engines.E213")]
    if opts["CLUSTER"]:
        return [
            checks.Error(
                "SESSION_REDIS['NEAR_CACHE'] does not work with 'CLUSTER'.",
                hint="The near cache tracks one server's connection; a cluster would need one "
                "per node (not built). Set NEAR_CACHE = None on a cluster.",
                obj=OBJ,
                id="session_engines.E214",
            )
        ]
    return []


def is_redis_url(url):
    from redis.connection import parse_url

    if not isinstance(url, str) or urlsplit(url).scheme not in ("redis", "rediss"):
        return False
    try:
        return bool(urlsplit(url).hostname and parse_url(url))
    except ValueError:  # a bad port or query string value
        return False


def connection_kwargs_problem(url, kwargs):
    """Return what is wrong with CONNECTION_KWARGS (the end of a sentence), or None."""
    from redis import Redis

    from ..backends import redis

    if not isinstance(kwargs, dict):
        return "must be a dict."
    try:  # makes a connection object without connecting: redis-py checks the options
        Redis.from_url(url, **redis.CONNECTION_DEFAULTS | kwargs).connection_pool.make_connection()
    except Exception as exc:  # redis-py says what is wrong in its own words
        return f"is invalid: {exc}"
    return None


def socket_timeout(opts):
    """Return the native engine's socket timeout in seconds, None for none."""
    from redis.connection import parse_url

    from ..backends import redis

    if opts["URL"] is not None:
        url_options = parse_url(opts["URL"])  # its query string wins over keyword arguments
        kwargs = redis.CONNECTION_DEFAULTS | opts["CONNECTION_KWARGS"] | url_options
        return kwargs.get("socket_timeout")
    alias = opts["CACHE_ALIAS"]
    cache_options = settings.CACHES[alias].get("OPTIONS", {})
    return cache_options.get("SOCKET_TIMEOUT" if is_django_redis(alias) else "socket_timeout")


def missing_redis_library(name):
    return checks.Error(
        f"The native Redis engine needs {name}.",
        hint=f"pip install 'django-aws-session-engines[redis]' (or {name}).",
        obj=OBJ,
        id="session_engines.E209",
    )


def is_django_redis(alias):
    return settings.CACHES.get(alias, {}).get("BACKEND") == DJANGO_REDIS


def native_engine_uses_a_cache():
    config = getattr(settings, "SESSION_REDIS", {})
    # Else check_redis_settings says what is wrong (E201, E209), or URL gives its connection.
    return isinstance(config, dict) and config.get("URL") is None and not missing_library("redis")


def check_session_caches(app_configs=None, **kwargs):
    """Return the errors in the django-redis cache that holds sessions, if one does."""
    if settings.SESSION_ENGINE in CACHE_ENGINES:
        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    elif settings.SESSION_ENGINE == ENGINE and native_engine_uses_a_cache():
        from ..backends import redis

        alias = redis.options()["CACHE_ALIAS"]
    else:
        return []
    if not is_django_redis(alias):
        return []
    errors = []
    options = settings.CACHES[alias].get("OPTIONS", {})
    if options.get("IGNORE_EXCEPTIONS") or getattr(
        settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False
    ):
        errors.append(
            checks.Error(
                f"CACHES[{alias!r}] ignores Redis exceptions: an outage would log users out "
                "silently.",
                hint="Remove IGNORE_EXCEPTIONS; session_engines.middleware answers 503 instead.",
                obj=f"settings.CACHES[{alias!r}]",
                id="session_engines.E206",
            )
        )
    serializer = options.get("SERIALIZER", "pickle")
    if settings.SESSION_ENGINE in CACHE_ENGINES and "pickle" in serializer.lower():
        errors.append(
            checks.Error(
                f"CACHES[{alias!r}] pickles session data (django-redis's default).",
                hint='Set OPTIONS["SERIALIZER"] = "django_redis.serializers.json.JSONSerializer".',
                obj=f"settings.CACHES[{alias!r}]",
                id="session_engines.E207",
            )
        )
    return errors
