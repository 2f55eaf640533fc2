"""Redis down: a 503 with Retry-After within the timeout, never a logout; back: no restart."""

import json
import time

import pytest
from django.conf import settings as django_settings

from harness.redis import redis_node
from harness.servers import free_port
from tests.session_engines.helpers import assert_503, use_redis

REDIS_ENGINES = ["cache", "redis"]
ALICE = {"userId": "alice", "userNm": "Alice Kim"}
NOBODY = {"userId": None, "userNm": None}


def login(client, body=ALICE):
    return client.post("/login", json.dumps(body), content_type="application/json")


def timed(request):
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_unresponsive_redis_is_a_503_within_the_timeout_then_recovers(engine, client, settings):
    with redis_node() as node:
        use_redis(settings, node.url)
        assert login(client).status_code == 200
        with node.frozen():  # connections stay open, nothing answers
            response, elapsed = timed(lambda: client.get("/session"))  # the load path
            assert_503(response)
            # One timeout, not a 16 s hang (a margin for a busy machine).
            assert elapsed < django_settings.REDIS_TIMEOUT + 5
            response, elapsed = timed(lambda: login(client, {"userId": "bob", "userNm": "Bob"}))
            assert_503(response)
            assert elapsed < django_settings.REDIS_TIMEOUT + 5
        # Same process, same pool: the user is still logged in.
        assert client.get("/session").json() == ALICE


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_stopped_redis_is_a_503_and_a_restarted_one_answers_the_next_request(
    engine, client, settings
):
    port = free_port()
    with redis_node(port=port) as node:
        use_redis(settings, node.url)
        assert login(client).status_code == 200
    assert_503(client.get("/session"))  # refused: no logout, no new cookie
    with redis_node(port=port):
        # The pooled connection died with the old server; the first request replaces it.
        response = client.get("/session")
        assert response.status_code == 200
        assert response.json() == NOBODY  # that server kept nothing on disk
        assert login(client).status_code == 200
        assert client.get("/session").json() == ALICE


def test_djangos_own_cache_engine_would_log_the_user_out(settings, client, db):
    """Why session_engines.backends.cache exists: Django's load() swallows the outage."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    with redis_node() as node:
        use_redis(settings, node.url)
        login(client)
        with node.frozen():
            response = client.get("/session")
        assert response.status_code == 200
        assert response.json() == NOBODY


@pytest.mark.parametrize("engine", REDIS_ENGINES, indirect=True)
def test_a_re_login_redis_refuses_to_write_keeps_the_session(engine, client, settings):
    # maxmemory reached: Redis answers every write with OOM. The rotation writes the new key
    # before it deletes the old one, so the 503 leaves the old session whole.
    with redis_node() as node:
        use_redis(settings, node.url)
        assert login(client).status_code == 200
        node.client().config_set("maxmemory", 1)
        assert_503(login(client, {"userId": "alice", "userNm": "A."}))
        node.client().config_set("maxmemory", 0)
        assert client.get("/session").json() == ALICE
