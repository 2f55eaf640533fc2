"""Round trips to Redis per request of the seed's API, counted by the server (MONITOR): the
README's table. Per store operation: tests/session_engines/backends/test_redis.py."""

import json

import pytest

from harness.redis import Recorder

REDIS_ENGINES = ["cache", "redis"]
ALICE = {"userId": "alice", "userNm": "Alice Kim"}


def recorded(url, action):
    with Recorder(url) as seen:
        action()
    return seen


def login(client, body=ALICE):
    return client.post("/login", json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_http_round_trips(engine, client, redis_url):
    """The seed's API, per request: what the README's table shows."""
    # Warm up every script the measured requests run (a first EVALSHA would be an EVAL).
    login(client, {"userId": "warm", "userNm": "Up"})
    login(client, {"userId": "warm", "userNm": "Up"})
    client.post("/logout")
    first_login = recorded(redis_url, lambda: login(client)).names()
    read = recorded(redis_url, lambda: client.get("/session")).names()
    relogin = recorded(redis_url, lambda: login(client)).names()
    logout = recorded(redis_url, lambda: client.post("/logout")).names()
    if engine == "cache":
        assert first_login == ["EXISTS", "SET", "SET"]
        assert read == ["GET"]
        assert relogin == ["GET", "EXISTS", "SET", "DEL", "SET"]
        assert logout == ["DEL"]
    else:
        # The seed's UserInfo names no user (the demo's user is django.contrib.auth's), so a
        # new session is one SET. cycle_key() writes nothing; the save creates the new key and
        # deletes the old one in one EVALSHA.
        assert first_login == ["SET"]
        assert read == ["GET"]
        assert relogin == ["GET", "EVALSHA"]
        assert logout == ["EVALSHA"]
