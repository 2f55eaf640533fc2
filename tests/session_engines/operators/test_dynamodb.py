"""session_engines.operators.dynamodb: list, get, delete, per user, on all three stores."""

import time
from datetime import UTC, datetime

import pytest

from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore
from session_engines.ids import session_id
from session_engines.operators import get_operator
from session_engines.operators.dynamodb import DynamoDBOperator


def session_of(user_id, **extra):
    store = SessionStore()
    if user_id is not None:
        store["_auth_user_id"] = user_id
    store.update(extra)
    store.save()
    return store.session_key


def expire(session_key):
    item = dynamodb.call("get_item", Key=dynamodb.key_of(session_key))["Item"]
    dynamodb.call("put_item", Item={**item, "expires": {"N": str(int(time.time()) - 1)}})


@pytest.fixture
def operator(ddb):
    return get_operator()


def test_the_engine_selects_this_operator(operator):
    assert isinstance(operator, DynamoDBOperator)
    assert operator.supports_user_index is True


def test_listing_more_than_a_page_returns_each_live_session_once(operator):
    keys = [session_of(f"user{n % 4}", n=n) for n in range(23)]
    expired = [session_of("gone") for _ in range(5)]
    for key in expired:
        expire(key)
    seen, cursor, pages = [], None, 0
    while True:
        page = operator.list(cursor=cursor, limit=5)
        assert len(page.records) <= 5
        seen += page.records
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert pages >= 5
    assert sorted(record.id for record in seen) == sorted(map(session_id, keys))
    record = next(record for record in seen if record.data.get("n") == 7)
    assert record.user_id == "user3"
    assert record.data["_auth_user_id"] == "user3"
    assert record.size > 0
    assert record.expires > datetime.now(UTC)
    everything = repr(seen) + repr([record.data for record in seen]) + repr(cursor)
    assert not any(key in everything for key in keys + expired)


def test_a_bad_cursor_is_refused(operator):
    for cursor in ("nope", "eyJwayI6IHsiUyI6ICJ4In19"):  # not base64 JSON; not a digest
        with pytest.raises(ValueError, match="not a cursor"):
            operator.list(cursor=cursor)


def test_get_and_delete_one_by_its_id(operator):
    key = session_of("alice")
    record = operator.get(session_id(key))
    assert record.user_id == "alice" and record.data["_auth_user_id"] == "alice"
    assert operator.get(key) is None  # a raw key is not an id
    assert operator.delete(session_id(key)) is True
    assert operator.delete(session_id(key)) is False
    assert operator.get(session_id(key)) is None
    assert SessionStore(key).load() == {}


def test_an_expired_session_is_not_there(operator):
    key = session_of("alice")
    expire(key)
    assert operator.get(session_id(key)) is None
    assert operator.for_user("alice") == []


def test_one_users_sessions_and_log_out_everywhere(operator, api_calls):
    alice = [session_of("alice") for _ in range(3)]
    bob = session_of("bob")
    anonymous = session_of(None, cart=[1])
    api_calls.clear()
    records = operator.for_user("alice")
    assert sorted(record.id for record in records) == sorted(map(session_id, alice))
    assert {record.user_id for record in records} == {"alice"}
    assert api_calls == ["Query", "BatchGetItem"]
    assert operator.delete_for_user("alice") == 3
    assert operator.for_user("alice") == []
    assert all(SessionStore(key).load() == {} for key in alice)
    assert SessionStore(bob).load()["_auth_user_id"] == "bob"
    assert SessionStore(anonymous).load() == {"cart": [1]}
    assert operator.delete_for_user("nobody") == 0


def test_a_session_that_changed_user_is_not_ended_for_the_old_one(operator, monkeypatch):
    key = session_of("alice")
    store = SessionStore(key)
    store["_auth_user_id"] = "bob"
    store.save()
    # The index lags the table in AWS: it may still name alice for this session.
    monkeypatch.setattr(DynamoDBOperator, "user_ids", lambda self, user_id: [session_id(key)])
    assert operator.for_user("alice") == []
    assert operator.delete_for_user("alice") == 0
    assert SessionStore(key).load()["_auth_user_id"] == "bob"
