"""session_engines.backends.base, the fewest-writes contract, on both engines built on it."""

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.utils.module_loading import import_string

from tests.conftest import use_redis, use_redis_cluster

ENGINES = ["redis", "redis-valkey", "redis-cluster", "dynamodb"]


@pytest.fixture(params=ENGINES)
def store_class(request, settings, db):
    name, _, server = request.param.partition("-")
    if server == "cluster":
        use_redis_cluster(settings, request.getfixturevalue("redis_cluster"))
    elif name == "redis":
        from django_redis import get_redis_connection

        use_redis(settings, request.getfixturevalue(f"{server or 'redis'}_server_url"))
        get_redis_connection("sessions").flushdb()
    else:
        request.getfixturevalue("dynamodb_table")
    settings.SESSION_ENGINE = f"session_engines.backends.{name}"
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


def test_saving_an_unknown_key_unread_is_an_update_error_and_writes_nothing(store_class):
    # As Django's db engine: save() with no read first, of a key that is gone.
    store = store_class("k" * 32)
    with pytest.raises(UpdateError):
        store.save()
    assert not store_class().exists("k" * 32)
    assert store.session_key is None


def test_cycle_key_writes_the_new_key_once_with_the_data(store_class):
    store = store_class()
    store["a"] = 1
    store.save()
    old = store.session_key
    store.cycle_key()
    assert store_class().exists(old)  # written before it is deleted: the save does both
    store.save()
    assert not store_class().exists(old)
    assert store_class(store.session_key).load() == {"a": 1}
