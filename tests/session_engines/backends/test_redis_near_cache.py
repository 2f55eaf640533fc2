"""The native Redis engine's near cache (``SESSION_REDIS["NEAR_CACHE"]``), on Redis and Valkey:
no round trip for a session a process holds, and a write, logout or revoke on another instance
(a process of its own: ``harness.nearcache.Instance``) seen by every other.

Round trips are counted by the server (MONITOR); a change made elsewhere is polled for with a
generous deadline, never waited for a fixed time.
"""

import threading
import time

import pytest
import redis as redis_py
from django.core.checks import run_checks

from harness.nearcache import Instance
from harness.redis import Recorder
from session_engines import near_cache, signals
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore

ALICE = {"_auth_user_id": "alice"}
PREFIX = "tests:near"
DEADLINE_S = 10


def near_settings(url, **near):
    return {
        "URL": url,
        "KEY_PREFIX": PREFIX,
        "NEAR_CACHE": {"MAX_ENTRIES": 50, "HEALTH_CHECK_INTERVAL": 3600, **near},
    }


@pytest.fixture
def near(settings, redis_url):
    """The native engine with a near cache on the test session's server, emptied; yields a
    plain client of that server."""
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = near_settings(redis_url)
    client = redis_py.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    close_near_caches()
    client.close()


def close_near_caches():
    for cache in engine._near_caches.values():
        cache.close()
    engine._near_caches.clear()


@pytest.fixture
def other(settings, near):
    """Another instance: a process with its own client and near cache on the same server."""
    overrides = {
        "SECRET_KEY": settings.SECRET_KEY,
        "SESSION_ENGINE": settings.SESSION_ENGINE,
        "SESSION_REDIS": settings.SESSION_REDIS,
    }
    with Instance(settings_module="tests.session_engines.settings", overrides=overrides) as other:
        yield other


def new_session(data=None):
    session = SessionStore()
    session.update(data or {"a": 1})
    session.save()
    return session.session_key


def key_name(session_key):
    return engine.session_key_name(engine.session_id(session_key))


def eventually(condition, what):
    """Poll ``condition`` until it holds (a generous deadline, not a fixed wait)."""
    give_up = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < give_up, f"not {what} within {DEADLINE_S} s"


def test_a_session_read_again_costs_no_round_trip(near, redis_url):
    key = new_session()
    SessionStore(new_session()).load()  # the tracking connection is set up outside the counts
    with Recorder(redis_url) as first:
        assert SessionStore(key).load() == {"a": 1}
    assert first.names() == ["GET", "PTTL"]  # pipelined: one round trip
    with Recorder(redis_url) as again:
        for _ in range(3):
            assert SessionStore(key).load() == {"a": 1}
    assert again.commands == []


def test_each_read_signals_a_hit_or_a_miss_with_the_session_id(near):
    key = new_session()
    heard = []

    def receive(sender, signal, session_id, **kwargs):
        heard.append((signal, sender, session_id))

    signals.near_cache_hit.connect(receive)
    signals.near_cache_miss.connect(receive)
    try:
        SessionStore(key).load()
        SessionStore(key).load()
    finally:
        signals.near_cache_hit.disconnect(receive)
        signals.near_cache_miss.disconnect(receive)
    id = engine.session_id(key)
    assert heard == [
        (signals.near_cache_miss, SessionStore, id),
        (signals.near_cache_hit, SessionStore, id),
    ]


def test_an_unknown_key_is_never_held(near):
    assert SessionStore("unknownsessionkey1234567890abcdef").load() == {}
    assert len(engine.near_cache()) == 0


@pytest.mark.parametrize(
    "op, data, expected",
    [("set", {"b": 2}, {"a": 1, "b": 2}), ("logout", None, {}), ("revoke", None, {})],
)
def test_a_change_on_another_instance_reaches_this_one(near, other, op, data, expected):
    key = new_session()
    assert other("load", key=key)["data"] == {"a": 1}  # held there too
    SessionStore(key).load()
    assert SessionStore(key).load() == {"a": 1}  # held here
    other(op, key=key, **({"data": data} if data else {}))
    eventually(lambda: SessionStore(key).load() == expected, f"seen after {op}")
    assert SessionStore(key).load() == expected  # and held so, never the old copy again


def test_a_change_here_reaches_the_other_instance(near, other):
    key = new_session(ALICE)
    assert other("load", key=key)["data"] == ALICE
    session = SessionStore(key)
    session["b"] = 2
    session.save()
    eventually(lambda: other("load", key=key)["data"] == {**ALICE, "b": 2}, "seen there")
    SessionStore(key).flush()
    eventually(lambda: other("load", key=key)["data"] == {}, "logged out there")


def test_this_process_sees_its_own_writes_at_once(near):
    key = new_session()
    SessionStore(key).load()
    session = SessionStore(key)
    session["b"] = 2
    session.save()
    assert SessionStore(key).load() == {"a": 1, "b": 2}
    SessionStore(key).flush()
    assert SessionStore(key).load() == {}
    other_key = new_session()
    SessionStore(other_key).load()
    engine.delete_by_digest(engine.session_id(other_key))  # the operator's revoke
    assert SessionStore(other_key).load() == {}


def test_a_stale_copy_never_wins_a_write(near, other):
    key = new_session()
    loaded = SessionStore(key)
    loaded.load()  # held here at version 1
    other("set", key=key, data={"b": 2})
    loaded["c"] = 3
    loaded.save()  # the compare-and-set catches the moved version and re-applies "c"
    eventually(lambda: SessionStore(key).load() == {"a": 1, "b": 2, "c": 3}, "merged")


def test_the_cache_is_bounded_least_recently_read_first(near, settings, redis_url):
    settings.SESSION_REDIS = near_settings(redis_url, MAX_ENTRIES=3)
    keys = [new_session({"n": n}) for n in range(4)]
    for key in keys[:3]:
        SessionStore(key).load()
    SessionStore(keys[0]).load()  # now the most recently read
    SessionStore(keys[3]).load()
    cache = engine.near_cache()
    assert len(cache) == 3
    assert key_name(keys[1]) not in cache
    assert all(key_name(keys[n]) in cache for n in (0, 2, 3))


def test_an_entry_is_not_served_past_the_keys_expiry(near, redis_url, monkeypatch):
    key = new_session()
    SessionStore(key).load()
    ttl_s = near.pttl(key_name(key)) / 1000
    now = time.monotonic()
    monkeypatch.setattr(near_cache.time, "monotonic", lambda: now + ttl_s + 1)
    with Recorder(redis_url) as seen:
        SessionStore(key).load()
    assert "GET" in seen.names()  # read again from Redis, not served from memory


def test_a_lost_connection_flushes_the_whole_cache(near, other):
    keys = [new_session({"n": n}) for n in range(3)]
    for key in keys:
        SessionStore(key).load()
    cache = engine.near_cache()
    flushes = cache.flushes
    tracking = [c for c in near.client_list() if "t" in c["flags"]]
    near.client_kill_filter(_id=tracking[0]["id"])  # invalidations sent now are lost...
    other("set", key=keys[0], data={"n": "changed"})
    assert SessionStore(keys[0]).load() == {"n": "changed"}  # ...so nothing held is trusted
    assert cache.flushes > flushes
    assert len(cache) == 1


def test_a_silent_server_is_pinged_before_a_read_is_trusted(near, settings, redis_url):
    settings.SESSION_REDIS = near_settings(redis_url, HEALTH_CHECK_INTERVAL=1e-9)
    key = new_session()
    SessionStore(key).load()
    with Recorder(redis_url) as seen:
        assert SessionStore(key).load() == {"a": 1}
    assert seen.names() == ["PING"]  # its answer comes behind every invalidation sent before


def test_a_flushed_server_flushes_the_cache(near):
    key = new_session()
    SessionStore(key).load()
    near.flushdb()
    eventually(lambda: SessionStore(key).load() == {}, "flushed")
    assert len(engine.near_cache()) == 0


def test_readers_in_threads_never_go_back_to_an_older_copy(near, other):
    key = new_session({"n": 0})
    last, stop, failures = 20, threading.Event(), []

    def read():
        seen = 0
        while not stop.is_set():
            n = SessionStore(key).load()["n"]
            if n < seen:
                failures.append(f"read {n} after {seen}")
            seen = n
            if n == last:
                return

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for n in range(1, last + 1):
        other("set", key=key, data={"n": n})
    for reader in readers:
        reader.join(timeout=DEADLINE_S)
    stop.set()
    assert not any(reader.is_alive() for reader in readers), "a reader never saw the last write"
    assert failures == []


# --- Checks -------------------------------------------------------------------------------------


def near_ids():
    return [e.id for e in run_checks() if e.id in ("session_engines.E213", "session_engines.E214")]


@pytest.mark.parametrize(
    "config, expected",
    [
        (None, []),
        ({}, []),
        ({"MAX_ENTRIES": 10000, "HEALTH_CHECK_INTERVAL": 0.5}, []),
        ({"MAX_ENTRIES": 0}, ["session_engines.E213"]),
        ({"MAX_ENTRIES": True}, ["session_engines.E213"]),
        ({"HEALTH_CHECK_INTERVAL": 0}, ["session_engines.E213"]),
        ({"SIZE": 10}, ["session_engines.E213"]),
        (10000, ["session_engines.E213"]),
    ],
)
def test_near_cache_settings_are_checked(settings, config, expected):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = {"URL": "redis://127.0.0.1:6379/0", "NEAR_CACHE": config}
    assert near_ids() == expected


@pytest.mark.parametrize("cluster", [True, "auto"])
def test_the_near_cache_is_refused_on_a_cluster(settings, cluster):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = {
        "URL": "redis://127.0.0.1:7000/0",
        "CLUSTER": cluster,
        "NEAR_CACHE": {"MAX_ENTRIES": 100},
    }
    assert near_ids() == ["session_engines.E214"]


def test_the_near_cache_works_on_the_sessions_cache_connection(settings, redis_url):
    """Without URL: the tracking connection is made like the django-redis cache's."""
    from ..helpers import use_redis

    use_redis(settings, redis_url)
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    near = {"HEALTH_CHECK_INTERVAL": 3600}
    settings.SESSION_REDIS = {"CACHE_ALIAS": "sessions", "KEY_PREFIX": PREFIX, "NEAR_CACHE": near}
    try:
        key = new_session()
        SessionStore(key).load()
        with Recorder(redis_url) as seen:
            assert SessionStore(key).load() == {"a": 1}
        assert seen.commands == []
        assert key_name(key) in engine.near_cache()
    finally:
        close_near_caches()


@pytest.mark.parametrize("server", ["redis", "valkey"])
def test_a_restarted_server_that_lost_the_session_is_believed(settings, server):
    """Redis restarted empty (no persistence): the held copy of a session it no longer has is
    dropped with the connection, never served."""
    from harness.redis import redis_node
    from harness.servers import free_port

    port = free_port()
    with redis_node(port=port, server=server) as node:
        settings.SESSION_ENGINE = "session_engines.backends.redis"
        settings.SESSION_REDIS = near_settings(node.url)
        key = new_session()
        SessionStore(key).load()
        assert SessionStore(key).load() == {"a": 1}
    try:
        with redis_node(port=port, server=server):
            assert SessionStore(key).load() == {}
    finally:
        close_near_caches()
