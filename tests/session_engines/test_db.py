"""session_engines.backends.db: Django's, keyed by digest, indexed by user."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.base import UpdateError
from django.db import OperationalError, connection
from django.db.models.query import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from session_engines.backends.db import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.models import Session

ALICE = {"userId": "alice", "userNm": "Alice Kim"}


def new_client():
    return Client(headers={"X-Forwarded-Proto": "https"})


def test_rows_are_keyed_by_digest_and_indexed_by_user(db):
    store = SessionStore()
    store["userInfo"] = ALICE
    store.save()
    key = store.session_key
    row = Session.objects.get()
    assert row.session_key == session_id(key) != key
    assert row.user_id == "alice"
    assert key not in row.session_data
    assert SessionStore(key)["userInfo"] == ALICE
    assert store.exists(key) and not store.exists(session_id(key))
    store["userInfo"] = {"userId": "bob", "userNm": "Bob"}
    store.save()
    assert Session.objects.get().user_id == "bob"
    del store["userInfo"]
    store.save()
    assert Session.objects.get().user_id is None


def test_the_digest_never_opens_a_session(db):
    store = SessionStore()
    store["userInfo"] = ALICE
    store.save()
    assert SessionStore(session_id(store.session_key)).load() == {}


def test_expired_and_deleted_sessions_behave_as_djangos(db):
    store = SessionStore()
    store["userInfo"] = ALICE
    store.save()
    key = store.session_key
    Session.objects.update(expire_date=Session.objects.get().expire_date - timedelta(days=30))
    stale = SessionStore(key)
    assert stale.load() == {} and stale.session_key is None  # nothing written on load
    SessionStore.clear_expired()
    assert not Session.objects.exists()
    store.save(must_create=True)
    SessionStore(key).delete()
    assert not Session.objects.exists()
    with pytest.raises(UpdateError):
        store.save()  # never resurrects a deleted session


def test_user_ids_too_long_to_index_are_left_out(db):
    store = SessionStore()
    store["userInfo"] = {"userId": "x" * 256}
    store.save()
    assert Session.objects.get().user_id is None


def test_manager_save_keys_by_digest(db):
    expires = timezone.now() + timedelta(hours=1)
    row = Session.objects.save("k" * 32, {"userInfo": ALICE}, expires)
    assert row.session_key == session_id("k" * 32) and row.user_id == "alice"
    assert SessionStore("k" * 32)["userInfo"] == ALICE


# The seed's walk-through: log in, read, log in again (key cycled), read, log out.
STEPS = [
    ("/login", ALICE),
    ("/session", None),
    ("/login", {"userId": "alice", "userNm": "A."}),
    ("/session", None),
    ("/logout", {}),
]


def send(client, path, body):
    if body is None:
        return client.get(path)
    return client.post(path, json.dumps(body), content_type="application/json")


def test_no_more_round_trips_than_djangos_db_engine(db, settings, django_assert_max_num_queries):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    client, djangos = new_client(), []
    for path, body in STEPS:
        with CaptureQueriesContext(connection) as queries:
            send(client, path, body)
        djangos.append(len(queries))
    settings.SESSION_ENGINE = "session_engines.backends.db"
    client = new_client()
    for (path, body), most in zip(STEPS[:-1], djangos, strict=False):
        with django_assert_max_num_queries(most):
            assert send(client, path, body).status_code == 200
    # Logging out is one DELETE here; Django's engine SELECTs the row, then DELETEs it.
    assert djangos[-1] == 2
    with django_assert_max_num_queries(1):
        send(client, *STEPS[-1])
    assert send(client, "/session", None).json() == {"userId": None, "userNm": None}
    assert not Session.objects.exists()


def test_async_api_keys_by_digest_too(transactional_db):
    store = SessionStore()
    async_to_sync(store.aset)("userInfo", ALICE)
    async_to_sync(store.asave)()
    key = store.session_key
    assert Session.objects.get().session_key == session_id(key)
    assert async_to_sync(store.aexists)(key)
    assert async_to_sync(SessionStore(key).aload)() == {"userInfo": ALICE}
    async_to_sync(store.adelete)()
    assert not Session.objects.exists()


def test_a_database_outage_on_update_is_unavailable_not_a_deleted_session(db, monkeypatch):
    store = SessionStore()
    store["userInfo"] = ALICE
    store.save()
    loaded = SessionStore(store.session_key)
    loaded["seen"] = 1

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(QuerySet, "update", locked)
        with pytest.raises(SessionStoreUnavailable):  # the middleware's 503, not a logout
            loaded.save()
        with pytest.raises(SessionStoreUnavailable):
            async_to_sync(loaded.asave)()
    store.delete()
    with pytest.raises(UpdateError):  # really deleted: still Django's UpdateError
        loaded.save()


def test_exists_of_no_key_is_false(db):
    assert SessionStore().exists(None) is False
    assert SessionStore().exists("") is False
