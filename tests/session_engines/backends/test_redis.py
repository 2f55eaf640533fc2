"""The native Redis engine: its layout at rest (TTL, the per-user index), one round trip per
operation (counted by the server, with MONITOR) beside Django's cache engine, and WAIT.

Django's contract and ours (no write on load, no resurrection, hashed keys) are test_contract.py's.
"""

import hashlib
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import SessionBase

from harness.redis import Recorder, redis_node, replicate
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore
from session_engines.exceptions import SessionStoreUnavailable

from ..helpers import engines, use_redis

ALICE = {"_auth_user_id": "alice"}
BOB = {"_auth_user_id": "bob"}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def stored(client, session_key):
    return client.get(f"{engine.options()['KEY_PREFIX']}:{sha(session_key)}")


def index(client, user_id):
    return {m.decode() for m in client.zrange(engine.user_index_name(user_id), 0, -1)}


def new_session(data=None, store_class=SessionStore):
    session = store_class()
    session.update(data or {"a": 1})
    session.save()
    return session


# --- Layout and round trips --------------------------------------------------------------------


def test_loading_an_unknown_key_is_one_get(native_redis, redis_url):
    with Recorder(redis_url) as seen:
        SessionStore("unknownsessionkey1234567890abcdef").load()
    assert seen.names() == ["GET"]


def test_cycle_key_moves_the_session_in_the_index(native_redis):
    session = new_session(ALICE)
    old = session.session_key
    session.cycle_key()  # nothing written yet: the save writes the new key, then ends the old
    assert stored(native_redis, old) is not None
    session.save()
    assert stored(native_redis, old) is None
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


def test_clear_expired_has_nothing_to_do(native_redis, redis_url):
    new_session()
    with Recorder(redis_url) as seen:
        SessionStore.clear_expired()
    assert seen.commands == []


def test_script_cache_lost_after_a_restart_falls_back_to_eval(native_redis, redis_url):
    new_session(ALICE)
    native_redis.script_flush()
    with Recorder(redis_url) as seen:
        session = new_session(BOB)
    assert seen.names() == ["EVALSHA", "EVAL"]
    assert index(native_redis, "bob") == {sha(session.session_key)}


# Store operations. The cache-backed engine's are Django's: EXISTS before creating, a GET
# before every update. The native engine's are one command each.
STORE_COUNTS = {
    "cache": {
        "create": ["EXISTS", "SET"],
        "load": ["GET"],
        "modify": ["GET", "SET"],  # SET XX: no GET before it, as Django's engine does
        "delete": ["DEL"],
    },
    "redis": {
        "create": ["SET"],
        "load": ["GET"],
        "modify": ["GET", "EVALSHA"],  # the compare-and-set on the version
        "delete": ["DEL"],
    },
}


def recorded(url, action):
    with Recorder(url) as seen:
        action()
    return seen


@engines(["cache", "redis"])
def test_store_round_trips(engine, redis_url):
    store_class = import_module(django_settings.SESSION_ENGINE).SessionStore
    expected = STORE_COUNTS[engine]
    warm = new_session({"warm": "up"}, store_class)  # the pool's connection is set up outside
    warm["up"] = True
    warm.save()  # the counts, and the server has learnt the update script
    sessions = []
    created = recorded(redis_url, lambda: sessions.append(new_session({"a": 1}, store_class)))
    key = sessions[0].session_key
    assert created.names() == expected["create"]
    assert recorded(redis_url, lambda: store_class(key).load()).names() == expected["load"]

    def modify():
        session = store_class(key)
        session["b"] = 2
        session.save()

    assert recorded(redis_url, modify).names() == expected["modify"]

    def delete():
        session = store_class(key)
        session.load()
        session.delete()

    assert recorded(redis_url, delete).names()[-1:] == expected["delete"]


def test_native_writes_are_conditional_and_expire(native_redis, redis_url):
    session = new_session({"warm": "up"})
    created = recorded(redis_url, lambda: new_session({"a": 1}))
    ttl = str(django_settings.SESSION_COOKIE_AGE)
    assert created.commands[0].endswith(f"NX EX {ttl}")

    def modify():
        session["b"] = 2
        session.save()

    modify()  # the server learns the script (EVALSHA, then EVAL once)
    seen = recorded(redis_url, modify)
    assert seen.names() == ["EVALSHA"]  # the script compares the version, then SET ... XX
    (update,) = [command for command in seen.script_commands if command.startswith("SET ")]
    assert update.endswith(f"XX EX {ttl}")


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
    del reloaded["_auth_user_id"]
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
        replicate(replica, primary)  # the primary counts it: WAIT 1 answers 1
        use_redis(settings, primary.url)
        # An acknowledged write waits as long as the replica takes (generous: a busy machine),
        # within a socket timeout longer still.
        options = {**settings.CACHES["sessions"]["OPTIONS"], "SOCKET_TIMEOUT": 20.0}
        settings.CACHES = {
            **settings.CACHES,
            "sessions": {**settings.CACHES["sessions"], "OPTIONS": options},
        }
        wait = {**settings.SESSION_REDIS, "WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 10_000}
        settings.SESSION_REDIS = wait
        new_session(ALICE)  # the pool's connection and the script, outside the counts
        with Recorder(primary.url) as seen:
            session = new_session({"a": 1})
        assert seen.names() == ["SET", "WAIT"]
        # Acknowledged means on the replica already.
        assert stored(replica.client(), session.session_key) is not None
        # A frozen replica acknowledges nothing, however long WAIT waits: a short one will do.
        settings.SESSION_REDIS = {**wait, "WAIT_TIMEOUT_MS": 100}
        with replica.frozen():
            # WAIT's own answer, not the socket's timeout
            with pytest.raises(SessionStoreUnavailable, match="reached 0 of 1 replicas"):
                new_session({"b": 2})


# --- The stored format ----------------------------------------------------------------------------


def test_the_session_is_stored_as_json_behind_its_hmac(native_redis):
    session = new_session({"a": 1, "name": "ünï"})
    encoded = engine.unpack(stored(native_redis, session.session_key)).encoded
    version, tag, text = encoded.split("|", 2)
    assert (version, text) == ("2", '{"a":1,"name":"\\u00fcn\\u00ef"}')  # no base64, no zlib
    assert tag == engine.mac(text)


def test_a_session_stored_by_the_previous_format_is_read_and_rewritten(native_redis):
    session = new_session({"a": 1})
    key = f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}"
    django_signed = SessionBase.encode(SessionStore(), {"a": 1, "old": True})  # format 1
    native_redis.set(key, f"1||{django_signed}", keepttl=True)
    reloaded = SessionStore(session.session_key)
    assert dict(reloaded.items()) == {"a": 1, "old": True}
    reloaded["b"] = 2
    reloaded.save()
    assert engine.unpack(native_redis.get(key)).encoded.startswith("2|")
    assert dict(SessionStore(session.session_key).items()) == {"a": 1, "old": True, "b": 2}


def test_a_value_written_without_the_secret_is_refused(native_redis, caplog):
    session = new_session({"_auth_user_id": "alice"})
    key = f"{engine.options()['KEY_PREFIX']}:{sha(session.session_key)}"
    value = engine.unpack(native_redis.get(key))
    forged = value.encoded.replace("alice", "admin")  # the MAC no longer matches
    native_redis.set(key, f"{value.version}|{value.user}|{forged}", keepttl=True)
    assert SessionStore(session.session_key).load() == {}
    assert "HMAC does not match" in caplog.text


def test_a_rotated_secret_key_still_reads_sessions_under_the_fallback(native_redis, settings):
    session = new_session({"a": 1})
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 50
    assert SessionStore(session.session_key).load() == {"a": 1}
    settings.SECRET_KEY_FALLBACKS = []
    assert SessionStore(session.session_key).load() == {}


def test_a_read_only_request_computes_no_fingerprints(native_redis, monkeypatch):
    from session_engines.backends import base

    session = new_session({"a": {"nested": [1]}})
    calls = []
    monkeypatch.setattr(base, "fingerprint", lambda value: calls.append(value) or repr(value))
    loaded = SessionStore(session.session_key)
    assert loaded["a"] == {"nested": [1]}
    assert calls == []
    loaded["a"]["nested"].append(2)  # mutated in place: still seen as this request's change
    loaded.modified = True
    loaded.save()
    assert SessionStore(session.session_key)["a"] == {"nested": [1, 2]}


def test_saving_one_loaded_session_twice_does_not_conflict_with_itself(native_redis, redis_url):
    session = new_session({"a": {"nested": [1]}})
    loaded = SessionStore(session.session_key)
    loaded["b"] = 1
    loaded.save()  # the server learns the script (EVALSHA, then EVAL once)

    def save_again():
        loaded["a"]["nested"].append(2)  # in place: still this request's own change
        loaded.modified = True
        loaded.save()

    seen = recorded(redis_url, save_again)
    assert seen.names() == ["EVALSHA"] and loaded.conflicts == 0
    other = SessionStore(session.session_key)
    other["c"] = 3
    other.save()
    save_again()  # a conflict now: the in-place change is re-applied over the other's key
    assert loaded.conflicts == 1
    assert dict(SessionStore(session.session_key).items()) == {
        "a": {"nested": [1, 2, 2]},
        "b": 1,
        "c": 3,
    }
