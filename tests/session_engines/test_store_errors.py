"""Every error Redis answers with is a 503 JSON with Retry-After, on every engine that talks to
Redis: never a 500, never a silent new session (a logout).

Real servers (harness.redis_faults): a primary and its replica behind a TCP relay, each fault
provoked for real (maxmemory reached, a failed BGSAVE, a replica, min-replicas-to-write, a
script that loops, a frozen server, dropped connections) but CLUSTERDOWN, TRYAGAIN and LOADING,
which the relay answers itself. Each test takes one fault x engine x operation. CI runs one
operation per fault and engine (every fault, engine and operation appears);
``STORE_ERRORS=full`` (``make test-store-errors``) runs every combination.
"""

import contextlib
import os
import signal

import pytest

from harness.redis import wait_until
from harness.redis_faults import FAULTS, REFUSES, config_set, faults
from session_engines.backends import cache, redis
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.operators import get_operator

from .helpers import (
    NOBODY,
    assert_503,
    key_of,
    new_client,
    sign_in,
    use_redis_cluster,
    user_id,
    walk,
    with_cookie,
)

REDIS = "session_engines.backends.redis"
CACHE = "session_engines.backends.cache"
DJANGO_CACHE = "django.contrib.sessions.backends.cache"
DB = "session_engines.backends.db"
MIGRATE = "session_engines.backends.migrate"
R, W, D = "read", "write", "delete"

# name: (SESSION_ENGINE, SESSION_MIGRATE or None, the engine sessions are signed in on first).
ENGINES = {
    "redis": (REDIS, None, REDIS),  # through the sessions cache's pool (django-redis)
    "redis-url": (REDIS, None, REDIS),  # the engine's own client (SESSION_REDIS["URL"])
    "cache": (CACHE, None, CACHE),
    # Sessions still in the old store (Redis): every read moves one, and deletes it there.
    "migrate-from-cache": (MIGRATE, {"FROM": CACHE, "TO": DB}, CACHE),
    # From Django's own cache engine, whose load takes any error for "no session".
    "migrate-from-django-cache": (MIGRATE, {"FROM": DJANGO_CACHE, "TO": DB}, DJANGO_CACHE),
    "migrate-to-redis": (MIGRATE, {"FROM": DB, "TO": REDIS}, MIGRATE),
}

# What each operation asks of Redis, per engine: refused (503) when its fault refuses any.
OPERATIONS = ["load", "create", "update", "delete", "cycle_key"]
ASKS = {
    "redis": {"load": {R}, "create": {W}, "update": {R, W}, "delete": {R, D}, "cycle_key": {R, W}},
    "cache": {
        "load": {R},
        "create": {R, W},  # EXISTS for a fresh key, then SET NX
        "update": {R, W},
        "delete": {R, D},
        "cycle_key": {R, W, D},
    },
    "migrate-from-cache": {  # the move: GET, EXISTS and DEL in the old store
        "load": {R, D},
        "create": set(),  # a new session is the new store's only
        "update": {R, D},
        "delete": {R, D},
        "cycle_key": {R, D},
    },
}
ASKS["redis-url"] = ASKS["migrate-to-redis"] = ASKS["redis"]
ASKS["migrate-from-django-cache"] = ASKS["migrate-from-cache"]

FULL = os.environ.get("STORE_ERRORS") == "full"


def combinations(engines=tuple(ENGINES), operations=tuple(OPERATIONS)):
    """Every fault x engine x operation, or (CI) one operation per fault and engine, in turn."""
    for f, fault in enumerate(FAULTS):
        for e, engine in enumerate(engines):
            for o, operation in enumerate(operations):
                if FULL or o == (f + e) % len(operations):
                    yield pytest.param(fault, engine, operation, id=f"{fault}-{engine}-{operation}")


@pytest.fixture(scope="module")
def store():
    with faults() as running:
        yield running


@pytest.fixture
def use(store, settings):
    """``use(engine)``: its settings, on the faulty Redis, emptied."""

    def configure(name, phase="run"):
        backend, migrate, first = ENGINES[name]
        settings.SESSION_CACHE_ALIAS = "sessions"
        settings.CACHES = {
            **settings.CACHES,
            "sessions": {**settings.CACHES["sessions"], "LOCATION": store.url},
        }
        settings.SESSION_REDIS = {"CACHE_ALIAS": "sessions", "KEY_PREFIX": "tests:session"}
        if name == "redis-url":
            settings.SESSION_REDIS = {**settings.SESSION_REDIS, "URL": store.url}
        if migrate:
            settings.SESSION_MIGRATE = migrate
        settings.SESSION_ENGINE = first if phase == "setup" else backend

    store.client().flushall()
    return configure


def signed_in(use, engine):
    """A client signed in as alice on ``engine``'s first engine, then a new one with its cookie
    on the engine itself (a client keeps the middleware, and so the engine, it started with)."""
    use(engine, "setup")
    key = key_of(sign_in(new_client(), "alice"))
    use(engine)
    return key


def perform(operation, key):
    """Run ``operation`` over HTTP: the response, and the session key the client holds after."""
    if operation == "create":
        client = new_client()
        return client.post("/remember"), client
    client = with_cookie(key)
    if operation == "load":
        return client.get("/whoami"), client
    if operation == "update":
        return client.post("/remember"), client
    if operation == "delete":
        return client.post("/sign-out"), client
    return client.post("/sign-in", {"username": "alice"}), client  # login(): cycle_key()


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "engine", "operation"), list(combinations()))
def test_a_store_error_is_a_503_never_a_500_nor_a_new_session(store, use, fault, engine, operation):
    key = None if operation == "create" else signed_in(use, engine)
    use(engine)
    refused = bool(ASKS[engine][operation] & REFUSES[fault])
    with store.inject(fault):
        response, client = perform(operation, key)
        if refused:
            assert_503(response)
        else:
            assert response.status_code == 200, response.content
    if key is None:  # created: a session, or none at all
        assert bool(response.cookies) is not refused
        return
    # Once the store is back, the session is as the answer said: unchanged after a 503 (but a
    # frozen server's write, which may be applied once it wakes: README, "Failure semantics").
    alice = {"userId": user_id("alice")}
    late = fault == "timeout" and operation in ("delete", "cycle_key")
    after = with_cookie(key).get("/whoami").json()
    if refused:
        assert after == alice or (late and after == NOBODY)
    elif operation == "delete":
        assert after == NOBODY
    else:
        assert after == alice
        assert with_cookie(key_of(client)).get("/whoami").json() == alice


# --- The operators -----------------------------------------------------------------------------


def operate(operation, key):
    operator = get_operator()
    if operation == "list":  # every page (the migrate operator's: the new store's, the old's)
        return walk(operator, 50)[0]
    if operation == "get":
        return operator.get(session_id(key)).id
    return operator.delete(session_id(key))


OPERATOR_ASKS = {"list": {R}, "get": {R}, "delete": {D}}
OPERATOR_ENGINES = ["redis", "cache", "migrate-from-cache", "migrate-to-redis"]
OPERATOR_COMBINATIONS = list(combinations(OPERATOR_ENGINES, list(OPERATOR_ASKS)))


@pytest.mark.django_db
@pytest.mark.parametrize(("fault", "engine", "operation"), OPERATOR_COMBINATIONS)
def test_an_operator_raises_store_unavailable(store, use, fault, engine, operation):
    """The operators (sessions command, admin, /sessions) see SessionStoreUnavailable only."""
    key = signed_in(use, engine)
    refused = bool(OPERATOR_ASKS[operation] & REFUSES[fault])
    with store.inject(fault):
        if refused:
            with pytest.raises(SessionStoreUnavailable):
                operate(operation, key)
        else:
            assert operate(operation, key) in ([session_id(key)], session_id(key), True)


@pytest.mark.django_db
@pytest.mark.parametrize("fault", FAULTS)
def test_the_views_over_an_operator_answer_503(store, use, fault):
    """GET /sessions and POST /logout-everywhere on the Redis engine's per-user index."""
    client = with_cookie(signed_in(use, "redis"))
    with store.inject(fault):
        listed = client.get("/sessions")
        ended = client.post("/logout-everywhere", content_type="application/json")
    for response, asks in ((listed, {R}), (ended, {R, D})):
        if asks & REFUSES[fault]:
            assert_503(response)
        else:
            assert response.status_code == 200, response.content
    if asks & REFUSES[fault] and fault != "timeout":  # a frozen server's DEL may land later
        assert client.get("/whoami").json()["userId"] == user_id("alice")


def test_the_full_matrix_is_what_ci_samples():
    """CI's sample covers every fault, engine and operation (the full run, all of them)."""
    sample = [param.values for param in combinations()]
    assert {f for f, _, _ in sample} == set(FAULTS)
    assert {e for _, e, _ in sample} == set(ENGINES)
    assert {o for _, _, o in sample} == set(OPERATIONS)


# --- A write answered 503 may still be applied; its retry is safe ------------------------------


def stored(store, key):
    """The native Redis engine's stored value of session ``key`` (None: no such session)."""
    return store.client().get(f"tests:session:{session_id(key)}")


@contextlib.contextmanager
def frozen_at(store, monkeypatch, owner, name):
    """Redis frozen (SIGSTOP) as ``owner.name`` starts to write, after the request's reads;
    woken (SIGCONT) after the block: the write reached the server, its answer comes too late."""
    write = getattr(owner, name)
    for source in redis.SOURCES.values():  # (an EVALSHA the server lacked would not land)
        store.client().script_load(source)

    def freezing(self, *args, **kwargs):
        store.primary.process.send_signal(signal.SIGSTOP)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, freezing)
    try:
        yield
    finally:
        monkeypatch.setattr(owner, name, write)
        store.primary.process.send_signal(signal.SIGCONT)


@pytest.mark.django_db
def test_an_update_answered_503_lands_once_redis_wakes_and_its_retry_is_safe(
    store, use, monkeypatch
):
    key = signed_in(use, "redis")
    client = with_cookie(key)
    assert stored(store, key).startswith(b"1|")
    with frozen_at(store, monkeypatch, redis.SessionStore, "_update_record"):
        assert_503(client.post("/remember"))
    wait_until(lambda: stored(store, key).startswith(b"2|"))  # applied after all
    assert client.post("/remember").status_code == 200  # the retry: a compare-and-set on 2
    assert stored(store, key).startswith(b"3|")
    assert client.get("/whoami").json() == {"userId": user_id("alice")}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("engine", "owner", "name"),
    [("redis", redis.SessionStore, "_delete_record"), ("cache", cache.SessionStore, "delete")],
)
def test_a_logout_answered_503_lands_once_redis_wakes_and_its_retry_is_safe(
    store, use, monkeypatch, engine, owner, name
):
    key = signed_in(use, engine)
    client = with_cookie(key)
    with frozen_at(store, monkeypatch, owner, name):
        assert_503(client.post("/sign-out"))
    wait_until(lambda: client.get("/whoami").json() == NOBODY)  # the DEL landed
    assert client.post("/sign-out").status_code == 200  # the retry: nothing to undo
    assert client.get("/whoami").json() == NOBODY
    assert store.client().dbsize() == 0  # nothing left behind, nothing resurrected


# --- A Redis Cluster's primaries refusing writes -------------------------------------------------

# Set on every primary: a fault the whole cluster shows (3 primaries, 1 replica each).
CLUSTER_FAULTS = {
    "oom": {"maxmemory": "1", "maxmemory-policy": "noeviction"},
    "noreplicas": {"min-replicas-to-write": "2"},
}


@contextlib.contextmanager
def on_every_primary(cluster, values):
    clients = [node.client() for node in cluster.primaries()]
    olds = [{name: client.config_get(name)[name] for name in values} for client in clients]
    for client in clients:
        config_set(client, values)
    try:
        yield
    finally:
        for client, old in zip(clients, olds, strict=True):
            config_set(client, old)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("fault", CLUSTER_FAULTS)
def test_a_cluster_refusing_writes_is_a_503(redis_cluster, settings, fault, operation):
    settings.SESSION_ENGINE = REDIS
    use_redis_cluster(settings, redis_cluster)
    key = None if operation == "create" else key_of(sign_in(new_client(), "alice"))
    refused = bool(ASKS["redis"][operation] & REFUSES[fault])
    with on_every_primary(redis_cluster, CLUSTER_FAULTS[fault]):
        response, client = perform(operation, key)
    if refused:
        assert_503(response)
    else:
        assert response.status_code == 200, response.content
    if key is not None:  # the session as the answer said
        after = with_cookie(key).get("/whoami").json()
        gone = operation == "delete" and not refused
        assert after == (NOBODY if gone else {"userId": user_id("alice")})
