"""RedisOperator: list by SCAN (every session exactly once), get, delete, a user's sessions."""

import hashlib

from harness.redis import Recorder
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore
from session_engines.ids import digest, session_id
from session_engines.operators import get_operator
from session_engines.operators.redis import RedisOperator


def session_of(user_id, **extra):
    session = SessionStore()
    if user_id is not None:
        session["_auth_user_id"] = user_id
    session.update(extra)
    session.save()
    return session


def test_get_operator_picks_it(native_redis):
    assert isinstance(get_operator(), RedisOperator)
    assert RedisOperator.supports_user_index


def test_list_pages_through_every_session_exactly_once_and_skips_the_indexes(
    native_redis, redis_url
):
    sessions = [session_of(f"user{n % 7}") for n in range(120)] + [
        session_of(None) for _ in range(5)
    ]
    operator = RedisOperator()
    seen, cursor, pages = [], None, 0
    with Recorder(redis_url) as recorded:
        while True:
            page = operator.list(cursor=cursor, limit=20)
            seen += [record.id for record in page.records]
            pages += 1
            if page.cursor is None:
                break
            cursor = page.cursor
    assert pages > 1
    assert sorted(seen) == sorted(session_id(s.session_key) for s in sessions)
    assert "KEYS" not in recorded.names() and "SCAN" in recorded.names()


def test_records_are_decoded_and_carry_no_raw_key(native_redis):
    session = session_of("alice", cart=[1, 2])
    record = RedisOperator().get(session_id(session.session_key))
    assert record.user_id == "alice"
    assert record.data == {"_auth_user_id": "alice", "cart": [1, 2]}
    assert record.expires is not None and record.size > 0
    assert session.session_key not in repr(record) + repr(record.data) + record.id
    assert RedisOperator().get("not-a-digest") is None
    assert RedisOperator().get(hashlib.sha256(b"gone").hexdigest()) is None


def test_delete_ends_the_session_and_its_index_entry(native_redis):
    session, other = session_of("alice"), session_of("alice")
    operator = RedisOperator()
    assert operator.delete(session_id(session.session_key))
    assert not operator.delete(session_id(session.session_key))
    assert SessionStore(session.session_key).load() == {}
    assert [r.id for r in operator.for_user("alice")] == [session_id(other.session_key)]


def test_for_user_and_delete_for_user(native_redis):
    alices = {session_id(session_of("alice").session_key) for _ in range(3)}
    bob = session_of("bob")
    operator = RedisOperator()
    assert {r.id for r in operator.for_user("alice")} == alices
    assert operator.delete_for_user("alice") == 3
    assert operator.for_user("alice") == []
    assert [r.id for r in operator.for_user("bob")] == [session_id(bob.session_key)]
    assert not native_redis.exists(engine.user_index_name("alice"))


def test_for_user_prunes_stale_members(native_redis):
    kept = session_of("alice")
    gone = session_of("alice")
    native_redis.delete(
        engine.session_key_name(session_id(gone.session_key))
    )  # expired or deleted by hand
    moved = session_of("alice")
    native_redis.set(  # rewritten for another user by something that bypassed the engine
        engine.session_key_name(session_id(moved.session_key)),
        "1|" + engine.pack(SessionStore().encode({"_auth_user_id": "bob"}), digest("bob")),
    )
    assert [r.id for r in RedisOperator().for_user("alice")] == [session_id(kept.session_key)]
    members = {m.decode() for m in native_redis.zrange(engine.user_index_name("alice"), 0, -1)}
    assert members == {session_id(kept.session_key)}
