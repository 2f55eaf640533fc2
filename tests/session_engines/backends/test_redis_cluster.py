"""The native Redis engine on a Redis Cluster (3 primaries, 3 replicas on loopback), as on
ElastiCache Serverless: keys spread over the shards, one slot per script, the index beside the
session, round trips counted, SCAN on every primary, races, the CLUSTER setting.

The contract (test_contract.py) and the operator, admin, view and command tests run on the
cluster as the ``redis-cluster`` engine (helpers.ENGINES); this file keeps what differs. The
demo's HTTP round trips and failovers: tests/sessiondemo/test_redis_cluster.py.
"""

import hashlib

import pytest
from django.core.checks import run_checks

from harness.race import lost_updates, resurrections
from harness.redis import Recorder
from session_engines.backends import redis as engine
from session_engines.backends.redis import SessionStore
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.operators import get_operator
from tests.session_engines.helpers import use_redis_cluster

ALICE = {"_auth_user_id": "alice"}
BOB = {"_auth_user_id": "bob"}


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def on_cluster(settings, redis_cluster, db):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    use_redis_cluster(settings, redis_cluster)
    return redis_cluster


def new_session(data):
    session = SessionStore()
    session.update(data)
    session.save()
    return session


def stored(session_key):
    return engine.connection().get(engine.session_key_name(sha(session_key)))


def node_of(cluster, session):
    return cluster.primary_of(engine.session_key_name(sha(session.session_key)))


def index(user_id):
    members = engine.connection().zrange(engine.user_index_name(user_id), 0, -1)
    return {m.decode() for m in members}


class Seen:
    """What one operation cost: the engine's round trips (each one pipeline, written to every
    node it reaches before any reply is read) and the commands each primary received."""

    def __init__(self, cluster, monkeypatch):
        self.cluster, self.round_trips = cluster, 0
        send = engine.pipelined

        def counted(commands, wait, client=None):
            self.round_trips += 1
            return send(commands, wait, client)

        monkeypatch.setattr(engine, "pipelined", counted)

    def __call__(self, action):
        self.round_trips = 0
        recorders = {node.port: Recorder(node.url) for node in self.cluster.primaries()}
        for recorder in recorders.values():
            recorder.__enter__()
        try:
            action()
        finally:
            for recorder in recorders.values():
                recorder.__exit__(None, None, None)
        self.commands = {port: r.names() for port, r in recorders.items() if r.names()}
        return self

    def names(self):
        return sorted(name for names in self.commands.values() for name in names)


def warm_up():
    """Each node learns the scripts, and the client its connections, outside the counts."""
    for n in range(12):
        session = new_session({"_auth_user_id": f"warm{n}"})
        session["n"] = n
        session.save()


def test_sessions_spread_over_every_shard(on_cluster):
    sessions = [new_session({"n": n}) for n in range(30)]
    ports = {
        on_cluster.primary_of(engine.session_key_name(sha(s.session_key))).port for s in sessions
    }
    assert ports == {node.port for node in on_cluster.primaries()}
    assert all(stored(s.session_key) is not None for s in sessions)


def test_round_trips_match_one_node(on_cluster, monkeypatch):
    warm_up()
    seen = Seen(on_cluster, monkeypatch)
    sessions = []
    created = seen(lambda: sessions.append(new_session(ALICE)))
    assert (created.round_trips, created.names()) == (1, ["EVALSHA", "SET"])
    key = sessions[0].session_key
    session_node = on_cluster.primary_of(engine.session_key_name(sha(key))).port
    assert "SET" in created.commands[session_node]  # the session on its own slot's primary
    loaded = seen(lambda: SessionStore(key).load())
    assert (loaded.round_trips, loaded.names()) == (1, ["GET"])

    def modify():
        session = SessionStore(key)
        session["b"] = 2
        session.save()

    modified = seen(modify)
    assert (modified.round_trips, modified.names()) == (2, ["EVALSHA", "EVALSHA", "GET"])

    def delete():
        session = SessionStore(key)
        session.load()
        session.delete()

    deleted = seen(delete)
    assert (deleted.round_trips, deleted.names()) == (2, ["DEL", "GET", "ZREM"])  # load + delete
    assert stored(key) is None and index("alice") == set()


def test_rotation_writes_the_new_key_then_deletes_the_old(on_cluster, monkeypatch):
    warm_up()
    session = new_session(ALICE)
    old = session.session_key
    seen = Seen(on_cluster, monkeypatch)

    def rotate():
        session.cycle_key()
        session.save()

    rotated = seen(rotate)
    # Two round trips: a script may not span the two keys' slots, and a failure between them
    # must leave both sessions, never neither.
    assert rotated.round_trips == 2
    assert rotated.names() == ["DEL", "EVALSHA", "SET", "ZREM"]
    assert stored(old) is None and stored(session.session_key) is not None
    assert index("alice") == {sha(session.session_key)}


def test_a_user_change_leaves_the_old_index_once_the_write_stands(on_cluster, monkeypatch):
    warm_up()
    session = new_session(ALICE)
    seen = Seen(on_cluster, monkeypatch)

    def become_bob():
        session.update(BOB)
        session.save()

    changed = seen(become_bob)
    assert changed.round_trips == 2  # the compare-and-set + the new index, then the old index
    assert index("alice") == set() and index("bob") == {sha(session.session_key)}


def test_the_index_heals_itself(on_cluster):
    """Members whose session is gone or is someone else's now are pruned when read."""
    kept, gone, moved = new_session(ALICE), new_session(ALICE), new_session(ALICE)
    client = engine.connection()
    client.delete(engine.session_key_name(sha(gone.session_key)))  # no index update at all
    value = stored(moved.session_key).decode().replace(sha("alice"), sha("bob"))
    client.set(engine.session_key_name(sha(moved.session_key)), value, keepttl=True)
    assert len(index("alice")) == 3
    records = get_operator().for_user("alice")
    assert [r.id for r in records] == [sha(kept.session_key)]
    assert index("alice") == {sha(kept.session_key)}


def test_log_out_everywhere_reaches_every_shard(on_cluster):
    sessions = [new_session(ALICE) for _ in range(8)]
    other = new_session(BOB)
    ports = {
        on_cluster.primary_of(engine.session_key_name(sha(s.session_key))).port for s in sessions
    }
    assert len(ports) > 1
    assert get_operator().delete_for_user("alice") == 8
    assert all(stored(s.session_key) is None for s in sessions)
    assert index("alice") == set() and stored(other.session_key) is not None


def test_listing_scans_every_primary_without_keys(on_cluster):
    sessions = {sha(new_session({"n": n}).session_key) for n in range(12)}
    recorders = [Recorder(node.url) for node in on_cluster.primaries()]
    for recorder in recorders:
        recorder.__enter__()
    ids, cursor = [], None
    while True:
        page = get_operator().list(cursor=cursor, limit=3)
        ids += [record.id for record in page.records]
        cursor = page.cursor
        if cursor is None:
            break
    for recorder in recorders:
        recorder.__exit__(None, None, None)
    assert sorted(ids) == sorted(sessions)
    assert all("SCAN" in r.names() and "KEYS" not in r.names() for r in recorders)


def test_cluster_mode_is_detected(settings, on_cluster):
    settings.SESSION_REDIS = {**settings.SESSION_REDIS, "CLUSTER": "auto"}
    engine._clients.clear()
    session = new_session(ALICE)
    assert engine.is_cluster(engine.connection())
    assert SessionStore(session.session_key).load() == ALICE


def test_cluster_mode_is_not_assumed_on_one_node(settings, redis_url, db):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = {"URL": redis_url, "CLUSTER": "auto", "KEY_PREFIX": "tests:auto"}
    engine._clients.clear()
    session = new_session(ALICE)
    assert not engine.is_cluster(engine.connection())
    assert SessionStore(session.session_key).load() == ALICE


@pytest.mark.parametrize(
    "session_redis, errors",
    [
        ({"URL": "redis://127.0.0.1:7000/0", "CLUSTER": True}, []),
        ({"URL": "rediss://app:pass@cache.example.com:6379/0", "CLUSTER": "auto"}, []),
        ({"CACHE_ALIAS": "sessions", "CLUSTER": True}, ["session_engines.E212"]),
        ({"URL": "redis://127.0.0.1:7000/0", "CLUSTER": "yes"}, ["session_engines.E212"]),
        ({"URL": "redis://127.0.0.1:7000/0", "CLUSTER": 1}, ["session_engines.E212"]),
    ],
)
def test_cluster_setting_is_checked(settings, session_redis, errors):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = session_redis
    found = [e for e in run_checks() if e.id.startswith("session_engines.E2")]
    assert [e.id for e in found] == errors
    assert all(e.hint for e in found)


def test_simultaneous_saves_lose_nothing_on_a_cluster(on_cluster):
    race = lost_updates(SessionStore, writers=8, rounds=10)
    assert (race.sent, race.lost, race.errors) == (80, 0, 0)
    assert race.conflicts > 0  # they did collide on the compare-and-set, and were merged


def test_a_save_racing_a_delete_never_resurrects_on_a_cluster(on_cluster):
    assert resurrections(SessionStore, pairs=100) == 0


def test_an_unreachable_cluster_is_unavailable_not_empty(settings, db):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    settings.SESSION_REDIS = {"URL": "redis://127.0.0.1:9/0", "CLUSTER": True}
    engine._clients.clear()
    with pytest.raises(SessionStoreUnavailable):
        SessionStore("a" * 32).load()
