"""Failover, with real servers: Sentinel promoting a replica (ElastiCache Multi-AZ), and a
primary endpoint that moves (ElastiCache's DNS name) while pooled connections stay behind."""

import importlib.util
import json
import logging
import time
from pathlib import Path

import pytest
import redis
from django.test import Client
from django_redis.pool import ConnectionFactory

import sessiondemo.settings.base
from harness.redis import (
    SERVICE,
    primary_endpoint,
    redis_node,
    replicate,
    sentinel_group,
    wait_until,
)
from tests.session_engines.helpers import until_acknowledged, use_redis

REDIS_ENGINES = ["cache", "redis"]
ALICE = {"userId": "alice", "userNm": "Alice Kim"}
BOB = {"userId": "bob", "userNm": "Bob"}


def base_settings(monkeypatch, **env):
    """A fresh evaluation of settings/base.py under these environment variables."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(
        "base_probe", Path(sessiondemo.settings.base.__file__)
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def fresh_pools():
    """django-redis keeps pools per URL for the process; these tests reuse URLs on new servers."""
    ConnectionFactory._pools.clear()
    yield
    for pool in ConnectionFactory._pools.values():
        pool.disconnect()
    ConnectionFactory._pools.clear()


def new_client():
    return Client(headers={"X-Forwarded-Proto": "https"})


def login(client, body=ALICE):
    return client.post("/login", json.dumps(body), content_type="application/json")


def caught_up(primary, replica):
    offset = primary.client().info("replication")["master_repl_offset"]
    wait_until(lambda: replica.client().info("replication")["master_repl_offset"] >= offset)


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_sentinel_failover_recovers_on_the_promoted_replica(engine, settings, monkeypatch, caplog):
    with sentinel_group() as group:
        sentinels = ",".join(f"{host}:{port}" for host, port in group.sentinels)
        probe = base_settings(
            monkeypatch, REDIS_URL=f"redis://{SERVICE}/0", REDIS_SENTINELS=sentinels
        )
        settings.CACHES = {**settings.CACHES, "sessions": probe.CACHES["sessions"]}
        users = [{"userId": f"user{n}", "userNm": f"User {n}"} for n in range(5)]
        clients = [new_client() for _ in users]
        if engine == "redis":
            # Acknowledged only once a replica has it: the primary may die right after.
            settings.SESSION_REDIS = {
                **settings.SESSION_REDIS,
                "WAIT_REPLICAS": 1,
                "WAIT_TIMEOUT_MS": 300,
            }
        for client, user in zip(clients, users, strict=True):
            # Acknowledged once the replica has it; a busy machine may outlast one WAIT: retried.
            until_acknowledged(lambda c=client, u=user: login(c, u))
        if engine == "cache":
            caught_up(group.primary, group.replica)  # the cache-backed engine cannot WAIT

        group.primary.kill()
        killed, promoted = time.monotonic(), None
        while True:
            response = clients[0].get("/session")
            now = time.monotonic()
            if promoted is None and group.current_primary_port() == group.replica.port:
                promoted = now
            if response.status_code == 200:
                break
            assert response.status_code == 503, response.content  # never a 500, never a logout
            assert now - killed < 60, "no recovery 60 s after the primary died"
            time.sleep(0.1)
        recovered = time.monotonic()
        promoted = promoted or recovered
        # A figure, not a test: how long the 503s lasted depends on the machine.
        print(f"promoted after {promoted - killed:.1f}s, recovered after {recovered - killed:.1f}s")
        # Every acknowledged session survived.
        for client, user in zip(clients, users, strict=True):
            assert client.get("/session").json() == user
        if engine == "redis":
            # No replica left to acknowledge a write: refused, not silently left unreplicated...
            with caplog.at_level(logging.ERROR, logger="session_engines"):
                assert login(clients[0], BOB).status_code == 503
            assert "reached 0 of 1 replicas" in caplog.text
            # ...until a replacement node joins (ElastiCache replaces the failed one).
            with redis_node("--replicaof", "127.0.0.1", str(group.replica.port)):
                # Once it has synced, WAIT counts it and logins are acknowledged again (a full
                # sync on a busy machine can outlast the first tries: wait for the condition).
                until_acknowledged(lambda: login(clients[0], BOB))
        else:
            assert login(clients[0], BOB).status_code == 200
        assert clients[0].get("/session").json() == BOB


def endpoint_ports(url):
    """Which nodes new connections to the endpoint reach (it balances across healthy ones)."""
    ports = set()
    for _ in range(4):
        with redis.Redis.from_url(url, socket_timeout=1) as client:
            ports.add(client.info("server")["tcp_port"])
    return ports


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_readonly_after_a_failover_reconnects_to_the_new_primary(engine, client, settings):
    with redis_node() as a, redis_node() as b:
        replicate(b, a)
        with primary_endpoint(a, b) as url:
            wait_until(lambda: endpoint_ports(url) == {a.port})
            use_redis(settings, url)
            assert login(client).status_code == 200
            caught_up(a, b)
            # Failover: b is promoted, a becomes its replica; the endpoint follows the primary,
            # but the app's pooled connection still goes to a.
            b.client().replicaof("no", "one")
            replicate(a, b)
            wait_until(lambda: endpoint_ports(url) == {b.port})
            with pytest.raises(redis.exceptions.ReadOnlyError):
                # What the pooled connection would answer forever without a reconnect.
                redis.Redis(port=a.port).set("probe", "1")
            response = login(client, BOB)  # its first write meets READONLY, reconnects, succeeds
            assert response.status_code == 200, response.content
            assert client.get("/session").json() == BOB
            assert b.client().dbsize() > 0
