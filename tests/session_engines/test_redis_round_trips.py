"""Round trips to Redis, counted by the server itself (MONITOR): what each engine pays."""

import json
from importlib import import_module

import pytest
from django.conf import settings

from harness.redis import Recorder
from tests.conftest import use_redis

REDIS_ENGINES = ["cache", "redis"]
ALICE = {"userId": "alice", "userNm": "Alice Kim"}


def store_class():
    return import_module(settings.SESSION_ENGINE).SessionStore


def new_session(data):
    session = store_class()()
    session.update(data)
    session.save()
    return session


def recorded(url, action):
    with Recorder(url) as seen:
        action()
    return seen


def login(client, body=ALICE):
    return client.post("/login", json.dumps(body), content_type="application/json")


# Store operations. The cache-backed engine's are Django's but the update (SET XX, no GET
# before it): EXISTS before creating. The native engine's are one command each.
STORE_COUNTS = {
    "cache": {
        "create": ["EXISTS", "SET"],
        "load": ["GET"],
        "modify": ["GET", "SET"],
        "delete": ["DEL"],
    },
    "redis": {
        "create": ["SET"],
        "load": ["GET"],
        "modify": ["GET", "EVALSHA"],  # the compare-and-set on the version
        "delete": ["DEL"],
    },
}


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_store_round_trips(engine, redis_url):
    expected = STORE_COUNTS[engine]
    warm = new_session({"warm": "up"})  # the pool's connection is set up outside the counts,
    warm["up"] = True
    warm.save()  # and the server has learnt the update script
    sessions = []
    created = recorded(redis_url, lambda: sessions.append(new_session({"a": 1})))
    key = sessions[0].session_key
    assert created.names() == expected["create"]
    assert recorded(redis_url, lambda: store_class()(key).load()).names() == expected["load"]

    def modify():
        session = store_class()(key)
        session["b"] = 2
        session.save()

    assert recorded(redis_url, modify).names() == expected["modify"]

    def delete():
        session = store_class()(key)
        session.load()
        session.delete()

    assert recorded(redis_url, delete).names()[-1:] == expected["delete"]


def test_native_writes_are_conditional_and_expire(settings, redis_url):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    use_redis(settings, redis_url)
    session = new_session({"warm": "up"})
    created = recorded(redis_url, lambda: new_session({"a": 1}))
    ttl = str(settings.SESSION_COOKIE_AGE)
    assert created.commands[0].endswith(f"NX EX {ttl}")

    def modify():
        session["b"] = 2
        session.save()

    modify()  # the server learns the script (EVALSHA, then EVAL once)
    seen = recorded(redis_url, modify)
    assert seen.names() == ["EVALSHA"]  # the script compares the version, then SET ... XX
    (update,) = [command for command in seen.script_commands if command.startswith("SET ")]
    assert update.endswith(f"XX EX {ttl}")


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_http_round_trips(engine, client, redis_url):
    """The seed's API, per request: what the README's table shows."""
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
        # A session with a user writes through one EVALSHA: the SET and the user index.
        # cycle_key() writes nothing; the save creates the new key and deletes the old one.
        assert first_login == ["EVALSHA"]
        assert read == ["GET"]
        assert relogin == ["GET", "EVALSHA"]
        assert logout == ["EVALSHA"]
