"""The DynamoDB engine on moto, moto server and dynalite: the item at rest, the API calls each
operation makes, compression and the item size limit, the expired-item sweep, the client.

Django's contract and ours (no write on load, no resurrection, hashed keys) are test_contract.py's.
"""

import hashlib
import logging
import os
import secrets
import time
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone

from session_engines import clients
from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore
from session_engines.exceptions import SessionStoreUnavailable, SessionTooLarge
from session_engines.ids import session_id

from ..helpers import use_table

ALICE = {"_auth_user_id": "alice", "cart": [1]}


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


def test_the_item_holds_a_digest_never_the_key(ddb):
    store = saved()
    (item,) = all_items()
    assert item["pk"] == {"S": hashlib.sha256(store.session_key.encode()).hexdigest()}
    assert store.session_key not in repr(item)
    assert set(item) == {"pk", "data", "expires", "ver", "uid"}
    assert item["uid"] == {"S": "alice"}


def test_the_user_attribute_follows_the_session(ddb):
    store = saved()
    store["_auth_user_id"] = "bob"
    store.save()
    assert stored_item(store.session_key)["uid"] == {"S": "bob"}
    del store["_auth_user_id"]
    store.save()
    assert "uid" not in stored_item(store.session_key)


def test_loading_an_unknown_key_is_one_get_item(ddb, api_calls):
    SessionStore("nosuchsessionkey0123456789abcdef").load()
    assert api_calls == ["GetItem"]


def test_an_expired_item_is_not_there_for_exists_either(ddb, api_calls):
    # TTL deletes late: an item past its expiry is still in the table, and must read as gone.
    store = saved()
    expire(store.session_key)
    api_calls.clear()
    assert not SessionStore().exists(store.session_key)
    assert api_calls == ["GetItem"]


def test_create_is_one_conditional_put(ddb, api_calls):
    store = SessionStore()
    store.create()
    assert api_calls == ["PutItem"]
    assert api_calls.params[0]["ConditionExpression"] == "attribute_not_exists(#k)"
    assert store.exists(store.session_key)
    assert store.modified


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
    store = saved({"_auth_user_id": user_id})
    assert "uid" not in stored_item(store.session_key)
    assert SessionStore(store.session_key).load()["_auth_user_id"] == user_id


def test_delete_is_one_delete_item(ddb, api_calls):
    store = saved()
    api_calls.clear()
    store.delete()
    assert api_calls == ["DeleteItem"]
    assert not SessionStore().exists(store.session_key)


def test_cycle_key_writes_nothing_and_the_save_one_transaction(ddb, api_calls):
    store = saved()
    store.load()
    api_calls.clear()
    store.cycle_key()
    assert api_calls == []  # nothing yet: the old session stands until the new one is written
    store.save()
    # One transaction: the new item put (if new) and the old one deleted. dynalite has no
    # transactions: a put, then a delete.
    assert api_calls in (["TransactWriteItems"], ["TransactWriteItems", "PutItem", "DeleteItem"])


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
    assert abs(expires - (time.time() + age)) <= 5  # whole seconds, rounded twice
    assert SessionStore(store.session_key).load()["cart"] == ALICE["cart"]


def test_compressed_data_that_does_not_inflate_is_logged_and_reads_empty(ddb, caplog):
    store = saved()
    item = stored_item(store.session_key)
    dynamodb.call("put_item", Item={**item, "data": {"B": b"not zlib at all"}})
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


# --- The client ----------------------------------------------------------------------------------


@pytest.fixture
def client_settings(settings, fake_credentials):
    """Only settings: making a client talks to nobody."""
    use_table(settings, endpoint_url="http://127.0.0.1:9")
    dynamodb._clients.clear()
    yield
    dynamodb._clients.clear()


def test_one_client_per_process_made_on_first_use(client_settings, monkeypatch):
    client = dynamodb.get_client()
    assert dynamodb.get_client() is client
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    # A forked worker (another pid) gets its own client, and drops the parent's.
    parent = os.getpid()
    monkeypatch.setattr(clients.os, "getpid", lambda: parent + 1)
    child = dynamodb.get_client()
    assert child is not client
    assert all(key[0] == parent + 1 for key in dynamodb._clients)


def test_client_config_overrides_keep_standard_retries(client_settings, settings):
    settings.SESSION_DYNAMODB = {
        **settings.SESSION_DYNAMODB,
        "CLIENT_CONFIG": {"read_timeout": 5, "retries": {"max_attempts": 6}},
    }
    config = dynamodb.get_client().meta.config
    assert config.read_timeout == 5
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 7  # botocore: 6 retries after the first try


def test_a_forked_worker_makes_its_own_client_and_it_works(server_table):
    # As under gunicorn: the parent used the client before forking; the worker must not.
    parent_client = dynamodb.get_client()
    parent_client.describe_table(TableName=server_table)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            os.close(read)
            store = SessionStore()
            store["worker"] = os.getpid()
            store.save()
            fresh = dynamodb.get_client() is not parent_client
            os.write(write, f"{fresh} {store.session_key}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        fresh, session_key = pipe.read().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fresh == "True"
    assert SessionStore(session_key).load() == {"worker": pid}
    assert dynamodb.get_client() is parent_client
