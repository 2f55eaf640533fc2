"""session_engines.signals on each engine: what they say, from which sender, by id never by key."""

import threading

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client
from django.utils.module_loading import import_string

from harness.race import lost_updates
from harness.servers import free_port
from session_engines import signals
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.operators import get_operator
from session_engines.policy import enforcing

from .helpers import ENGINES, Migration, engines, use_redis
from .signin import JSON, Clock, cookie, make_user, sign_in_as, use_auth_site, whoami_of

FOUR = engines(["db", "cache", "redis", "dynamodb"])  # one per store
CONDITIONAL = engines(["db", "redis", "dynamodb"])  # compare-and-set saves: conflicts
INDEXED = engines(["db", "redis", "dynamodb"])  # a per-user index: revoke a user
LIFECYCLE = ("session_created", "session_rotated", "session_ended", "write_conflict")
ALL = (*LIFECYCLE, "store_unavailable", "store_operation", "near_cache_hit", "near_cache_miss")


class Heard(list):
    """Every signal sent while the fixture runs: (name, sender, arguments)."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.receivers = {}
        for name in ALL:
            self.receivers[name] = self.receiver(name)
            getattr(signals, name).connect(self.receivers[name])

    def receiver(self, name):
        def receive(sender, signal, **arguments):
            with self.lock:
                self.append((name, sender, arguments))

        return receive

    def close(self):
        for name, receiver in self.receivers.items():
            getattr(signals, name).disconnect(receiver)

    def of(self, *names):
        return [(name, arguments) for name, _, arguments in self if name in names]

    def lifecycle(self):
        return self.of(*LIFECYCLE)

    def operations(self):
        return [(a["operation"], a["found"]) for _, a in self.of("store_operation")]


@pytest.fixture
def heard():
    listening = Heard()
    yield listening
    listening.close()


def store_class(settings):
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


@FOUR
def test_a_session_s_life_is_signalled_by_its_id_from_the_engine(engine, settings, heard):
    Store = store_class(settings)
    session = Store()
    session["a"] = 1
    session.save()
    first = session.session_key
    loaded = Store(first)
    loaded["b"] = 2
    loaded.save()
    loaded.cycle_key()  # a sign-in
    loaded.save()
    second = loaded.session_key
    Store("x" * 32).load()  # no such session: a miss
    loaded.flush()  # a sign-out

    assert heard.lifecycle() == [
        ("session_created", {"session_id": session_id(first)}),
        (
            "session_rotated",
            {"old_session_id": session_id(first), "session_id": session_id(second)},
        ),
        ("session_ended", {"session_id": session_id(second), "reason": "logout", "count": 1}),
    ]
    operations = heard.operations()
    assert ("read", True) in operations and ("read", False) in operations
    assert {"create", "update", "delete"} <= {name for name, _ in operations}
    assert all(a["duration"] >= 0 for _, a in heard.of("store_operation"))
    assert {sender for _, sender, _ in heard} == {Store}  # the engine's class, never a subclass
    assert first not in repr(list(heard)) and second not in repr(list(heard))


@FOUR
def test_the_policy_s_class_and_a_subclass_send_as_their_engine(engine, settings, heard):
    Store = store_class(settings)
    session = type("Mine", (enforcing(Store),), {})()
    session["a"] = 1
    session.save()
    assert signals.engine_of(type(session)) is Store
    assert heard[-1][1] is Store


@FOUR
def test_a_policy_expiry_is_ended_expired_and_a_sign_out_logout(
    engine, settings, heard, db, monkeypatch
):
    use_auth_site(settings)
    clock = Clock(monkeypatch)
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 600}
    make_user("alice")
    idle, leaving = sign_in_as("alice"), sign_in_as("alice")
    idle_id, leaving_id = session_id(cookie(idle)), session_id(cookie(leaving))
    leaving.post("/sign-out", content_type=JSON)
    clock.advance(600)
    assert whoami_of(idle) is None
    ended = [a for _, a in heard.of("session_ended")]
    assert {"session_id": leaving_id, "reason": "logout", "count": 1} in ended
    assert {"session_id": idle_id, "reason": "expired", "count": 1} in ended
    # A sign-in with no session yet creates one (login's cycle_key on nothing): no rotation.
    created = [a["session_id"] for _, a in heard.of("session_created")]
    assert idle_id in created and leaving_id in created


@CONDITIONAL
def test_a_conflicting_save_signals_each_retry(engine, settings, heard):
    Store = store_class(settings)
    session = Store()
    session["n"] = 0
    session.save()
    first, second = Store(session.session_key), Store(session.session_key)
    first["a"], second["b"] = 1, 2
    first.load(), second.load()
    first.save()
    second.save()  # the version moved: re-read, re-applied, written
    assert heard.of("write_conflict") == [
        ("write_conflict", {"session_id": session_id(session.session_key), "attempt": 1})
    ]
    assert Store(session.session_key).load() == {"n": 0, "a": 1, "b": 2}


@engines(["redis", "dynamodb"])
def test_conflicts_under_real_threads_are_each_signalled(engine, settings, heard):
    race = lost_updates(store_class(settings), writers=8, rounds=5)
    assert (race.lost, race.errors) == (0, 0)
    assert race.conflicts > 0
    assert len(heard.of("write_conflict")) == race.conflicts
    attempts = [a["attempt"] for _, a in heard.of("write_conflict")]
    assert min(attempts) == 1


@CONDITIONAL
def test_a_save_after_a_delete_is_no_conflict(engine, settings, heard):
    Store = store_class(settings)
    session = Store()
    session["a"] = 1
    session.save()
    loaded = Store(session.session_key)
    loaded["b"] = 2
    loaded.load()
    Store().delete(session.session_key)
    with pytest.raises(UpdateError):
        loaded.save()
    assert heard.of("write_conflict") == []


@INDEXED
def test_revokes_by_operator_and_by_the_session_limit_are_ended_revoked(
    engine, settings, heard, db
):
    use_auth_site(settings)
    alice = make_user("alice")
    one = sign_in_as("alice")
    settings.SESSION_POLICY = {"MAX_SESSIONS_PER_USER": 1}
    two = sign_in_as("alice")  # ends one in the write that creates two
    settings.SESSION_POLICY = {}
    three = sign_in_as("alice")
    assert get_operator().delete(session_id(cookie(three)))
    sign_in_as("alice")
    ended = get_operator().delete_for_user(str(alice.pk))  # two and the fourth
    revoked = [a for _, a in heard.of("session_ended") if a["reason"] == "revoked"]
    assert revoked == [
        {"session_id": session_id(cookie(one)), "reason": "revoked", "count": 1},
        {"session_id": session_id(cookie(three)), "reason": "revoked", "count": 1},
        {"session_id": None, "reason": "revoked", "count": ended},
    ]
    assert ended == 2 and whoami_of(two) is None


@engines(["cache"])
def test_the_cache_engine_s_revoke_is_ended_revoked(engine, settings, heard):
    session = store_class(settings)()
    session["a"] = 1
    session.save()
    assert get_operator().delete(session_id(session.session_key))
    assert not get_operator().delete(session_id(session.session_key))  # gone: nothing ended
    assert heard.of("session_ended") == [
        (
            "session_ended",
            {"session_id": session_id(session.session_key), "reason": "revoked", "count": 1},
        )
    ]


@pytest.fixture(
    params=[
        "session_engines.backends.cache",
        "session_engines.backends.redis",
        "session_engines.backends.dynamodb",
    ]
)
def store_down(request, settings, db, fake_credentials):
    """An engine whose store refuses connections: nothing listens on its port."""
    settings.SESSION_ENGINE = request.param
    settings.SESSION_CACHE_ALIAS = "sessions"
    url = f"127.0.0.1:{free_port()}"
    use_redis(settings, f"redis://{url}/0")
    settings.SESSION_DYNAMODB = {"REGION_NAME": "us-east-1", "ENDPOINT_URL": f"http://{url}"}
    from session_engines.backends import dynamodb

    dynamodb._clients.clear()
    yield import_string(f"{request.param}.SessionStore")
    dynamodb._clients.clear()


def test_an_outage_is_signalled_once_per_503_with_its_operation(store_down, heard):
    client = Client()
    client.cookies["sessionid"] = "a" * 32
    assert client.get("/whoami").status_code == 503
    assert Client().post("/remember").status_code == 503  # no cookie: a new session
    unavailable = heard.of("store_unavailable")
    assert [a["operation"] for _, a in unavailable] == ["read", "create"]
    assert all(isinstance(a["exception"], SessionStoreUnavailable) for _, a in unavailable)
    assert {sender for name, sender, _ in heard if name == "store_unavailable"} == {store_down}
    assert ("read", None) in heard.operations()  # the failed read is timed too


def test_an_outage_is_named_by_its_operation_when_nobody_times_operations(store_down):
    # No store_operation receiver: the engines skip the clock, and still name the operation.
    heard = []
    receiver = lambda sender, operation, **kwargs: heard.append(operation)  # noqa: E731
    signals.store_unavailable.connect(receiver)
    try:
        assert not signals.store_operation.receivers
        client = Client()
        client.cookies["sessionid"] = "a" * 32
        assert client.get("/whoami").status_code == 503
        assert Client().post("/remember").status_code == 503
    finally:
        signals.store_unavailable.disconnect(receiver)
    assert heard == ["read", "create"]


@pytest.mark.parametrize("timed", [False, True], ids=["untimed", "timed"])
def test_an_outage_in_nested_operations_is_named_by_the_outermost(timed):
    receiver = lambda **kwargs: None  # noqa: E731
    if timed:
        signals.store_operation.connect(receiver)
    try:
        with pytest.raises(SessionStoreUnavailable) as raised:
            with signals.operation(object(), "update"), signals.operation(object(), "read"):
                raise SessionStoreUnavailable("down")
    finally:
        signals.store_operation.disconnect(receiver)
    assert raised.value.operation == "update"


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["db", "cache", "redis"])  # ours: they signal too
def test_the_migrating_engine_signals_each_event_once(source, settings, heard, request):
    migration = Migration(source, request, settings)
    Old = import_string(f"{migration.old_engine}.SessionStore")
    old = Old()
    old["a"] = 1
    old.save()
    migration.switch()
    heard.clear()
    Store = store_class(settings)
    moved = Store(old.session_key)
    assert moved.load() == {"a": 1}  # moved: created in the new store, deleted from the old
    moved.flush()
    assert heard.lifecycle() == [
        (
            "session_ended",
            {"session_id": session_id(old.session_key), "reason": "logout", "count": 1},
        )
    ]
    assert heard.operations() == [("read", True), ("delete", None)]
    assert {sender for _, sender, _ in heard} == {Store}


@FOUR
def test_quiet_silences_every_signal(engine, settings, heard):
    with signals.quiet():
        session = store_class(settings)()
        session["a"] = 1
        session.save()
        session.flush()
    assert heard == []


def test_no_receiver_costs_no_send(monkeypatch):
    class Store:
        pass

    def fail(*args, **kwargs):
        raise AssertionError("sent with no receiver")

    monkeypatch.setattr(signals.near_cache_hit, "send", fail)
    signals.send(signals.near_cache_hit, Store, session_id="0" * 64)


def test_near_cache_signals_carry_the_session_id(heard):
    class Store:
        pass

    signals.send(signals.near_cache_hit, Store, session_id="0" * 64)
    signals.send(signals.near_cache_miss, Store(), session_id="1" * 64)
    assert heard.of("near_cache_hit", "near_cache_miss") == [
        ("near_cache_hit", {"session_id": "0" * 64}),
        ("near_cache_miss", {"session_id": "1" * 64}),
    ]


@engines(["db", "dynamodb"])
def test_clearsessions_signals_how_many_expired_sessions_it_deleted(engine, settings, heard):
    Store = store_class(settings)
    keys = []
    for _ in range(3):
        session = Store()
        session["a"] = 1
        session.save()
        keys.append(session.session_key)
    for key in keys[:2]:
        ENGINES[engine].store.expire(key)
    heard.clear()
    Store.clear_expired()
    assert heard.lifecycle() == [
        ("session_ended", {"session_id": None, "reason": "expired", "count": 2})
    ]
    Store.clear_expired()  # nothing left to sweep: nothing said
    assert len(heard.lifecycle()) == 1


@INDEXED
def test_ending_one_s_own_sessions_is_signalled_once(engine, settings, heard, db):
    use_auth_site(settings)
    make_user("alice")
    phone, laptop = sign_in_as("alice"), sign_in_as("alice")
    phone_id = session_id(cookie(phone))
    heard.clear()
    assert phone.post(f"/sessions/{phone_id}/end", content_type=JSON).status_code == 200
    assert laptop.post("/logout-everywhere", content_type=JSON).status_code == 200
    assert heard.of("session_ended") == [
        ("session_ended", {"session_id": phone_id, "reason": "revoked", "count": 1}),
        ("session_ended", {"session_id": None, "reason": "revoked", "count": 1}),
    ]
