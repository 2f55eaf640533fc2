"""session_engines.backends.migrate: what differs from one engine (test_contract.py runs the
contract on it): sessions found in the old store move, a digest never passes as a key, and
logout, revoke and "log out everywhere" end a session in both stores. Each test runs on every
source engine, Django's own included, sessions moving to one of ours.
"""

import pytest
from django.utils.module_loading import import_string

from session_engines.backends import migrate
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.operators import get_operator

from ..helpers import (
    MIGRATE,
    NOBODY,
    SOURCES,
    Migration,
    key_of,
    log_in,
    user_id,
    user_info,
    with_cookie,
)


@pytest.fixture(params=list(SOURCES))
def migration(request, settings, db):
    return Migration(request.param, request, settings)


def test_a_session_found_only_in_the_old_store_moves(migration):
    key = key_of(log_in("alice"))
    migration.switch()
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}
    assert not migration.in_old(key)  # moved: written to the new store, deleted from the old
    assert migration.in_new(key)
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}  # from the new store
    migration.switch(migration.new_engine)  # the migration done: the new engine alone
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}


def test_a_session_id_sent_as_the_cookie_finds_nothing(migration):
    # What a leaked table, backup or log holds of our engines' sessions: the key's digest.
    key = key_of(log_in("alice"))
    migration.switch()
    assert user_info(with_cookie(session_id(key))) == NOBODY
    assert migration.in_old(key)  # nothing moved
    assert migration.new_ids() == set()  # nothing written
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}  # the key still opens it


def test_logout_ends_the_session_in_both_stores(migration, monkeypatch):
    key = key_of(log_in("alice"))
    migration.switch()
    client = with_cookie(key)  # a client's first request loads the engine now configured
    with monkeypatch.context() as patch:  # the move's delete from the old store fails
        patch.setattr(migration.old(), "delete", lambda self, session_key=None: None)
        assert user_info(client) == {"userId": user_id("alice")}
    assert migration.in_old(key) and migration.in_new(key)  # in both, the new one read first
    assert client.post("/sign-out").status_code == 200
    assert not migration.in_old(key) and not migration.in_new(key)
    assert user_info(with_cookie(key)) == NOBODY


def test_revoke_and_log_out_everywhere_end_sessions_in_both_stores(migration):
    alice = [key_of(log_in("alice")), key_of(log_in("alice"))]
    bob = key_of(log_in("bob"))
    migration.switch()
    assert user_info(with_cookie(alice[0])) == {"userId": user_id("alice")}
    assert migration.in_new(alice[0]) and migration.in_old(alice[1])  # one moved, one not yet
    operator = get_operator()
    assert {r.id for r in operator.for_user(user_id("alice"))} == {session_id(k) for k in alice}
    assert operator.delete_for_user(user_id("alice")) == 2
    assert [user_info(with_cookie(key)) for key in alice] == [NOBODY, NOBODY]
    assert not any(migration.in_old(key) or migration.in_new(key) for key in alice)
    assert user_info(with_cookie(bob)) == {"userId": user_id("bob")}  # moved now
    assert operator.delete(session_id(bob)) is True
    assert user_info(with_cookie(bob)) == NOBODY
    assert not migration.in_old(bob) and not migration.in_new(bob)


def test_a_logout_during_a_move_is_not_undone_by_the_copy(migration, monkeypatch):
    key = key_of(log_in("alice"))
    migration.switch()
    new, create = migration.new(), migration.new()._create_record

    def logged_out_meanwhile(self, data, replacing):
        migration.old()().delete(key)  # another request's logout, after this one's read
        return create(self, data, replacing)

    monkeypatch.setattr(new, "_create_record", logged_out_meanwhile)
    assert user_info(with_cookie(key)) == NOBODY
    assert migration.new_ids() == set()  # the copy was deleted: never resurrected


def test_two_requests_moving_one_session_share_one_copy(migration, monkeypatch):
    key = key_of(log_in("alice"))
    migration.switch()
    new, create = migration.new(), migration.new()._create_record
    first = []

    def moved_meanwhile(self, data, replacing):
        if not first:  # the other request moves it between this one's read and its create
            first.append(True)
            other = import_string(f"{MIGRATE}.SessionStore")(key)
            other["theirs"] = True
            other.save()
        return create(self, data, replacing)

    monkeypatch.setattr(new, "_create_record", moved_meanwhile)
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}
    assert migration.new_ids() == {session_id(key)}
    assert migration.new()(key).load()["theirs"] is True  # its copy is the session
    assert not migration.in_old(key)


def test_an_old_store_outage_on_a_miss_is_a_503_not_a_logout(migration, monkeypatch):
    key = key_of(log_in("alice"))
    migration.switch()

    def down(self):
        raise SessionStoreUnavailable("the old store is down")

    # The class the engine reads the old store through (for Django's cache engine, ours).
    monkeypatch.setattr(migrate.store_classes()[0], "load", down)
    assert with_cookie(key).get("/whoami").status_code == 503
    monkeypatch.undo()
    assert user_info(with_cookie(key)) == {"userId": user_id("alice")}


def round_trips(monkeypatch, load):
    """(SQL statements, Redis commands) sent by ``load()``, one entry per round trip."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from session_engines.backends import redis

    commands, pipelined = [], redis.pipelined

    def counted(sent, wait, client=None):  # one pipeline: one round trip
        commands.append(" ".join(command[0] for command in sent))
        return pipelined(sent, wait, client)

    with monkeypatch.context() as patch, CaptureQueriesContext(connection) as queries:
        patch.setattr(redis, "pipelined", counted)
        load()
    return [query["sql"].split()[0] for query in queries], commands


@pytest.mark.parametrize("migration", ["db"], indirect=True)
def test_round_trips_of_a_load(migration, monkeypatch):
    # db -> redis: a moved session costs what Redis costs; a miss, one SELECT more; a move, once:
    # GET (miss), SELECT (found), CREATE (the user's index with it), SELECT (still there), DELETE.
    key, warm = key_of(log_in("alice")), key_of(log_in("bob"))
    migration.switch()
    store = import_string(f"{MIGRATE}.SessionStore")
    store(warm).load()  # the server has the scripts from now on (EVALSHA, no EVAL)
    moved = round_trips(monkeypatch, lambda: store(key).load())
    assert moved == (["SELECT", "SELECT", "DELETE"], ["GET", "EVALSHA"])
    assert round_trips(monkeypatch, lambda: store(key).load()) == ([], ["GET"])
    assert round_trips(monkeypatch, lambda: store("x" * 32).load()) == (["SELECT"], ["GET"])
