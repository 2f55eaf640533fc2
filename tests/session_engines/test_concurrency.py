"""Concurrent requests on one session, with real threads: no write is lost, none resurrected.

Every save is a compare-and-set on a version (session_engines.backends.base): 8 requests that
load one session and save it at the same moment each keep their own key. DynamoDB's races run
on its three implementations (moto, moto server, dynalite: the ``ddb`` fixture).
"""

from pathlib import Path

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django_redis import get_redis_connection

from harness.postgres import postgres_server
from harness.race import lost_updates, resurrections
from session_engines.backends import cache, dynamodb, redis

from .helpers import in_a_process, postgres_database, sqlite_database, use_redis

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache_engine(settings, redis_url):
    settings.SESSION_ENGINE = "session_engines.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    use_redis(settings, redis_url)
    get_redis_connection("sessions").flushdb()


def test_simultaneous_saves_lose_nothing_on_redis(native_redis):
    race = lost_updates(redis.SessionStore, writers=8, rounds=10)
    assert (race.sent, race.lost, race.errors) == (80, 0, 0)
    assert race.conflicts > 0  # they did collide, and were merged


def test_a_save_racing_a_delete_never_resurrects_on_redis(native_redis):
    assert resurrections(redis.SessionStore, pairs=100) == 0


def test_a_save_racing_a_delete_never_resurrects_on_the_cache_engine(cache_engine):
    assert resurrections(cache.SessionStore, pairs=100) == 0


def test_the_cache_engine_cannot_merge_and_says_so_by_losing(cache_engine):
    # Through Django's cache API there is no compare-and-set: the later save wins whole. This
    # measures it (the README's figure); it is the reason to pick the native engine.
    race = lost_updates(cache.SessionStore, writers=8, rounds=10)
    assert race.sent == 80 and race.errors == 0
    assert 0 < race.lost < race.sent


def test_a_save_after_a_delete_is_an_update_error_on_the_cache_engine(cache_engine):
    session = cache.SessionStore()
    session["a"] = 1
    session.save()
    loaded = cache.SessionStore(session.session_key)
    loaded["b"] = 2
    cache.SessionStore().delete(session.session_key)  # a logout, or an operator's revoke
    with pytest.raises(UpdateError):
        loaded.save()
    assert not cache.SessionStore().exists(session.session_key)


def test_simultaneous_saves_lose_nothing_on_dynamodb(ddb, api_calls):
    race = lost_updates(dynamodb.SessionStore, writers=8, rounds=10)
    assert (race.sent, race.lost, race.errors) == (80, 0, 0)
    assert race.conflicts > 0
    # A conflict costs one GetItem and one PutItem more: every PutItem but one per round was
    # refused or retried, and each retry read the item again.
    puts = api_calls.count("PutItem") - 1  # the session's creation
    assert puts == race.sent + race.conflicts


def test_a_save_racing_a_delete_never_resurrects_on_dynamodb(ddb):
    assert resurrections(dynamodb.SessionStore, pairs=30) == 0


def test_simultaneous_saves_lose_nothing_on_the_db_engine_on_sqlite(tmp_path):
    race = in_a_process(tmp_path, "harness.race", sqlite_database(tmp_path / "race.sqlite3"))
    assert (race["sent"], race["lost"], race["errors"], race["resurrected"]) == (80, 0, 0, 0)
    assert race["conflicts"] > 0


def test_simultaneous_saves_lose_nothing_on_the_db_engine_on_postgresql(tmp_path):
    with postgres_server() as url:
        race = in_a_process(tmp_path, "harness.race", postgres_database(url))
    assert (race["sent"], race["lost"], race["errors"], race["resurrected"]) == (80, 0, 0, 0)
    assert race["conflicts"] > 0
