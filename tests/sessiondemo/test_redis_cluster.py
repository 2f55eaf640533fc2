"""The demo on a Redis Cluster (REDIS_CLUSTER=1, as ElastiCache Serverless): the seed's API
per request in round trips, and failovers, a manual one and a killed primary: 503s while a
shard has no primary, then recovery, never a 500, never a logout.

The engine's own cluster tests: tests/session_engines/backends/test_redis_cluster.py.
"""

import json
import logging
import time
from functools import partial

import pytest
from django.conf import settings
from django.test import Client

from harness.redis import redis_cluster, wait_until
from session_engines.backends import redis as engine
from session_engines.ids import session_id
from tests.session_engines.helpers import until_acknowledged, use_redis_cluster


@pytest.fixture
def on_cluster(settings, redis_cluster, db):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    use_redis_cluster(settings, redis_cluster)
    return redis_cluster


def index(user_id):
    members = engine.connection().zrange(engine.user_index_name(user_id), 0, -1)
    return {m.decode() for m in members}


class RoundTrips:
    """The engine's round trips: each one pipeline, written to every node it reaches before
    any reply is read."""

    def __init__(self, monkeypatch):
        self.count = 0
        send = engine.pipelined

        def counted(commands, wait, client=None):
            self.count += 1
            return send(commands, wait, client)

        monkeypatch.setattr(engine, "pipelined", counted)

    def __call__(self, action):
        self.count = 0
        action()
        return self.count


def warm_up():
    """Each node learns the scripts, and the client its connections, outside the counts."""
    for n in range(12):
        session = engine.SessionStore()
        session.update({"userInfo": {"userId": f"warm{n}"}})
        session.save()
        session["n"] = n
        session.save()


def test_the_http_api_on_a_cluster(on_cluster, monkeypatch):
    """The seed's API, per request, as the README's cluster table shows it."""
    client = Client(headers={"X-Forwarded-Proto": "https"})

    def login(user_id):
        body = json.dumps({"userId": user_id, "userNm": user_id.title()})
        assert client.post("/login", body, content_type="application/json").status_code == 200

    login("warm")
    client.post("/logout")
    warm_up()
    round_trips = RoundTrips(monkeypatch)
    assert round_trips(lambda: login("alice")) == 1
    assert round_trips(lambda: client.get("/session")) == 1
    assert round_trips(lambda: login("alice")) == 3  # load, create, delete the old key
    assert round_trips(lambda: client.post("/logout")) == 1  # DEL, the user not read
    # Its index member stays until read: pruned then, as a session that is gone.
    from session_engines.operators import get_operator

    assert get_operator().for_user("alice") == [] and index("alice") == set()


def users_logged_in(n):
    clients = []
    for i in range(n):
        client = Client(headers={"X-Forwarded-Proto": "https"})
        body = json.dumps({"userId": f"user{i}", "userNm": f"User {i}"})
        # With WAIT_REPLICAS, acknowledged once a replica has it: a slow WAIT is retried.
        until_acknowledged(
            lambda c=client, b=body: c.post("/login", b, content_type="application/json")
        )
        clients.append(client)
    return clients


def session_key(client):
    """The Redis key of ``client``'s session."""
    return engine.session_key_name(session_id(client.cookies[settings.SESSION_COOKIE_NAME].value))


def served_until_recovered(clients, seconds=60):
    """Ask for every client's session until all answer 200: only 503s meanwhile."""
    started, statuses = time.monotonic(), set()
    while True:
        responses = [client.get("/session") for client in clients]
        statuses |= {r.status_code for r in responses}
        if all(r.status_code == 200 for r in responses):
            return statuses, time.monotonic() - started
        assert statuses <= {200, 503}, statuses  # never a 500
        assert time.monotonic() - started < seconds, "no recovery"
        time.sleep(0.1)


def test_a_manual_failover_keeps_every_session(on_cluster, settings):
    settings.SESSION_REDIS = {**settings.SESSION_REDIS, "WAIT_REPLICAS": 1, "WAIT_TIMEOUT_MS": 500}
    clients = users_logged_in(12)
    primary = on_cluster.primaries()[0]
    replica = on_cluster.replica_of(primary)
    replica.client().execute_command("CLUSTER", "FAILOVER")
    wait_until(lambda: on_cluster.replica_of(replica) is primary)
    statuses, _ = served_until_recovered(clients)
    for n, client in enumerate(clients):  # no logout: every session as written
        assert client.get("/session").json() == {"userId": f"user{n}", "userNm": f"User {n}"}
    # MOVED followed: writes reach the new primary (once its replica, the old one, counts).
    body = json.dumps({"name": "t", "value": "1"})
    until_acknowledged(lambda: client.post("/prefs", body, content_type="application/json"))
    on_cluster.wait_healthy()


def test_a_killed_primary_means_503s_then_recovery_and_no_logout(settings, db, caplog):
    """A primary dies (kill -9): its slots answer 503 until its replica is promoted."""
    with redis_cluster() as cluster:
        settings.SESSION_ENGINE = "session_engines.backends.redis"
        use_redis_cluster(settings, cluster, WAIT_REPLICAS=1, WAIT_TIMEOUT_MS=500)
        clients = users_logged_in(15)
        victim = cluster.primaries()[0]
        replica = cluster.replica_of(victim)
        victim.kill()
        with caplog.at_level(logging.ERROR, logger="session_engines"):
            statuses, took = served_until_recovered(clients)
        print(f"recovered after {took:.1f}s; statuses seen: {sorted(statuses)}")
        assert 503 in statuses  # the dead shard's sessions waited, they were not dropped
        wait_until(lambda: replica in cluster.primaries())
        for n, client in enumerate(clients):
            assert client.get("/session").json() == {"userId": f"user{n}", "userNm": f"User {n}"}
        # The promoted replica has no replica of its own: a write there is refused, not left
        # unreplicated; other shards still take writes.
        body = json.dumps({"name": "t", "value": "1"})
        on_promoted = 0
        for client in clients:
            write = partial(client.post, "/prefs", body, content_type="application/json")
            if cluster.primary_of(session_key(client)) is replica:
                on_promoted += 1
                assert write().status_code == 503
            else:  # acknowledged once a replica has it (a slow WAIT is retried)
                until_acknowledged(write)
        assert 0 < on_promoted < len(clients)
