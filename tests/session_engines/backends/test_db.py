"""session_engines.backends.db: Django's, keyed by digest, indexed by user."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.base import UpdateError
from django.db import OperationalError, connection
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from session_engines.backends.db import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.models import Session

from ..helpers import new_client, sign_in, user_id, user_named


def test_rows_are_keyed_by_digest_and_indexed_by_user(db):
    store = SessionStore()
    store["_auth_user_id"] = "42"
    store.save()
    key = store.session_key
    row = Session.objects.get()
    assert row.session_key == session_id(key) != key
    assert row.user_id == "42"
    assert key not in row.session_data
    assert store.exists(key) and not store.exists(session_id(key))
    store["_auth_user_id"] = "43"
    store.save()
    assert Session.objects.get().user_id == "43"
    del store["_auth_user_id"]
    store.save()
    assert Session.objects.get().user_id is None


def test_user_ids_too_long_to_index_are_left_out(db):
    store = SessionStore()
    store["_auth_user_id"] = "x" * 256
    store.save()
    assert Session.objects.get().user_id is None


def test_manager_save_keys_by_digest(db):
    expires = timezone.now() + timedelta(hours=1)
    row = Session.objects.save("k" * 32, {"_auth_user_id": "42"}, expires)
    assert row.session_key == session_id("k" * 32) and row.user_id == "42"
    assert SessionStore("k" * 32)["_auth_user_id"] == "42"


# Sign in, read, sign in as someone else (a new key), read, sign out.
STEPS = [
    ("/sign-in", {"username": "alice"}),
    ("/whoami", None),
    ("/sign-in", {"username": "bob"}),
    ("/whoami", None),
    ("/sign-out", {}),
]


def send(client, path, data):
    return client.get(path) if data is None else client.post(path, data)


def test_no_more_queries_than_djangos_db_engine(db, settings, django_assert_max_num_queries):
    for username in ("alice", "bob"):
        user_named(username)  # the users, outside the counts
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    client, djangos = new_client(), []
    for path, data in STEPS:
        with CaptureQueriesContext(connection) as queries:
            send(client, path, data)
        djangos.append(len(queries))
    settings.SESSION_ENGINE = "session_engines.backends.db"
    client = new_client()
    for (path, data), most in zip(STEPS[:-1], djangos, strict=False):
        with django_assert_max_num_queries(most):
            assert send(client, path, data).status_code == 200
    # Signing out is one DELETE here; Django's engine SELECTs the row, then DELETEs it.
    with django_assert_max_num_queries(djangos[-1] - 1):
        send(client, *STEPS[-1])
    assert send(client, "/whoami", None).json() == {"userId": None}
    assert not Session.objects.exists()


def test_a_database_outage_on_update_is_unavailable_not_a_deleted_session(db, monkeypatch):
    store = SessionStore()
    store["a"] = 1
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


def test_signing_in_indexes_the_session_under_the_user(db):
    sign_in(new_client(), "alice")
    assert Session.objects.get().user_id == user_id("alice")
