"""GET /sessions, POST /logout-everywhere, POST /sessions/<id>/end: request.user's own only.

The caller is the user django.contrib.auth signed in, never a user id a client wrote into its
session (the seed's unauthenticated /login).
"""

import json

import pytest

from session_engines import views
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id

from .helpers import assert_503, engines
from .signin import (
    JSON,
    cookie,
    make_user,
    new_client,
    sign_in_as,
    use_auth_site,
    whoami_of,
)

INDEXED = engines(["db", "redis", "dynamodb"])


@pytest.fixture(autouse=True)
def site(settings):
    use_auth_site(settings)


@pytest.fixture
def people(engine):
    """alice on a phone and a laptop, bob on one device; their users."""
    alice, bob = make_user("alice"), make_user("bob")
    return {
        "alice": alice,
        "bob": bob,
        "phone": sign_in_as("alice"),
        "laptop": sign_in_as("alice"),
        "bob_client": sign_in_as("bob"),
    }


def ids(*clients):
    return {session_id(cookie(client)) for client in clients}


@INDEXED
def test_sessions_lists_the_signed_in_users_own_with_their_devices(people):
    phone, laptop = people["phone"], people["laptop"]
    response = phone.get("/sessions")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == str(people["alice"].pk)
    assert {s["id"] for s in body["sessions"]} == ids(phone, laptop)
    assert [s["id"] for s in body["sessions"] if s["current"]] == [session_id(cookie(phone))]
    for listed in body["sessions"]:
        assert listed["agent"] == "Firefox on Linux"
        assert listed["address"] == "203.0.113.0"  # truncated, the default
        assert listed["created"] and listed["last_seen"] and listed["signed_in"]
    assert cookie(phone) not in response.content.decode()
    assert cookie(laptop) not in response.content.decode()


@INDEXED
def test_a_user_id_written_into_a_session_grants_nothing(people):
    """The seed's /login lets a client claim any user id: it can neither list nor end."""
    mallory = new_client()
    alice_id = str(people["alice"].pk)
    claims = {"userInfo": {"userId": alice_id}, "user_id": alice_id, "userId": alice_id}
    assert mallory.post("/write", json.dumps(claims), content_type=JSON).status_code == 200
    assert mallory.get("/sessions").status_code == 401
    assert mallory.post("/logout-everywhere", content_type=JSON).status_code == 401
    for id in ids(people["phone"], people["laptop"]):
        assert mallory.post(f"/sessions/{id}/end", content_type=JSON).status_code == 401
    assert whoami_of(people["phone"]) == people["alice"].pk
    assert whoami_of(people["laptop"]) == people["alice"].pk


@INDEXED
def test_logout_everywhere_ends_the_signed_in_users_sessions_only(people):
    phone, laptop, bob = people["phone"], people["laptop"], people["bob_client"]
    response = phone.post("/logout-everywhere", content_type=JSON)
    assert response.status_code == 200
    assert response.json() == {"user": str(people["alice"].pk), "ended": 2}
    assert cookie(phone) == ""  # the cookie goes
    assert whoami_of(laptop) is None
    assert whoami_of(bob) == people["bob"].pk


@INDEXED
def test_end_one_device_ends_that_session_only(people):
    phone, laptop = people["phone"], people["laptop"]
    laptop_id = session_id(cookie(laptop))
    response = phone.post(f"/sessions/{laptop_id}/end", content_type=JSON)
    assert response.status_code == 200
    assert response.json() == {
        "user": str(people["alice"].pk),
        "id": laptop_id,
        "ended": True,
        "current": False,
    }
    assert whoami_of(laptop) is None
    assert whoami_of(phone) == people["alice"].pk
    assert {s["id"] for s in phone.get("/sessions").json()["sessions"]} == ids(phone)


@INDEXED
def test_ending_the_current_device_signs_it_out(people):
    phone = people["phone"]
    response = phone.post(f"/sessions/{session_id(cookie(phone))}/end", content_type=JSON)
    assert response.status_code == 200 and response.json()["current"] is True
    assert cookie(phone) == ""
    assert whoami_of(phone) is None
    assert whoami_of(people["laptop"]) == people["alice"].pk


@INDEXED
def test_ending_someone_elses_session_or_an_unknown_one_is_404_and_changes_nothing(people):
    phone, bob = people["phone"], people["bob_client"]
    for id in [session_id(cookie(bob)), "0" * 64, "not-an-id", "A" * 64]:
        response = phone.post(f"/sessions/{id}/end", content_type=JSON)
        assert response.status_code == 404
        assert response.json() == {"error": "No such session."}
    assert whoami_of(bob) == people["bob"].pk
    assert whoami_of(phone) == people["alice"].pk


@engines(["db"])
def test_anonymous_is_401(engine):
    client = new_client()
    assert client.get("/sessions").json() == {"error": "Not logged in."}
    for url in ["/sessions", "/logout-everywhere", f"/sessions/{'0' * 64}/end"]:
        method = client.get if url == "/sessions" else client.post
        response = method(url, content_type=JSON)
        assert response.status_code == 401


@engines(["db"])
def test_posts_need_a_json_request(people):
    """So that no cross-site form can end anyone's sessions, whatever the SameSite setting."""
    phone, laptop = people["phone"], people["laptop"]
    urls = ["/logout-everywhere", f"/sessions/{session_id(cookie(laptop))}/end"]
    for url in urls:
        for content_type in ("application/x-www-form-urlencoded", "text/plain"):
            response = phone.post(url, "", content_type=content_type)
            assert response.status_code == 415
            assert "application/json" in response.json()["error"]
    assert whoami_of(laptop) == people["alice"].pk


@engines(["db"])
def test_wrong_methods_are_405(people):
    phone = people["phone"]
    assert phone.post("/sessions").status_code == 405
    response = phone.get(f"/sessions/{'0' * 64}/end")
    assert response.status_code == 405 and response["Allow"] == "POST"


@engines(["cache"])
def test_without_an_index_listing_and_logging_out_everywhere_are_501(people):
    phone, laptop = people["phone"], people["laptop"]
    for response in (phone.get("/sessions"), phone.post("/logout-everywhere", content_type=JSON)):
        assert response.status_code == 501
        assert "no per-user index" in response.json()["error"]
    assert whoami_of(laptop) == people["alice"].pk
    # Ending one device needs no index: the session itself says whose it is.
    laptop_id = session_id(cookie(laptop))
    assert phone.post(f"/sessions/{laptop_id}/end", content_type=JSON).status_code == 200
    assert whoami_of(laptop) is None


@engines(["db"])
def test_an_index_on_another_user_id_is_501(people, settings):
    settings.SESSION_USER_ID_PATH = "userInfo.userId"
    response = people["phone"].get("/sessions")
    assert response.status_code == 501
    assert "SESSION_USER_ID_PATH" in response.json()["error"]
    assert people["phone"].post("/logout-everywhere", content_type=JSON).status_code == 501
    assert whoami_of(people["laptop"]) == people["alice"].pk


@engines(["db"])
def test_store_outage_is_503(people, monkeypatch):
    class Unreachable:
        def for_user(self, user_id):
            raise SessionStoreUnavailable("store down")

        delete_for_user = get = for_user

    monkeypatch.setattr(views, "get_operator", Unreachable)
    phone = people["phone"]
    assert_503(phone.get("/sessions"))
    assert_503(phone.post("/logout-everywhere", content_type=JSON))
    assert_503(phone.post(f"/sessions/{'0' * 64}/end", content_type=JSON))
    monkeypatch.undo()
    assert whoami_of(phone) == people["alice"].pk


def test_an_engine_without_an_operator_is_501(db, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    make_user("alice")
    response = sign_in_as("alice").get("/sessions")
    assert response.status_code == 501
    assert "No session operator" in response.json()["error"]
