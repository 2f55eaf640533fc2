"""The Redis engines' system checks: each misconfiguration is named, a good one is clean."""

import sys

import pytest
from django.core.checks import Tags, run_checks

from session_engines.checks import SESSIONS

DJANGO_REDIS = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/0",
    "OPTIONS": {
        "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        "SOCKET_TIMEOUT": 1.0,
    },
}
DJANGO_CACHE = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:6379/0",
    "OPTIONS": {"socket_timeout": 1.0},
}
URL = "redis://127.0.0.1:6379/0"


def ids(tags=None):
    return [e.id for e in run_checks(tags=tags) if e.id.startswith("session_engines.E2")]


@pytest.fixture
def native(settings):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": DJANGO_REDIS,
    }
    settings.SESSION_REDIS = {
        "CACHE_ALIAS": "sessions",
        "KEY_PREFIX": "s",
        "WAIT_REPLICAS": 0,
        "WAIT_TIMEOUT_MS": 100,
    }
    return settings


def use_cache(settings, cache):
    settings.CACHES = {**settings.CACHES, "sessions": cache}


@pytest.mark.parametrize(
    "session_redis, cache",
    [
        pytest.param({"CACHE_ALIAS": "sessions"}, DJANGO_REDIS, id="django-redis"),
        pytest.param({"CACHE_ALIAS": "sessions"}, DJANGO_CACHE, id="django-rediscache"),
        pytest.param({"URL": URL}, None, id="url"),
        pytest.param(
            {"URL": "rediss://app:pass@cache.example.com:6379/0?ssl_cert_reqs=required"},
            None,
            id="url-tls-acl",
        ),
        pytest.param(
            {"URL": URL, "CONNECTION_KWARGS": {"socket_timeout": 2, "health_check_interval": 30}},
            None,
            id="url-kwargs",
        ),
        pytest.param({"URL": URL, "CACHE_ALIAS": "default"}, None, id="url-wins-over-the-cache"),
        pytest.param({}, DJANGO_REDIS, id="defaults"),
    ],
)
def test_good_settings_are_clean(native, session_redis, cache):
    native.SESSION_REDIS = session_redis
    if cache:
        use_cache(native, cache)
    assert ids() == []


@pytest.mark.parametrize(
    "session_redis, error",
    [
        ("sessions", "session_engines.E201"),
        ({"CACHE_ALIAS": "sessions", "TIMEOUT": 1}, "session_engines.E202"),
        ({"CACHE_ALIAS": "default"}, "session_engines.E203"),
        ({"CACHE_ALIAS": "nope"}, "session_engines.E203"),
        ({"KEY_PREFIX": ""}, "session_engines.E204"),
        ({"KEY_PREFIX": None}, "session_engines.E204"),
        ({"WAIT_REPLICAS": -1}, "session_engines.E205"),
        ({"WAIT_REPLICAS": "1"}, "session_engines.E205"),
        ({"WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 0}, "session_engines.E205"),
        ({"WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 1000}, "session_engines.E208"),
        ({"URL": "http://127.0.0.1:6379/0"}, "session_engines.E210"),
        ({"URL": "127.0.0.1:6379"}, "session_engines.E210"),
        ({"URL": "redis://"}, "session_engines.E210"),
        ({"URL": "redis://127.0.0.1:port/0"}, "session_engines.E210"),
        ({"URL": "unix:///run/redis.sock"}, "session_engines.E210"),
        ({"URL": ""}, "session_engines.E210"),
        ({"URL": 6379}, "session_engines.E210"),
        ({"URL": URL, "CONNECTION_KWARGS": "socket_timeout=1"}, "session_engines.E211"),
        ({"URL": URL, "CONNECTION_KWARGS": {"timeout": 1}}, "session_engines.E211"),
        ({"URL": URL, "CONNECTION_KWARGS": {"retry_on_error": 5}}, "session_engines.E211"),
        ({"CONNECTION_KWARGS": {"socket_timeout": 1}}, "session_engines.E211"),  # no URL
    ],
)
def test_bad_session_redis_is_an_error(native, session_redis, error):
    native.SESSION_REDIS = session_redis
    assert ids() == [error]
    assert all(e.hint and e.obj == "settings.SESSION_REDIS" for e in run_checks(tags=[SESSIONS]))


@pytest.mark.parametrize(
    "session_redis, cache, timeout_ms",
    [
        pytest.param({}, DJANGO_REDIS, 1000, id="django-redis: SOCKET_TIMEOUT"),
        pytest.param({}, DJANGO_CACHE, 1000, id="django-rediscache: socket_timeout"),
        pytest.param({"URL": URL}, None, 1000, id="url: the engine's default"),
        pytest.param(
            {"URL": URL, "CONNECTION_KWARGS": {"socket_timeout": 0.5}}, None, 500, id="url: kwargs"
        ),
        pytest.param({"URL": URL + "?socket_timeout=0.5"}, None, 500, id="url: query string"),
    ],
)
def test_wait_must_end_before_the_socket_timeout_of_each_source(
    native, session_redis, cache, timeout_ms
):
    if cache:
        use_cache(native, cache)
    native.SESSION_REDIS = session_redis | {"WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": timeout_ms - 1}
    assert ids() == []
    native.SESSION_REDIS["WAIT_TIMEOUT_MS"] = timeout_ms
    assert ids() == ["session_engines.E208"]


def test_a_url_needs_no_redis_cache(native):
    native.SESSION_REDIS = {"URL": URL}
    native.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids() == []


@pytest.mark.parametrize(
    "engine", ["session_engines.backends.redis", "session_engines.backends.cache"]
)
def test_ignore_exceptions_on_a_django_redis_cache_is_an_error(native, engine):
    native.SESSION_ENGINE = engine
    native.SESSION_CACHE_ALIAS = "sessions"
    options = {**DJANGO_REDIS["OPTIONS"], "IGNORE_EXCEPTIONS": True}
    use_cache(native, {**DJANGO_REDIS, "OPTIONS": options})
    assert ids() == ["session_engines.E206"]
    assert ids(tags=[Tags.caches]) == ["session_engines.E206"]
    assert ids(tags=[SESSIONS]) == []
    native.SESSION_REDIS = {"URL": URL}  # the native engine then does not use the cache
    assert ids() == (["session_engines.E206"] if engine.endswith("cache") else [])


def test_ignore_exceptions_by_setting_is_an_error(native):
    native.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    assert ids() == ["session_engines.E206"]


def test_pickled_sessions_are_an_error_for_the_cache_engine(native):
    native.SESSION_ENGINE = "session_engines.backends.cache"
    native.SESSION_CACHE_ALIAS = "sessions"
    use_cache(native, {**DJANGO_REDIS, "OPTIONS": {}})
    assert ids() == ["session_engines.E207"]
    assert ids(tags=[Tags.caches]) == ["session_engines.E207"]
    native.SESSION_ENGINE = "session_engines.backends.redis"  # stores raw strings, never pickles
    assert ids() == []


def test_cache_checks_apply_to_django_redis_caches_only(native):
    native.SESSION_ENGINE = "session_engines.backends.cache"
    native.SESSION_CACHE_ALIAS = "sessions"
    use_cache(native, {**DJANGO_CACHE, "OPTIONS": {"IGNORE_EXCEPTIONS": True}})
    assert ids() == []


def test_other_engines_are_not_checked(native):
    native.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    native.SESSION_REDIS = "nonsense"
    assert ids() == []


def test_a_missing_django_redis_is_reported_not_raised(native, monkeypatch):
    monkeypatch.setitem(sys.modules, "django_redis", None)  # import django_redis -> ImportError
    assert ids() == ["session_engines.E209"]
    assert "django-redis" in run_checks(tags=[SESSIONS])[0].msg


@pytest.mark.parametrize("session_redis, cache", [({"URL": URL}, None), ({}, DJANGO_CACHE)])
def test_django_redis_is_optional_without_a_django_redis_cache(
    native, monkeypatch, session_redis, cache
):
    monkeypatch.setitem(sys.modules, "django_redis", None)
    native.SESSION_REDIS = session_redis
    if cache:
        use_cache(native, cache)
    assert ids() == []


def test_a_missing_redis_py_is_reported_not_raised(native, monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    native.SESSION_REDIS = {"URL": URL}
    assert ids() == ["session_engines.E209"]
    assert "[redis]" in run_checks(tags=[SESSIONS])[0].hint


def test_the_checks_have_their_tags():
    from django.core.checks import registry

    tags = {check.__name__: set(check.tags) for check in registry.registry.registered_checks}
    assert tags["check_redis_settings"] == {SESSIONS}
    assert tags["check_dynamodb_settings"] == {SESSIONS}
    assert tags["check_session_caches"] == {Tags.caches}
