"""The inspection protocol on every engine (helpers.ENGINES), through the operator only."""

import pytest

from session_engines.ids import session_id
from session_engines.operators import UserIndexUnavailable, get_operator

from ..helpers import (
    INDEXED_ENGINES,
    NAMES,
    NOBODY,
    OPERATOR_ENGINES,
    UNINDEXED_ENGINES,
    engines,
    ids_of,
    key_of,
    log_in,
    log_in_several,
    sign_in,
    user_id,
    user_info,
    walk,
)


@engines(OPERATOR_ENGINES)
def test_listing_pages_returns_every_session_exactly_once(engine):
    clients = [log_in(user) for user in NAMES for _ in range(3)]
    ids, pages = walk(get_operator(), limit=2)
    assert pages > 1
    assert len(ids) == len(set(ids))
    assert set(ids) == ids_of(clients)


@engines(OPERATOR_ENGINES)
def test_records_are_decoded_and_keyed_by_digest(engine):
    bob = log_in_several()["bob"][0]
    record = get_operator().get(session_id(key_of(bob)))
    assert record.id == session_id(key_of(bob))
    assert record.user_id == user_id("bob")
    assert record.data["_auth_user_id"] == user_id("bob")
    assert record.size > len('{"_auth_user_id"')
    assert record.expires is not None and record.expires.tzinfo is not None
    listed = {r.id: r for r in get_operator().list(limit=100).records}
    assert listed[record.id].user_id == user_id("bob")
    assert key_of(bob) not in listed


@engines(OPERATOR_ENGINES)
def test_delete_one_ends_only_that_session(engine):
    first, second = log_in_several()["alice"]
    operator = get_operator()
    assert operator.delete(session_id(key_of(first))) is True
    assert operator.get(session_id(key_of(first))) is None
    assert operator.delete(session_id(key_of(first))) is False
    assert user_info(first) == NOBODY
    assert user_info(second) == {"userId": user_id("alice")}


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
    assert {record.id for record in operator.for_user(user_id("alice"))} == ids_of(alice)
    assert operator.delete_for_user(user_id("alice")) == 2
    assert operator.for_user(user_id("alice")) == []
    assert all(user_info(client) == NOBODY for client in alice)
    assert user_info(logged_in["bob"][0]) == {"userId": user_id("bob")}
    assert operator.delete_for_user(user_id("alice")) == 0


@engines(INDEXED_ENGINES)
def test_user_index_follows_the_signed_in_user(engine):
    logged_in = log_in_several()
    operator = get_operator()
    carol = sign_in(logged_in["carol"][0], "bob")  # carol's browser, now bob's
    assert operator.for_user(user_id("carol")) == []
    assert session_id(key_of(carol)) in {record.id for record in operator.for_user(user_id("bob"))}
    carol.post("/sign-out")
    assert {record.id for record in operator.for_user(user_id("bob"))} == ids_of(logged_in["bob"])


@engines(UNINDEXED_ENGINES)
def test_engine_without_an_index_says_so(engine):
    logged_in = log_in_several()
    operator = get_operator()
    assert operator.supports_user_index is False
    with pytest.raises(UserIndexUnavailable, match="no per-user index"):
        operator.for_user(user_id("alice"))
    with pytest.raises(UserIndexUnavailable, match="no per-user index"):
        operator.delete_for_user(user_id("alice"))
    assert all(user_info(client) == {"userId": user_id("alice")} for client in logged_in["alice"])
