"""The Redis engines' system checks: each misconfiguration is named, a good one is clean."""

import sys

import pytest
from django.core.checks import run_checks

from session_engines import redis_checks
from session_engines.checks import IDS

REDIS_IDS = {id for name, id in IDS.items() if name.startswith("redis_")}

SESSIONS_CACHE = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/0",
    "OPTIONS": {
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        "SOCKET_TIMEOUT": 1.0,
    },
}


def ids():
    return [e.id for e in run_checks() if e.id in REDIS_IDS]


@pytest.fixture
def native(settings):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": SESSIONS_CACHE,
    }
    settings.SESSION_REDIS = {
        "CACHE_ALIAS": "sessions",
        "KEY_PREFIX": "s",
        "WAIT_REPLICAS": 0,
        "WAIT_TIMEOUT_MS": 100,
    }
    return settings


def test_the_shipped_settings_are_clean(native):
    assert ids() == []


@pytest.mark.parametrize(
    "session_redis, error",
    [
        ("sessions", redis_checks.E_NOT_A_DICT),
        ({"CACHE_ALIAS": "sessions", "TIMEOUT": 1}, redis_checks.E_UNKNOWN_KEY),
        ({"CACHE_ALIAS": "default"}, redis_checks.E_NOT_DJANGO_REDIS),
        ({"CACHE_ALIAS": "nope"}, redis_checks.E_NOT_DJANGO_REDIS),
        ({"KEY_PREFIX": ""}, redis_checks.E_BAD_PREFIX),
        ({"WAIT_REPLICAS": -1}, redis_checks.E_BAD_WAIT),
        ({"WAIT_REPLICAS": "1"}, redis_checks.E_BAD_WAIT),
        ({"WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 0}, redis_checks.E_BAD_WAIT),
        ({"WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 1000}, redis_checks.E_WAIT_OUTLASTS_SOCKET),
    ],
)
def test_bad_session_redis_is_an_error(native, session_redis, error):
    native.SESSION_REDIS = session_redis
    assert ids() == [error]


@pytest.mark.parametrize(
    "engine", ["session_engines.backends.redis", "session_engines.backends.cache"]
)
def test_ignore_exceptions_is_an_error(native, engine):
    native.SESSION_ENGINE = engine
    native.SESSION_CACHE_ALIAS = "sessions"
    native.CACHES = {
        **native.CACHES,
        "sessions": {
            **SESSIONS_CACHE,
            "OPTIONS": {**SESSIONS_CACHE["OPTIONS"], "IGNORE_EXCEPTIONS": True},
        },
    }
    assert ids() == [redis_checks.E_IGNORES_EXCEPTIONS]


def test_pickled_sessions_are_an_error_for_the_cache_engine(native):
    native.SESSION_ENGINE = "session_engines.backends.cache"
    native.SESSION_CACHE_ALIAS = "sessions"
    native.CACHES = {**native.CACHES, "sessions": {**SESSIONS_CACHE, "OPTIONS": {}}}
    assert ids() == [redis_checks.E_PICKLE]


def test_other_engines_are_not_checked(native):
    native.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    native.SESSION_REDIS = "nonsense"
    assert ids() == []


def test_a_missing_django_redis_is_reported_not_raised(native, monkeypatch):
    monkeypatch.setitem(sys.modules, "django_redis", None)  # import django_redis -> ImportError
    assert ids() == [redis_checks.E_NO_DJANGO_REDIS]
