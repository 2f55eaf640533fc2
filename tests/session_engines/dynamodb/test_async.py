"""Django's async session API (aload, asave, acreate, ...) on the engine, on all three stores."""

import asyncio

import pytest
from django.contrib.sessions.backends.base import UpdateError

from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore


def run(coroutine):
    return asyncio.run(coroutine)


def test_async_create_save_load_exists_delete(ddb, api_calls):
    async def scenario():
        store = SessionStore()
        await store.acreate()
        await store.aset("userInfo", {"userId": "alice", "userNm": "Alice"})
        await store.asave()
        key = store.session_key
        assert await SessionStore().aexists(key)
        assert await SessionStore(key).aload() == {
            "userInfo": {"userId": "alice", "userNm": "Alice"}
        }
        await store.adelete()
        assert not await SessionStore().aexists(key)
        unknown = SessionStore(key)
        assert await unknown.aload() == {}
        assert unknown.session_key is None

    run(scenario())
    assert api_calls == [
        "PutItem",
        "PutItem",
        "GetItem",
        "GetItem",
        "DeleteItem",
        "GetItem",
        "GetItem",
    ]


def test_async_cycle_key_and_flush(ddb, api_calls):
    async def scenario():
        store = SessionStore()
        await store.aset("a", 1)
        await store.asave()
        old = store.session_key
        api_calls.clear()
        await store.acycle_key()
        assert api_calls == []  # the save that follows writes the new key, then deletes the old
        await store.asave()
        assert await SessionStore(store.session_key).aload() == {"a": 1}
        assert not await store.aexists(old)
        await store.aflush()
        assert store.session_key is None

    run(scenario())
    assert dynamodb.call("scan")["Items"] == []


def test_async_save_of_a_deleted_session_raises(ddb):
    async def scenario():
        store = SessionStore()
        await store.aset("a", 1)
        await store.asave()
        await SessionStore().adelete(store.session_key)
        await store.aset("a", 2)
        with pytest.raises(UpdateError):
            await store.asave()

    run(scenario())
    assert dynamodb.call("scan")["Items"] == []


def test_async_clear_expired(ddb):
    expired, live = SessionStore(), SessionStore()
    expired.set_expiry(-10)  # written already past its expiry
    for store in (expired, live):
        store["a"] = 1
        store.save()
    run(SessionStore.aclear_expired())
    assert dynamodb.call("scan")["Items"] == [
        dynamodb.call("get_item", Key=dynamodb.key_of(live.session_key))["Item"]
    ]
