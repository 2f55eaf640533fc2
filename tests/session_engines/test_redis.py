"""The native_redis Redis engine: Django's session contract (sync and async), one round trip per
operation (counted by the server, with MONITOR), hashed keys, and the per-user index."""

import hashlib
import logging
import time

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import CreateError, UpdateError

from harness.redis import Recorder, redis_node, replicate
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from tests.conftest import use_redis

ALICE = {"userInfo": {"userId": "alice", "userNm": "Alice Kim"}}
BOB = {"userInfo": {"userId": "bob", "userNm": "Bob"}}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def stored(client, session_key):
    return client.get(f"{engine.options()['KEY_PREFIX']}:{sha(session_key)}")


def index(client, user_id):
    return {m.decode() for m in client.zrange(engine.user_index_name(user_id), 0, -1)}


def new_session(data=None):
    session = SessionStore()
    session.update(data or {"a": 1})
    session.save()
    return session


# --- Django's contract ------------------------------------------------------------------------


def test_save_and_load(native_redis):
    session = new_session({"a": 1, "nested": {"b": [1, 2]}})
    assert SessionStore(session.session_key).load() == {"a": 1, "nested": {"b": [1, 2]}}
    assert SessionStore().exists(session.session_key)


def test_unknown_key_loads_empty_and_writes_nothing(native_redis, redis_url):
    session = SessionStore("unknownsessionkey1234567890abcdef")
    with Recorder(redis_url) as seen:
        assert session.load() == {}
    assert session.session_key is None
    assert seen.names() == ["GET"]
    assert native_redis.dbsize() == 0


def test_expired_session_loads_empty(native_redis):
    session = new_session()
    key = f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}"
    native_redis.pexpire(key, 1)
    time.sleep(0.01)
    assert SessionStore(session.session_key).load() == {}
    assert native_redis.dbsize() == 0


def test_update_of_a_session_deleted_elsewhere_is_update_error_and_no_resurrection(native_redis):
    session = new_session()
    session["b"] = 2
    SessionStore().delete(session.session_key)
    with pytest.raises(UpdateError):
        session.save()
    assert stored(native_redis, session.session_key) is None


def test_key_collision_is_create_error(native_redis):
    first = new_session({"mine": True})
    other = SessionStore(first.session_key)
    other["theirs"] = True
    with pytest.raises(CreateError):
        other.save(must_create=True)
    assert SessionStore(first.session_key).load() == {"mine": True}


def test_cycle_key_keeps_data_and_ends_the_old_key(native_redis):
    session = new_session(ALICE)
    old = session.session_key
    session.cycle_key()  # nothing written yet: the save writes the new key, then ends the old
    assert session.session_key != old
    assert stored(native_redis, old) is not None
    session.save()
    assert stored(native_redis, old) is None
    assert SessionStore(session.session_key).load() == ALICE
    assert index(native_redis, "alice") == {sha(session.session_key)}


def test_custom_expiry_is_the_redis_ttl(native_redis):
    session = new_session()
    session.set_expiry(300)
    session.save()
    assert (
        298
        <= native_redis.ttl(f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}")
        <= 300
    )
    assert SessionStore(session.session_key).get_expiry_age() == 300


def test_browser_close_session_lives_for_the_cookie_age(native_redis):
    session = new_session()
    session.set_expiry(0)
    session.save()
    reloaded = SessionStore(session.session_key)
    assert reloaded.get_expire_at_browser_close()
    ttl = native_redis.ttl(f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}")
    assert django_settings.SESSION_COOKIE_AGE - 2 <= ttl <= django_settings.SESSION_COOKIE_AGE


def test_an_expiry_in_the_past_ends_the_session(native_redis):
    session = new_session()
    session.set_expiry(-1)
    session.save()
    assert stored(native_redis, session.session_key) is None


def test_corrupt_data_is_logged_and_loads_empty(native_redis, caplog):
    session = new_session()
    native_redis.set(
        f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}", "not:signed:data"
    )
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert SessionStore(session.session_key).load() == {}
    assert "Session data corrupted" in caplog.text


def test_the_raw_session_key_is_never_stored(native_redis):
    sessions = [new_session(ALICE), new_session({"x": 1})]
    everything = b"".join(key + (native_redis.dump(key) or b"") for key in native_redis.scan_iter())
    for session in sessions:
        assert session.session_key.encode() not in everything


def test_delete_and_exists(native_redis):
    session = new_session()
    key = session.session_key
    session.delete()
    assert not SessionStore().exists(key)
    SessionStore().delete("neverexisted12345678901234567890")  # no error


def test_clear_expired_has_nothing_to_do(native_redis, redis_url):
    new_session()
    with Recorder(redis_url) as seen:
        SessionStore.clear_expired()
    assert seen.commands == []


def test_async_contract(native_redis):
    async def scenario():
        session = SessionStore()
        await session.aset("a", 1)
        await session.asave()
        key = session.session_key
        assert await SessionStore().aexists(key)
        loaded = SessionStore(key)
        assert await loaded.aget("a") == 1
        await loaded.aset("b", 2)
        await loaded.asave()
        await loaded.acycle_key()
        await loaded.asave()
        assert not await SessionStore().aexists(key)
        assert await SessionStore(loaded.session_key).aload() == {"a": 1, "b": 2}
        assert await SessionStore("unknownsessionkey1234567890abcdef").aload() == {}
        await SessionStore().adelete(loaded.session_key)
        with pytest.raises(UpdateError):
            await loaded.asave()
        fresh = SessionStore()
        await fresh.acreate()
        clash = SessionStore(fresh.session_key)
        await clash.aset("x", 1)
        with pytest.raises(CreateError):
            await clash.asave(must_create=True)
        await SessionStore.aclear_expired()

    async_to_sync(scenario)()


def test_script_cache_lost_after_a_restart_falls_back_to_eval(native_redis, redis_url):
    new_session(ALICE)
    native_redis.script_flush()
    with Recorder(redis_url) as seen:
        session = new_session(BOB)
    assert seen.names() == ["EVALSHA", "EVAL"]
    assert index(native_redis, "bob") == {sha(session.session_key)}


# --- The per-user index -------------------------------------------------------------------------


def test_a_session_with_a_user_is_indexed_in_the_same_round_trip(native_redis, redis_url):
    new_session(ALICE)  # the script is loaded
    with Recorder(redis_url) as seen:
        session = new_session(ALICE)
    assert seen.names() == ["EVALSHA"]
    assert {c.split(" ")[0] for c in seen.script_commands} >= {"SET", "ZADD", "EXPIREAT"}
    assert sha(session.session_key) in index(native_redis, "alice")
    value = stored(native_redis, session.session_key).decode()
    assert value.startswith(f"1|{sha('alice')}|")  # the user id itself is not stored in clear


def test_index_ttl_covers_its_longest_member(native_redis):
    short = new_session(ALICE)
    short.set_expiry(60)
    short.save()
    long = new_session(ALICE)
    long.set_expiry(600)
    long.save()
    short["touched"] = True
    short.save()  # the latest write is the shorter one: the index still lives as long as `long`
    assert 598 <= native_redis.ttl(engine.user_index_name("alice")) <= 600
    assert index(native_redis, "alice") == {sha(short.session_key), sha(long.session_key)}


def test_expired_members_are_pruned_on_the_next_write(native_redis):
    native_redis.zadd(engine.user_index_name("alice"), {"0" * 64: 1})  # expired in 1970
    session = new_session(ALICE)
    assert index(native_redis, "alice") == {sha(session.session_key)}


def test_changing_or_clearing_the_user_moves_the_session_between_indexes(native_redis):
    session = new_session(ALICE)
    session.update(BOB)
    session.save()
    assert index(native_redis, "alice") == set()
    assert index(native_redis, "bob") == {sha(session.session_key)}
    reloaded = SessionStore(session.session_key)
    del reloaded["userInfo"]
    reloaded.save()
    assert index(native_redis, "bob") == set()
    assert engine.unpack(stored(native_redis, session.session_key)).user is None


@pytest.mark.parametrize("how", ["flush", "delete-loaded", "delete-by-key"])
def test_deleting_a_session_removes_it_from_the_index(native_redis, how):
    session = new_session(ALICE)
    other = new_session(ALICE)
    if how == "flush":
        SessionStore(session.session_key).flush()  # logout: never loaded first
    elif how == "delete-loaded":
        loaded = SessionStore(session.session_key)
        loaded.load()
        loaded.delete()
    else:
        SessionStore().delete(session.session_key)
    assert stored(native_redis, session.session_key) is None
    assert index(native_redis, "alice") == {sha(other.session_key)}


# --- WAIT ---------------------------------------------------------------------------------------


def test_wait_is_pipelined_behind_each_write_and_refuses_unreplicated_ones(native_redis, settings):
    with redis_node() as primary, redis_node() as replica:
        replicate(replica, primary)
        use_redis(settings, primary.url)
        settings.SESSION_REDIS = {
            **settings.SESSION_REDIS,
            "WAIT_REPLICAS": 1,
            "WAIT_TIMEOUT_MS": 500,  # below the 1 s socket timeout; generous on a busy machine
        }
        new_session(ALICE)  # the pool's connection and the script, outside the counts
        with Recorder(primary.url) as seen:
            session = new_session({"a": 1})
        assert seen.names() == ["SET", "WAIT"]
        # Acknowledged means on the replica already.
        assert stored(replica.client(), session.session_key) is not None
        with replica.frozen():
            started = time.monotonic()
            with pytest.raises(SessionStoreUnavailable, match="reached 0 of 1 replicas"):
                new_session({"b": 2})
            assert time.monotonic() - started < 1.0
