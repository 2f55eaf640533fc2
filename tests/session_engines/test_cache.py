"""session_engines.backends.cache: Django's, except that an outage is not a new session."""

import pytest
from asgiref.sync import async_to_sync
from django_redis import get_redis_connection

from harness.servers import free_port
from session_engines.backends.cache import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from tests.conftest import use_redis


@pytest.fixture
def cache_engine(settings, redis_url):
    settings.SESSION_ENGINE = "session_engines.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    use_redis(settings, redis_url)
    get_redis_connection("sessions").flushdb()


def saved_session():
    session = SessionStore()
    session["a"] = 1
    session.save()
    return session.session_key


@pytest.mark.parametrize("load", ["sync", "async"])
def test_an_outage_on_load_is_raised_not_a_new_session(cache_engine, settings, load):
    key = saved_session()
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    session = SessionStore(key)
    with pytest.raises(SessionStoreUnavailable):
        session.load() if load == "sync" else async_to_sync(session.aload)()
    assert session.session_key == key  # not reset: the next request may find it again


@pytest.mark.parametrize("load", ["sync", "async"])
def test_everything_else_is_djangos(cache_engine, load):
    key = saved_session()
    loaded = SessionStore(key)
    assert (loaded.load() if load == "sync" else async_to_sync(loaded.aload)()) == {"a": 1}
    # Data the cache cannot decode resets the session, as in Django.
    connection = get_redis_connection("sessions")
    (raw_key,) = list(connection.scan_iter())
    connection.set(raw_key, b"\x80not json")
    broken = SessionStore(key)
    assert (broken.load() if load == "sync" else async_to_sync(broken.aload)()) == {}
    assert broken.session_key is None
