"""Django's session contract, on moto, moto server and dynalite, with its API calls counted."""

import hashlib
import logging
import secrets
import time
import zlib
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.utils import timezone

from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore
from session_engines.exceptions import SessionStoreUnavailable, SessionTooLarge
from session_engines.ids import session_id

ALICE = {"userInfo": {"userId": "alice", "userNm": "Alice Kim"}}


def saved(data=ALICE, **expiry):
    store = SessionStore()
    store.update(data)
    if expiry:
        store.set_expiry(expiry["expiry"])
    store.save()
    return store


def stored_item(session_key):
    return dynamodb.call("get_item", Key=dynamodb.key_of(session_key), ConsistentRead=True).get(
        "Item"
    )


def all_items():
    return dynamodb.call("scan")["Items"]


def test_save_then_load_in_another_store(ddb):
    key = saved().session_key
    assert SessionStore(key).load() == ALICE


def test_the_item_holds_a_digest_never_the_key(ddb):
    store = saved()
    (item,) = all_items()
    assert item["pk"] == {"S": hashlib.sha256(store.session_key.encode()).hexdigest()}
    assert store.session_key not in repr(item)
    assert set(item) == {"pk", "data", "expires", "ver", "uid"}
    assert item["uid"] == {"S": "alice"}


def test_the_user_attribute_follows_the_session(ddb):
    store = saved()
    store["userInfo"] = {"userId": "bob", "userNm": "Bob"}
    store.save()
    assert stored_item(store.session_key)["uid"] == {"S": "bob"}
    del store["userInfo"]
    store.save()
    assert "uid" not in stored_item(store.session_key)


def test_unknown_key_reads_empty_clears_the_key_and_writes_nothing(ddb, api_calls):
    store = SessionStore("nosuchsessionkey0123456789abcdef")
    assert store.load() == {}
    assert store.session_key is None
    assert api_calls == ["GetItem"]
    assert all_items() == []


def test_an_expired_item_is_never_served(ddb, api_calls):
    # TTL deletes late: an item past its expiry is still in the table, and must read as gone.
    store = saved()
    expire(store.session_key)
    api_calls.clear()
    fresh = SessionStore(store.session_key)
    assert fresh.load() == {}
    assert fresh.session_key is None
    assert not SessionStore().exists(store.session_key)
    assert api_calls == ["GetItem", "GetItem"]


def test_create_is_one_conditional_put(ddb, api_calls):
    store = SessionStore()
    store.create()
    assert api_calls == ["PutItem"]
    assert api_calls.params[0]["ConditionExpression"] == "attribute_not_exists(#k)"
    assert store.exists(store.session_key)
    assert store.modified


def test_create_on_a_collision_takes_another_key(ddb, api_calls, monkeypatch):
    taken = saved().session_key
    keys = iter([taken, "freshkey0123456789abcdefghijklmn"])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    api_calls.clear()
    store = SessionStore()
    store.create()
    assert store.session_key == "freshkey0123456789abcdefghijklmn"
    assert api_calls == ["PutItem", "PutItem"]
    assert SessionStore(taken).load() == ALICE  # the other session is untouched


def test_must_create_on_an_existing_key_is_a_create_error(ddb):
    store = SessionStore(saved().session_key)
    with pytest.raises(CreateError):
        store.save(must_create=True)


def test_update_is_one_put_conditional_on_the_version_read(ddb, api_calls):
    key = saved().session_key
    store = SessionStore(key)
    store["x"] = 1  # loads version 1
    api_calls.clear()
    store.save()
    assert api_calls == ["PutItem"]
    assert api_calls.params[0]["ConditionExpression"] == "#v = :v AND #e > :now"
    assert api_calls.params[0]["ExpressionAttributeValues"][":v"] == {"N": "1"}
    assert api_calls.params[0]["Item"]["ver"] == {"N": "2"}
    assert SessionStore(key).load() == {**ALICE, "x": 1}


@pytest.mark.parametrize("consistent", [True, False])
def test_reads_are_consistent_unless_configured(ddb, api_calls, settings, consistent):
    key = saved().session_key
    if not consistent:
        settings.SESSION_DYNAMODB = {**settings.SESSION_DYNAMODB, "CONSISTENT_READ": False}
    api_calls.clear()
    assert SessionStore(key).load() == ALICE
    assert api_calls.params[-1]["ConsistentRead"] is consistent


@pytest.mark.parametrize("user_id", ["", "x" * 2049])
def test_a_user_id_the_index_cannot_hold_is_left_out(ddb, user_id):
    store = saved({"userInfo": {"userId": user_id, "userNm": "?"}})
    assert "uid" not in stored_item(store.session_key)
    assert SessionStore(store.session_key).load()["userInfo"]["userId"] == user_id


def test_saving_a_session_deleted_elsewhere_raises_and_never_resurrects_it(ddb):
    store = saved()
    store.load()
    SessionStore().delete(store.session_key)  # another request logs out
    store["more"] = 1
    with pytest.raises(UpdateError):
        store.save()
    assert all_items() == []


def test_delete_is_one_delete_item(ddb, api_calls):
    store = saved()
    api_calls.clear()
    store.delete()
    assert api_calls == ["DeleteItem"]
    assert not SessionStore().exists(store.session_key)


def test_cycle_key_keeps_the_data_and_writes_the_new_key_once(ddb, api_calls):
    store = saved()
    old = store.session_key
    store.load()
    api_calls.clear()
    store.cycle_key()
    assert api_calls == []  # nothing yet: the old session stands until the new one is written
    assert store.session_key != old
    assert dict(store.items()) == ALICE
    store.save()
    # One transaction: the new item put (if new) and the old one deleted. dynalite has no
    # transactions: a put, then a delete.
    assert api_calls in (["TransactWriteItems"], ["TransactWriteItems", "PutItem", "DeleteItem"])
    assert not store.exists(old)
    assert SessionStore(store.session_key).load() == ALICE


def test_cycle_key_then_flush_leaves_nothing(ddb):
    store = saved()
    store.cycle_key()
    store.flush()
    store.save()  # an empty session is written under a new key, the cycled one never
    assert [item["pk"]["S"] for item in all_items()] == [session_id(store.session_key)]


@pytest.mark.parametrize(
    "expiry, age",
    [
        pytest.param(600, 600, id="seconds"),
        pytest.param(timedelta(hours=2), 7200, id="timedelta"),
        pytest.param("datetime", 3600, id="datetime"),
        pytest.param(0, 1209600, id="browser-close"),  # the row lives SESSION_COOKIE_AGE
    ],
)
def test_custom_expiry_sets_the_ttl_attribute(ddb, expiry, age):
    if expiry == "datetime":
        expiry = timezone.now() + timedelta(seconds=age)
    store = saved(expiry=expiry)
    expires = int(stored_item(store.session_key)["expires"]["N"])
    assert abs(expires - (time.time() + age)) <= 2
    assert SessionStore(store.session_key).load()["userInfo"] == ALICE["userInfo"]


def test_corrupt_data_is_logged_and_reads_empty(ddb, caplog):
    store = saved()
    item = stored_item(store.session_key)
    for data in ({"S": "not-signed-data"}, {"B": b"not zlib at all"}):
        dynamodb.call("put_item", Item={**item, "data": data})
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
            assert SessionStore(store.session_key).load() == {}
        assert [r.name for r in caplog.records] == ["django.security.SuspiciousSession"]


def test_large_sessions_are_stored_compressed(ddb, settings):
    settings.SESSION_DYNAMODB = {**settings.SESSION_DYNAMODB, "COMPRESS_MIN_BYTES": 2000}
    big = {"blob": secrets.token_hex(3000)}  # hex: the signer cannot squeeze all of it
    store = saved(big)
    data = stored_item(store.session_key)["data"]
    encoded = zlib.decompress(data["B"]).decode()
    assert len(data["B"]) < len(encoded) * 0.85
    assert SessionStore(store.session_key).load() == big
    assert "S" in stored_item(saved({"small": 1}).session_key)["data"]


def incompressible(size):
    return {"blob": secrets.token_urlsafe(size)}


def stored_size(data):
    store = SessionStore()
    store._session_key = "k" * 32
    return dynamodb.item_size(store.to_item(data, 1))


def test_the_largest_session_that_fits_is_written(ddb, settings):
    # Grow random data until the item sits just under DynamoDB's 400 KB: the store takes it.
    # Stored as a String: moto counts a Binary by its base64 text, a third over DynamoDB.
    settings.SESSION_DYNAMODB = {**settings.SESSION_DYNAMODB, "COMPRESS_MIN_BYTES": 10**6}
    n = 300_000
    while stored_size(incompressible(n)) < dynamodb.MAX_ITEM_BYTES - 2000:
        n += (dynamodb.MAX_ITEM_BYTES - stored_size(incompressible(n))) // 2
    data = incompressible(n)
    while stored_size(data) > dynamodb.MAX_ITEM_BYTES:
        data = incompressible(n := n - 500)
    store = saved(data)
    assert SessionStore(store.session_key).load() == data


def test_a_session_too_large_fails_before_any_write(ddb, api_calls):
    store = saved()
    api_calls.clear()
    store["blob"] = incompressible(600_000)["blob"]
    with pytest.raises(SessionTooLarge, match="nothing was written"):
        store.save()
    assert api_calls == []
    assert SessionStore(store.session_key).load() == ALICE


def test_clear_expired_pages_through_the_whole_table(ddb, api_calls):
    live = [saved().session_key for _ in range(3)]
    for key in [saved().session_key for _ in range(30)]:
        expire(key)
    api_calls.clear()
    assert dynamodb.delete_expired(page_size=7) == 30
    assert api_calls.count("Scan") >= 5
    assert api_calls.count("BatchWriteItem") >= 5
    assert sorted(item["pk"]["S"] for item in all_items()) == sorted(map(session_id, live))
    SessionStore.clear_expired()  # Django's entry point: nothing left to do
    assert len(all_items()) == 3


def expire(session_key):
    item = stored_item(session_key)
    dynamodb.call("put_item", Item={**item, "expires": {"N": str(int(time.time()) - 5)}})


@pytest.fixture
def stingy_batches(monkeypatch):
    """BatchWriteItem processes one delete per call and hands the rest back, as under load."""
    real = dynamodb.call

    def call(operation, **kwargs):
        if operation != "batch_write_item":
            return real(operation, **kwargs)
        ((table, requests),) = kwargs["RequestItems"].items()
        real(operation, RequestItems={table: requests[:1]})
        return {"UnprocessedItems": {table: requests[1:]} if requests[1:] else {}}

    monkeypatch.setattr(dynamodb, "call", call)


def test_unprocessed_deletes_are_sent_again(ddb, stingy_batches):
    for key in [saved().session_key for _ in range(4)]:
        expire(key)
    assert dynamodb.delete_expired() == 4
    assert all_items() == []


def test_deletes_left_unprocessed_make_the_store_unavailable(ddb, stingy_batches, monkeypatch):
    monkeypatch.setattr(dynamodb, "BATCH_ATTEMPTS", 2)
    for key in [saved().session_key for _ in range(4)]:
        expire(key)
    with pytest.raises(SessionStoreUnavailable, match="unprocessed after 2 tries"):
        dynamodb.delete_expired()
    assert len(all_items()) == 2
