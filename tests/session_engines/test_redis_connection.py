"""Where the native Redis engine gets its client: SESSION_REDIS["URL"] (its own), else the cache
CACHE_ALIAS, a django-redis cache or Django's own RedisCache. Each against a real redis-server.
"""

import os
import subprocess
import sys
import time

import pytest
import redis as redis_py
from django.conf import settings as django_settings

from harness.redis import Recorder, redis_node
from harness.servers import free_port
from session_engines import clients
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.operators.redis import RedisOperator

SOURCES = ["django-redis", "django-rediscache", "url"]
ALICE = {"_auth_user_id": "alice"}  # where django.contrib.auth keeps the user id


def use_source(settings, source, url):
    """Give the native engine its connection from ``source``, to the server at ``url``."""
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    session_redis = {"KEY_PREFIX": "conn", "CACHE_ALIAS": "sessions"}
    if source == "django-redis":
        caches["sessions"] = {**django_settings.CACHES["sessions"], "LOCATION": url}
    elif source == "django-rediscache":
        caches["sessions"] = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    else:
        session_redis["URL"] = url
    settings.CACHES = caches
    settings.SESSION_REDIS = session_redis


@pytest.fixture(autouse=True)
def no_clients():
    engine._clients.clear()
    yield
    engine._clients.clear()


@pytest.fixture(params=SOURCES)
def source(request, settings, redis_url, db):
    """The native engine on the test redis-server through one source, the server emptied."""
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    use_source(settings, request.param, redis_url)
    redis_py.Redis.from_url(redis_url).flushdb()
    return request.param


def saved(data):
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def test_a_session_is_saved_and_loaded(source, redis_url):
    session = saved(ALICE | {"cart": [1, 2]})
    assert SessionStore(session.session_key).load() == ALICE | {"cart": [1, 2]}
    # It is on the test server, under the engine's key.
    server = redis_py.Redis.from_url(redis_url)
    assert server.exists(f"conn:{session_id(session.session_key)}")
    assert server.exists("conn:user:" + engine.digest("alice"))


def test_one_round_trip_per_load_on_a_reused_connection(source, redis_url):
    key = saved(ALICE).session_key
    SessionStore(key).load()  # the pooled connection is set up outside the counts
    with Recorder(redis_url) as seen:
        assert SessionStore(key).load() == ALICE
    assert seen.names() == ["GET"]
    server = redis_py.Redis.from_url(redis_url)
    connections = server.info("stats")["total_connections_received"]
    for _ in range(3):
        assert SessionStore(key).load() == ALICE
    assert server.info("stats")["total_connections_received"] == connections  # none new


def test_a_forked_process_gets_its_own_client(source):
    # As under gunicorn: the parent used Redis before forking; the worker must not share it.
    parent_client = engine.connection()
    parent_id = parent_client.client_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            os.close(read)
            session = saved({"worker": os.getpid()})
            client = engine.connection()
            fresh = client is not parent_client
            os.write(write, f"{fresh} {client.client_id()} {session.session_key}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        fresh, child_id, session_key = pipe.read().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    if source == "url":
        assert fresh == "True"  # the engine's own client, made anew in the worker
    assert int(child_id) != parent_id  # on a connection of its own (redis-py resets pools)
    assert SessionStore(session_key).load() == {"worker": pid}
    assert engine.connection().client_id() == parent_id  # the parent's is untouched


def test_a_refused_connection_is_unavailable(source, settings):
    use_source(settings, source, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    session = SessionStore("a" * 32)
    with pytest.raises(SessionStoreUnavailable):
        session.load()
    with pytest.raises(SessionStoreUnavailable):
        saved(ALICE)
    with pytest.raises(SessionStoreUnavailable):
        session.delete()


def test_an_unresponsive_server_is_unavailable_within_the_timeout(source, settings):
    with redis_node() as node:
        use_source(settings, source, node.url)
        key = saved(ALICE).session_key
        with node.frozen():  # connections open, nothing answers
            started = time.monotonic()
            with pytest.raises(SessionStoreUnavailable):
                SessionStore(key).load()
            assert time.monotonic() - started < 2  # one 1 s timeout, not a hang
        assert SessionStore(key).load() == ALICE  # and back, on the same process


def test_the_operator_works_on_each_source(source):
    alice, other = saved(ALICE), saved({"cart": [1]})
    operator = RedisOperator()
    ids = {session_id(alice.session_key), session_id(other.session_key)}
    assert {record.id for record in operator.list().records} == ids
    assert [record.id for record in operator.for_user("alice")] == [session_id(alice.session_key)]
    assert operator.get(session_id(other.session_key)).data == {"cart": [1]}
    assert operator.delete_for_user("alice") == 1
    assert SessionStore(alice.session_key).load() == {}


def test_the_operator_reports_an_outage_on_each_source(source, settings):
    use_source(settings, source, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(SessionStoreUnavailable):
        RedisOperator().list()


def test_djangos_redis_cache_sends_every_command_to_the_first_server(settings, redis_url, db):
    # Django's RedisCache reads from the other servers of LOCATION (replicas): not for sessions.
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    with redis_node() as replica:
        use_source(settings, "django-rediscache", f"{redis_url},{replica.url}")
        key = saved(ALICE).session_key
        with Recorder(replica.url) as on_replica:
            for _ in range(5):
                assert SessionStore(key).load() == ALICE
            RedisOperator().list()
        assert on_replica.commands == []
        assert replica.client().info("clients")["connected_clients"] == 1  # only this one


def test_what_every_operation_reads_is_read_once_per_settings_object(source, settings, redis_url):
    ctx = engine.context()
    assert engine.context() is ctx  # not SESSION_REDIS, the client and SECRET_KEY each time
    assert ctx.client is engine.connection() and ctx.prefix == "conn"
    settings.SESSION_REDIS = {**settings.SESSION_REDIS, "KEY_PREFIX": "conn2"}
    moved = engine.context()
    assert moved is not ctx and moved.prefix == "conn2"
    key = saved(ALICE).session_key
    assert redis_py.Redis.from_url(redis_url).exists(f"conn2:{session_id(key)}")
    settings.SECRET_KEY = "another secret key, long enough for Django's checks: 0123456789"
    assert engine.context().macs != moved.macs
    assert SessionStore(key).load() == {}  # its MAC was made with the other key


@pytest.mark.parametrize("source", ["url"], indirect=True)
def test_the_url_client_is_made_on_first_use_once_per_process_and_options(
    source, settings, monkeypatch
):
    assert engine._clients == {}
    client = engine.connection()
    assert engine.connection() is client
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 1
    settings.SESSION_REDIS = {**settings.SESSION_REDIS, "CONNECTION_KWARGS": {"socket_timeout": 3}}
    with_kwargs = engine.connection()
    assert with_kwargs is not client
    assert with_kwargs.connection_pool.connection_kwargs["socket_timeout"] == 3
    parent = os.getpid()
    monkeypatch.setattr(clients.os, "getpid", lambda: parent + 1)
    assert engine.connection() is not with_kwargs  # a forked worker (another pid)
    assert all(key[0] == parent + 1 for key in engine._clients)  # the parent's are dropped


@pytest.mark.parametrize("source", ["django-rediscache", "url"], indirect=True)
def test_django_redis_stays_optional(source, monkeypatch):
    monkeypatch.setitem(sys.modules, "django_redis", None)  # import django_redis -> ImportError
    monkeypatch.delitem(sys.modules, "django_redis.cache", raising=False)
    key = saved(ALICE).session_key
    assert SessionStore(key).load() == ALICE


def test_the_engine_imports_without_django_redis():
    script = (
        "import sys; sys.modules['django_redis'] = None\n"
        "import session_engines.backends.redis, session_engines.operators.redis\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.mark.parametrize("source", ["django-redis", "django-rediscache"], indirect=True)
def test_the_caches_client_is_looked_up_once_per_process_and_again_when_caches_change(
    source, settings, redis_url
):
    client = engine.connection()
    assert engine.connection() is client  # not caches[alias] at every operation
    with redis_node() as other:
        use_source(settings, source, other.url)  # CACHES changed: the new server's client
        moved = engine.connection()
        assert moved is not client
        key = saved(ALICE).session_key
        assert other.client().exists(f"conn:{session_id(key)}")
    assert not redis_py.Redis.from_url(redis_url).exists(f"conn:{session_id(key)}")
