"""SESSION_POLICY on every engine: idle and absolute timeouts, last-seen, password changes.

The policy's clock is ``session_engines.policy.now``, moved by the tests (``Clock``); the
stores' own expiry (two weeks) is far off, so whatever ends a session here is the policy.
"""

import json

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.module_loading import import_string

from session_engines.ids import session_id
from session_engines.operators import get_operator

from .helpers import engines
from .signin import (
    JSON,
    Clock,
    cookie,
    make_user,
    new_client,
    sign_in_as,
    use_auth_site,
    whoami_of,
)

ALL = engines(["db", "cache", "redis", "dynamodb"])
INDEXED = engines(["db", "redis", "dynamodb"])


@pytest.fixture(autouse=True)
def site(settings):
    use_auth_site(settings)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def alice(engine):
    return make_user("alice")


def live(client):
    """Return whether the client's session is still in the store."""
    return get_operator().get(session_id(cookie(client))) is not None


@ALL
def test_idle_timeout_ends_an_idle_session_and_slides_with_use(alice, clock, settings):
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 600, "LAST_SEEN_INTERVAL": 60}
    client = sign_in_as("alice")
    for _ in range(5):  # 5 x 500 s of use: longer than the timeout, never idle that long
        clock.advance(500)
        assert whoami_of(client) == alice.pk
    key = cookie(client)
    clock.advance(600)
    response = client.get("/whoami")
    assert response.status_code == 200 and response.json() == {"user": None}  # signed out
    assert cookie(client) == ""  # the cookie goes
    assert get_operator().get(session_id(key)) is None  # and the session, in the store


@ALL
def test_absolute_timeout_ends_a_busy_session_remember_me_or_not(alice, clock, settings):
    settings.SESSION_POLICY = {"ABSOLUTE_TIMEOUT": 3600, "IDLE_TIMEOUT": 900}
    client = sign_in_as("alice")
    assert client.post("/remember-me", content_type=JSON).status_code == 200  # set_expiry(30d)
    for _ in range(11):  # busy all along: 11 x 300 s
        clock.advance(300)
        assert whoami_of(client) == alice.pk
    clock.advance(3600 - 11 * 300)
    assert whoami_of(client) is None
    assert cookie(client) == ""


@INDEXED
def test_the_stored_expiry_and_cookie_never_outlive_the_absolute_deadline(alice, settings):
    settings.SESSION_POLICY = {"ABSOLUTE_TIMEOUT": 3600}
    client = new_client()
    credentials = json.dumps({"username": "alice", "password": "correct horse battery"})
    response = client.post("/sign-in", credentials, content_type=JSON)
    assert int(response.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"]) <= 3600
    response = client.post("/remember-me", content_type=JSON)  # asks for 30 days
    assert int(response.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"]) <= 3600
    (record,) = get_operator().for_user(str(alice.pk))
    assert (record.expires - timezone.now()).total_seconds() <= 3600


@engines(["db", "redis"])
def test_a_read_only_request_writes_last_seen_at_most_once_per_interval(
    alice, clock, settings, monkeypatch
):
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 3600, "LAST_SEEN_INTERVAL": 60}
    client = sign_in_as("alice")
    signed_in = clock.time
    engine_class = import_string(f"{django_settings.SESSION_ENGINE}.SessionStore")
    saves = []
    original = engine_class.save

    def counting(self, must_create=False):
        saves.append(clock.time)
        return original(self, must_create)

    monkeypatch.setattr(engine_class, "save", counting)
    for _ in range(12):  # 12 read-only requests, 10 s apart: last-seen is written twice
        clock.advance(10)
        assert whoami_of(client) == alice.pk
    assert saves == [signed_in + 60, signed_in + 120]
    (record,) = get_operator().for_user(str(alice.pk))
    assert record.data["_session_engines"]["seen"] == signed_in + 120


@engines(["db", "redis"])
def test_a_session_from_before_the_policy_starts_counting_when_first_read(alice, clock, settings):
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 600}
    client = sign_in_as("alice")
    record = get_operator().get(session_id(cookie(client)))
    store = import_string(f"{django_settings.SESSION_ENGINE}.SessionStore")(cookie(client))
    store.pop("_session_engines")  # as a session written before this version had it
    store.save()
    assert "_session_engines" not in get_operator().get(record.id).data
    assert whoami_of(client) == alice.pk  # stamped now
    clock.advance(600)
    assert whoami_of(client) is None


@INDEXED
def test_a_password_change_gives_a_new_key_and_keeps_the_sign_in_time(alice, clock, settings):
    settings.SESSION_POLICY = {"ABSOLUTE_TIMEOUT": 3600}
    client = sign_in_as("alice")
    old_key = cookie(client)
    clock.advance(1800)
    body = json.dumps({"password": "a new password, long enough"})
    assert client.post("/change-password", body, content_type=JSON).status_code == 200
    assert cookie(client) not in ("", old_key)  # update_session_auth_hash cycled the key
    assert get_operator().get(session_id(old_key)) is None
    assert whoami_of(client) == alice.pk
    stolen = new_client()
    stolen.cookies[django_settings.SESSION_COOKIE_NAME] = old_key
    assert whoami_of(stolen) is None
    clock.advance(1800)  # the absolute timeout still counts from the sign-in
    assert whoami_of(client) is None


@INDEXED
def test_a_password_change_ends_the_other_sessions_in_the_store_when_asked(alice, settings):
    settings.SESSION_POLICY = {"END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": True}
    phone, laptop = sign_in_as("alice"), sign_in_as("alice")
    bob = make_user("bob")
    bob_client = sign_in_as("bob")
    body = json.dumps({"password": "a new password, long enough"})
    assert phone.post("/change-password", body, content_type=JSON).status_code == 200
    assert [r.id for r in get_operator().for_user(str(alice.pk))] == [session_id(cookie(phone))]
    assert whoami_of(phone) == alice.pk
    assert whoami_of(laptop) is None
    assert whoami_of(bob_client) == bob.pk


@INDEXED
def test_without_the_option_other_sessions_stay_stored_until_auth_refuses_them(alice, settings):
    phone, laptop = sign_in_as("alice"), sign_in_as("alice")
    body = json.dumps({"password": "a new password, long enough"})
    assert phone.post("/change-password", body, content_type=JSON).status_code == 200
    assert live(laptop)  # still in the store: Django's session hash check ends it on use
    assert whoami_of(laptop) is None
    assert whoami_of(phone) == alice.pk


@INDEXED
def test_a_password_set_outside_any_request_ends_every_session_when_asked(alice, settings):
    """The admin's or changepassword's way: set_password() and save(), no request."""
    settings.SESSION_POLICY = {"END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": True}
    phone, laptop = sign_in_as("alice"), sign_in_as("alice")
    user = type(alice).objects.get(pk=alice.pk)
    user.first_name = "Alice"
    user.save()  # not a password change: nothing ends
    assert live(phone) and live(laptop)
    user.set_password("a new password, long enough")
    user.save()
    assert get_operator().for_user(str(alice.pk)) == []
    assert whoami_of(phone) is None


@ALL
def test_signing_out_deletes_the_session_in_the_store(alice):
    client = sign_in_as("alice")
    key = cookie(client)
    assert client.post("/sign-out", content_type=JSON).status_code == 200
    assert get_operator().get(session_id(key)) is None
