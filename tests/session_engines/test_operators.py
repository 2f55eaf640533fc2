"""The inspection protocol on every engine that has an operator, through the API only.

The lead extends INDEXED_ENGINES with "dynamodb" and "redis" once their operators are
merged: these tests use nothing but the API and the operator protocol, so they apply as is.
"""

import json

import pytest
from django.conf import settings
from django.test import Client

from session_engines.ids import session_id
from session_engines.operators import UserIndexUnavailable, get_operator

INDEXED_ENGINES = ["db", "dynamodb", "redis", "redis-valkey", "redis-cluster"]  # with a user index
UNINDEXED_ENGINES = ["cache", "cache-valkey"]  # Django's cache-backed engine: it cannot
OPERATOR_ENGINES = INDEXED_ENGINES + UNINDEXED_ENGINES

NAMES = {"alice": "Alice Kim", "bob": "Bob Lee", "carol": "Carol Park"}
NOBODY = {"userId": None, "userNm": None}


def engines(names):
    return pytest.mark.parametrize("engine", names, indirect=True)


def new_client(**kwargs):
    return Client(headers={"X-Forwarded-Proto": "https"}, **kwargs)


def log_in(user_id):
    """A new client logged in as ``user_id`` through the API."""
    client = new_client()
    body = json.dumps({"userId": user_id, "userNm": NAMES[user_id]})
    assert client.post("/login", body, content_type="application/json").status_code == 200
    return client


def key_of(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def user_info(client):
    return client.get("/session").json()


def log_in_several():
    """Sessions for several users: alice on two devices, bob and carol on one each."""
    return {
        "alice": [log_in("alice"), log_in("alice")],
        "bob": [log_in("bob")],
        "carol": [log_in("carol")],
    }


def ids_of(clients):
    return {session_id(key_of(client)) for client in clients}


def walk(operator, limit):
    """Every page of operator.list(): (all ids in order, number of pages)."""
    ids, cursor, pages = [], None, 0
    while True:
        page = operator.list(cursor=cursor, limit=limit)
        ids += [record.id for record in page.records]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            return ids, pages
        assert isinstance(cursor, str)


@engines(OPERATOR_ENGINES)
def test_listing_pages_returns_every_session_exactly_once(engine):
    clients = [log_in(user) for user in NAMES for _ in range(3)]
    ids, pages = walk(get_operator(), limit=2)
    assert pages > 1
    assert len(ids) == len(set(ids))
    assert set(ids) == ids_of(clients)


@engines(OPERATOR_ENGINES)
def test_records_are_decoded_and_keyed_by_digest(engine):
    logged_in = log_in_several()
    bob = logged_in["bob"][0]
    record = get_operator().get(session_id(key_of(bob)))
    assert record.id == session_id(key_of(bob))
    assert record.user_id == "bob"
    assert record.data["userInfo"] == {"userId": "bob", "userNm": "Bob Lee"}
    assert record.size > len('{"userInfo"')
    assert record.expires is not None and record.expires.tzinfo is not None
    listed = {r.id: r for r in get_operator().list(limit=100).records}
    assert listed[record.id].user_id == "bob"
    assert key_of(bob) not in listed


@engines(OPERATOR_ENGINES)
def test_delete_one_ends_only_that_session(engine):
    logged_in = log_in_several()
    first, second = logged_in["alice"]
    operator = get_operator()
    assert operator.delete(session_id(key_of(first))) is True
    assert operator.get(session_id(key_of(first))) is None
    assert operator.delete(session_id(key_of(first))) is False
    assert user_info(first) == NOBODY
    assert user_info(second)["userId"] == "alice"


@engines(OPERATOR_ENGINES)
def test_unknown_id_is_none(engine):
    log_in_several()
    assert get_operator().get("0" * 64) is None
    assert get_operator().delete("0" * 64) is False


@engines(INDEXED_ENGINES)
def test_user_index_lists_and_revokes_one_user(engine):
    logged_in = log_in_several()
    operator = get_operator()
    assert operator.supports_user_index is True
    alice = logged_in["alice"]
    assert {record.id for record in operator.for_user("alice")} == ids_of(alice)
    assert operator.delete_for_user("alice") == 2
    assert operator.for_user("alice") == []
    assert all(user_info(client) == NOBODY for client in alice)
    assert user_info(logged_in["bob"][0])["userId"] == "bob"
    assert operator.delete_for_user("alice") == 0


@engines(INDEXED_ENGINES)
def test_user_index_follows_userinfo_changes(engine):
    logged_in = log_in_several()
    operator = get_operator()
    carol = logged_in["carol"][0]
    body = json.dumps({"userId": "bob", "userNm": "Bob Lee"})
    carol.post("/login", body, content_type="application/json")  # carol's browser, now bob
    assert operator.for_user("carol") == []
    assert session_id(key_of(carol)) in {record.id for record in operator.for_user("bob")}
    carol.post("/logout")
    assert {record.id for record in operator.for_user("bob")} == ids_of(logged_in["bob"])


@engines(UNINDEXED_ENGINES)
def test_engine_without_an_index_says_so(engine):
    logged_in = log_in_several()
    operator = get_operator()
    assert operator.supports_user_index is False
    with pytest.raises(UserIndexUnavailable, match="no per-user index"):
        operator.for_user("alice")
    with pytest.raises(UserIndexUnavailable, match="no per-user index"):
        operator.delete_for_user("alice")
    assert all(user_info(client)["userId"] == "alice" for client in logged_in["alice"])


@pytest.mark.parametrize("cursor", ["nope", "-1"])
@engines(["cache"])
def test_a_bad_cursor_is_a_value_error(engine, cursor):
    with pytest.raises(ValueError):
        get_operator().list(cursor=cursor)


def test_django_plain_db_engine_is_inspectable_without_an_index(db, settings):
    """Django's own db engine stores raw keys: ids are still digests, pages are offsets."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    clients = [log_in(user) for user in NAMES for _ in range(2)]
    operator = get_operator()
    assert operator.supports_user_index is False
    ids, pages = walk(operator, limit=4)
    assert pages == 2 and sorted(ids) == sorted(ids_of(clients))
    bob = clients[2]
    assert operator.get(session_id(key_of(bob))).user_id == "bob"
    assert operator.delete(session_id(key_of(bob))) is True
    assert user_info(bob) == NOBODY
    with pytest.raises(UserIndexUnavailable, match="session_engines.backends.db"):
        operator.for_user("alice")
    with pytest.raises(ValueError):
        operator.list(cursor="x")


@engines(["cache"])
def test_cache_operator_reads_an_engine_that_keys_by_digest(engine, settings):
    from session_engines.operators.cache import CacheOperator

    settings.SESSION_ENGINE = "tests.session_engines.digest_cache"
    clients = [log_in(user) for user in NAMES]
    operator = CacheOperator()
    assert operator.hashed
    stored = b" ".join(operator.redis.scan_iter(match="*"))
    assert not any(key_of(client).encode() in stored for client in clients)
    ids, _ = walk(operator, limit=2)
    assert sorted(ids) == sorted(ids_of(clients))
    bob = clients[1]
    assert operator.get(session_id(key_of(bob))).user_id == "bob"
    assert operator.delete(session_id(key_of(bob))) is True
    assert user_info(bob) == NOBODY
    assert operator.get("not an id") is None
