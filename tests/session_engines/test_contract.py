"""The session-store contract, on every engine (helpers.ENGINES), in sync and async flavours.

First Django's own (what django/tests/sessions_tests' SessionTestsMixin asks of every engine),
then ours: nothing is written on load, nothing deleted is resurrected, the raw key is never at
rest, expiry and corruption are checked on read. ``SessionStore`` is the ``session_engine``
fixture: the engine's class, with ``.store`` (the store at rest) and ``.engine`` (its line).
"""

import base64
import logging
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.signing import TimestampSigner
from django.test import override_settings
from django.utils import timezone

from session_engines.ids import session_id


@pytest.fixture(params=["sync", "async"])
def run(request):
    """Call a session method as is, or (async) its ``a``-named twin through async_to_sync."""
    if request.param == "sync":
        return lambda method, *args, **kwargs: method(*args, **kwargs)

    def run_async(method, *args, **kwargs):
        return async_to_sync(getattr(method.__self__, f"a{method.__name__}"))(*args, **kwargs)

    return run_async


@pytest.fixture
def SessionStore(session_engine):
    return session_engine


def saved(SessionStore, run=None, **data):
    session = SessionStore()
    session.update(data or {"a": 1})
    (run or (lambda method: method()))(session.save)
    return session


# --- Django's contract -------------------------------------------------------------------------


def test_a_new_session_is_untouched_and_behaves_as_a_dict(SessionStore, run):
    session = SessionStore()
    assert (session.modified, session.accessed) == (False, False)
    assert run(session.get, "cat") is None
    assert run(session.pop, "cat", "no cat") == "no cat"
    assert (session.modified, session.accessed) == (False, True)
    with pytest.raises(KeyError):
        run(session.pop, "cat")
    assert run(session.setdefault, "cat", "dog") == "dog"
    assert run(session.setdefault, "cat", "fish") == "dog"
    assert session.modified
    run(session.update, {"x": 1})
    session.modified = session.accessed = False
    assert run(session.has_key, "x") is True
    assert list(run(session.keys)) == ["cat", "x"]
    assert list(run(session.values)) == ["dog", 1]
    assert list(run(session.items)) == [("cat", "dog"), ("x", 1)]
    assert (session.modified, session.accessed) == (False, True)
    assert run(session.pop, "x") == 1
    assert session.modified
    session.clear()
    assert list(session.items()) == []


def test_a_saved_session_exists_and_loads_elsewhere(SessionStore, run):
    session = SessionStore()
    run(session.update, {"a": 1, "nested": {"b": [1, 2]}})
    run(session.save)
    assert run(session.get, "a") == 1  # saving keeps the data
    assert run(SessionStore().exists, session.session_key) is True
    assert run(SessionStore(session.session_key).load) == {"a": 1, "nested": {"b": [1, 2]}}


def test_delete(SessionStore, run):
    session = saved(SessionStore, run)
    run(session.delete, session.session_key)
    assert run(session.exists, session.session_key) is False
    run(SessionStore().delete, "neverexisted12345678901234567890")  # no error


def test_flush_ends_the_session_and_forgets_its_key(SessionStore, run):
    session = saved(SessionStore, run, foo="bar")
    previous = session.session_key
    run(session.flush)
    assert run(session.exists, previous) is False
    assert session.session_key is None
    assert (session.modified, session.accessed) == (True, True)


@pytest.mark.parametrize("loaded", [True, False], ids=["loaded", "not-loaded"])
def test_cycle_key_keeps_the_data_under_a_new_key(SessionStore, run, loaded):
    session = saved(SessionStore, run, a="c", b="d")
    previous = session.session_key
    if not loaded:
        session = SessionStore(previous)
    run(session.cycle_key)
    assert session.session_key != previous
    # Ours write the new key before they delete the old one, both at the save: a rotation the
    # store refuses leaves the old session whole. Django's engines delete the old key at once.
    assert run(session.exists, previous) is SessionStore.engine.compare_and_set
    assert sorted(run(session.items)) == [("a", "c"), ("b", "d")]
    run(session.save)
    assert run(SessionStore(session.session_key).load) == {"a": "c", "b": "d"}
    assert run(SessionStore(previous).load) == {}


def test_an_invalid_key_gets_a_new_one_on_save(SessionStore, run):
    session = SessionStore("1")
    run(session.save)
    assert session.session_key not in (None, "1")
    assert run(session.get, "cat") is None


def test_session_keys_are_validated_and_read_only(SessionStore):
    session = SessionStore()
    for short in ("", "1234567"):
        session._session_key = short
        assert session.session_key is None
    session._session_key = "12345678"
    assert session.session_key == "12345678"
    with pytest.raises(AttributeError):
        session.session_key = "abcdefghijkl"


def test_custom_expiry(SessionStore, run, monkeypatch):
    session = SessionStore()
    assert run(session.get_expiry_age) == settings.SESSION_COOKIE_AGE
    run(session.set_expiry, 0)  # at browser close: the age stays the cookie's
    assert run(session.get_expiry_age) == settings.SESSION_COOKIE_AGE
    modification = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: modification)  # set_expiry(timedelta) reads it
    for expiry in (10, timedelta(seconds=10), modification + timedelta(seconds=10)):
        run(session.set_expiry, expiry)
        date = run(session.get_expiry_date, modification=modification)
        assert date == modification + timedelta(seconds=10)
        assert run(session.get_expiry_age, modification=modification) == 10
    run(session.set_expiry, None)
    assert run(session.get_expiry_age) == settings.SESSION_COOKIE_AGE


def test_the_age_of_a_session_with_no_expiry_of_its_own_reads_no_clock(SessionStore, monkeypatch):
    session = SessionStore()
    session["a"] = 1
    monkeypatch.setattr(timezone, "now", lambda: pytest.fail("read the clock"))
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE  # at every save, twice
    session.set_expiry(30)
    assert session.get_expiry_age() == 30


@pytest.mark.parametrize("at_browser_close", [False, True])
def test_expire_at_browser_close(SessionStore, run, at_browser_close):
    session = SessionStore()
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=at_browser_close):
        for expiry, expected in ((10, False), (0, True), (None, at_browser_close)):
            run(session.set_expiry, expiry)
            assert run(session.get_expire_at_browser_close) is expected


def test_decode_round_trips_and_logs_failures(SessionStore, caplog):
    session = SessionStore()
    data = {"a test key": "a test value"}
    assert session.decode(session.encode(data)) == data
    for bad in (base64.b64encode(b"flaskdj:alkdjf").decode(), "bad:encoded:value"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
            assert session.decode(bad) == {}
        assert "Session data corrupted" in caplog.text
    signed_garbage = TimestampSigner(salt=session.key_salt).sign(b"invalid data")
    assert session.decode(signed_garbage) == {}


def test_an_expiry_in_the_past_ends_the_session_at_once(SessionStore, run):
    session = SessionStore()
    run(session.update, {"foo": "bar"})
    run(session.set_expiry, -timedelta(seconds=10))
    run(session.save)
    assert run(SessionStore(session.session_key).has_key, "foo") is False


# --- Ours: conditional writes ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["unknown", "expired"])
def test_loading_an_unknown_or_expired_key_is_empty_and_writes_nothing(SessionStore, run, key):
    session_key = "someunknownkey0123456789abcdefgh"
    if key == "expired":
        session_key = saved(SessionStore).session_key
        SessionStore.store.expire(session_key)
    at_rest = SessionStore.store.dump()
    session = SessionStore(session_key)
    assert run(session.load) == {}
    assert session.session_key is None  # the client's key is not reused
    assert SessionStore.store.dump() == at_rest  # no record made on load (a DoS otherwise)


def test_saving_a_session_deleted_elsewhere_is_an_update_error(SessionStore, run):
    first = SessionStore()
    run(first.update, {"data": "first"})
    run(first.save, must_create=True)
    run(SessionStore(first.session_key).delete)  # logged out by another request
    run(first.update, {"data": "second"})
    with pytest.raises(UpdateError):
        run(first.save)  # never resurrected
    assert run(first.load) == {}
    assert SessionStore.store.count() == 0


def test_saving_an_unknown_key_unread_is_an_update_error(SessionStore, run):
    session = SessionStore("k" * 32)
    with pytest.raises(UpdateError):
        run(session.save)
    assert SessionStore.store.count() == 0


def test_must_create_on_an_existing_key_is_a_create_error(SessionStore, run):
    first = saved(SessionStore, run, mine=True)
    other = SessionStore(first.session_key)
    run(other.update, {"theirs": True})
    with pytest.raises(CreateError):
        run(other.save, must_create=True)
    assert run(SessionStore(first.session_key).load) == {"mine": True}


def test_create_after_a_collision_takes_another_key(SessionStore, run, monkeypatch):
    taken = saved(SessionStore, mine=True).session_key
    keys = iter([taken, "freshkey0123456789abcdefghijklmn"])

    async def anext_key(self):
        return next(keys)

    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    monkeypatch.setattr(SessionStore, "_aget_new_session_key", anext_key)
    session = SessionStore()
    run(session.create)
    assert session.session_key == "freshkey0123456789abcdefghijklmn"
    assert SessionStore(taken).load() == {"mine": True}  # the other session is untouched


def test_cycle_key_then_flush_leaves_only_the_new_session(SessionStore, run):
    session = saved(SessionStore, run)
    run(session.cycle_key)
    run(session.flush)
    run(session.save)  # an empty session under a new key; the cycled one is never written
    assert SessionStore.store.count() == 1
    assert run(session.exists, session.session_key) is True


def test_exists_of_no_key_is_false(SessionStore, run):
    saved(SessionStore)
    assert run(SessionStore().exists, None) is False
    assert run(SessionStore().exists, "") is False


# --- Ours: what is at rest, read back ----------------------------------------------------------


def test_the_raw_key_is_never_at_rest_and_its_digest_opens_nothing(SessionStore):
    sessions = [saved(SessionStore, a=n) for n in range(2)]
    at_rest = SessionStore.store.dump()
    for session in sessions:
        key = session.session_key
        # Django's own cache engine names the entry by the key itself: said in its ENGINES line.
        assert (key in at_rest) is not SessionStore.engine.hashes_keys
        assert (session_id(key) in at_rest) is SessionStore.engine.hashes_keys
        assert SessionStore(session_id(key)).load() == {}


def test_expiry_is_checked_on_read(SessionStore, run):
    session = saved(SessionStore, run)
    SessionStore.store.expire(session.session_key)  # past its expiry, maybe not yet removed
    assert run(SessionStore(session.session_key).load) == {}


def test_corrupt_data_reads_as_empty(SessionStore, run, caplog):
    session = saved(SessionStore, run)
    SessionStore.store.corrupt(session.session_key)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert run(SessionStore(session.session_key).load) == {}
    logged = [record.name for record in caplog.records] == ["django.security.SuspiciousSession"]
    assert logged is SessionStore.engine.logs_corrupt_data


def test_clear_expired_leaves_the_live_sessions(SessionStore, run):
    live = saved(SessionStore, run, live=True)
    for _ in range(3):
        SessionStore.store.expire(saved(SessionStore, run).session_key)
    run(SessionStore.clear_expired)
    assert SessionStore.store.count() == 1
    assert run(SessionStore(live.session_key).load) == {"live": True}


# --- Two requests of one session saving at once --------------------------------------------------
# ``mine`` and ``theirs`` load the same version; ``theirs`` saves first. Engines that compare and
# set keep both: this request's own change (by any path) re-applied on top of theirs. Django's
# cache API cannot: there the later save wins whole, and theirs is lost.

LOADED = {"a": 1, "b": {"n": [1]}, "c": 3}


def nested(session):
    session["b"]["n"].append(2)  # Django's idiom: mutate, then say so
    session.modified = True


MUTATIONS = {
    # name: (sync change, async change or None, the session as this request leaves it)
    "set": (lambda s: s.__setitem__("x", 1), lambda s: s.aset("x", 1), LOADED | {"x": 1}),
    "delete": (lambda s: s.__delitem__("c"), None, {"a": 1, "b": {"n": [1]}}),
    "pop": (lambda s: s.pop("c"), lambda s: s.apop("c"), {"a": 1, "b": {"n": [1]}}),
    "setdefault": (
        lambda s: s.setdefault("x", 1),
        lambda s: s.asetdefault("x", 1),
        LOADED | {"x": 1},
    ),
    "update": (lambda s: s.update({"x": 1}), lambda s: s.aupdate({"x": 1}), LOADED | {"x": 1}),
    "nested": (nested, None, LOADED | {"b": {"n": [1, 2]}}),
    "expiry": (
        lambda s: s.set_expiry(300),
        lambda s: s.aset_expiry(300),
        LOADED | {"_session_expiry": 300},
    ),
    "clear": (lambda s: (s.clear(), s.__setitem__("x", 1)), None, {"x": 1}),
}
FLAVOURED = [
    pytest.param(name, flavour, id=f"{name}-{flavour}")
    for name, (_, change_async, _) in MUTATIONS.items()
    for flavour in (["sync", "async"] if change_async else ["sync"])
]


@pytest.mark.parametrize("mutation, flavour", FLAVOURED)
def test_a_concurrent_save_keeps_this_requests_own_change(SessionStore, mutation, flavour):
    change, change_async, left = MUTATIONS[mutation]
    key = saved(SessionStore, **LOADED).session_key
    mine, theirs = SessionStore(key), SessionStore(key)
    if flavour == "sync":
        mine.keys()
        theirs.keys()
    else:
        async_to_sync(mine.akeys)()
        async_to_sync(theirs.akeys)()
    theirs["theirs"] = True
    theirs.save()
    if flavour == "sync":
        change(mine)
        mine.save()
    else:

        async def change_and_save():
            await change_async(mine)
            await mine.asave()

        async_to_sync(change_and_save)()
    kept_theirs = SessionStore.engine.compare_and_set and mutation != "clear"  # a clear wins
    assert SessionStore(key).load() == left | ({"theirs": True} if kept_theirs else {})
    if SessionStore.engine.compare_and_set:
        assert mine.conflicts == 1 and dict(mine.items()) == SessionStore(key).load()


def test_two_saves_of_the_same_key_the_later_wins(SessionStore):
    key = saved(SessionStore, **LOADED).session_key
    first, later = SessionStore(key), SessionStore(key)
    first.keys()
    later.keys()
    first["a"] = "first"
    first.save()
    later["a"] = "later"
    later.save()
    assert SessionStore(key).load()["a"] == "later"


def test_a_save_that_changed_nothing_keeps_the_others_keys(SessionStore, settings):
    # SESSION_SAVE_EVERY_REQUEST: a request that only read saves to refresh the expiry.
    key = saved(SessionStore, **LOADED).session_key
    reader, writer = SessionStore(key), SessionStore(key)
    reader.keys()
    writer.keys()
    writer["theirs"] = True
    writer.save()
    reader.save()
    kept = {"theirs": True} if SessionStore.engine.compare_and_set else {}  # cache: overwritten
    assert SessionStore(key).load() == LOADED | kept


def test_a_session_that_keeps_changing_under_a_save_is_a_retryable_conflict(SessionStore):
    if not SessionStore.engine.compare_and_set:
        assert not hasattr(SessionStore, "conflict_retries")  # Django's API: last writer wins
        return
    from session_engines.exceptions import SessionConflict, SessionStoreUnavailable

    key = saved(SessionStore, **LOADED).session_key
    mine = SessionStore(key)
    mine.keys()
    mine["x"] = 1
    update = mine._update_record

    def someone_saves_first(data, version):
        other = SessionStore(key)
        other["n"] = other.get("n", 0) + 1
        other.save()  # another request saves between each (re-)read and our write
        return update(data, version)

    mine._update_record = someone_saves_first
    with pytest.raises(SessionConflict) as raised:
        mine.save()
    assert isinstance(raised.value, SessionStoreUnavailable)  # the middleware's 503
    assert mine.conflicts == SessionStore.conflict_retries + 1
    assert "x" not in SessionStore(key).load()  # nothing half-written
