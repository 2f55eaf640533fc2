"""GET /sessions and POST /logout-everywhere: a user's own sessions, as JSON."""

import ast
from pathlib import Path

from django.conf import settings

from session_engines import views
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id

from .helpers import (
    INDEXED_ENGINES,
    NOBODY,
    OPERATOR_ENGINES,
    UNINDEXED_ENGINES,
    assert_503,
    engines,
    ids_of,
    key_of,
    log_in_several,
    sign_in,
    user_id,
    user_info,
)

JSON = "application/json"


@engines(INDEXED_ENGINES)
def test_sessions_lists_the_callers_own_marking_the_current_one(engine):
    logged_in = log_in_several()
    phone, laptop = logged_in["alice"]
    response = phone.get("/sessions")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == user_id("alice")
    assert {s["id"] for s in body["sessions"]} == ids_of([phone, laptop])
    assert [s["id"] for s in body["sessions"] if s["current"]] == [session_id(key_of(phone))]
    assert all(s["size"] > 0 and s["expires"] for s in body["sessions"])
    assert key_of(phone) not in response.content.decode()
    assert key_of(laptop) not in response.content.decode()


@engines(INDEXED_ENGINES)
def test_logout_everywhere_ends_every_session_of_the_caller_only(engine):
    logged_in = log_in_several()
    phone, laptop = logged_in["alice"]
    response = phone.post("/logout-everywhere", content_type=JSON)
    assert response.status_code == 200
    assert response.json() == {"user": user_id("alice"), "ended": 2}
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # the cookie goes
    assert user_info(laptop) == NOBODY
    assert phone.get("/sessions").status_code == 401
    assert user_info(logged_in["bob"][0])["userId"] == user_id("bob")
    assert len(logged_in["bob"][0].get("/sessions").json()["sessions"]) == 1


@engines(UNINDEXED_ENGINES)
def test_without_an_index_both_are_501_and_change_nothing(engine):
    logged_in = log_in_several()
    phone, laptop = logged_in["alice"]
    for response in (phone.get("/sessions"), phone.post("/logout-everywhere", content_type=JSON)):
        assert response.status_code == 501
        assert "no per-user index" in response.json()["error"]
    assert user_info(phone)["userId"] == user_id("alice")
    assert user_info(laptop)["userId"] == user_id("alice")


@engines(OPERATOR_ENGINES)
def test_not_logged_in_is_401(engine, client):
    assert client.get("/sessions").status_code == 401
    response = client.post("/logout-everywhere", content_type=JSON)
    assert response.status_code == 401
    assert response.json() == {"error": "Not logged in."}
    assert settings.SESSION_COOKIE_NAME not in response.cookies


@engines(["db"])
def test_logout_everywhere_needs_a_json_request(engine):
    """So that no cross-site form can end anyone's sessions, whatever the SameSite setting."""
    logged_in = log_in_several()
    phone, laptop = logged_in["alice"]
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        response = phone.post("/logout-everywhere", "", content_type=content_type)
        assert response.status_code == 415
        assert "application/json" in response.json()["error"]
    assert user_info(phone)["userId"] == user_id("alice")
    assert user_info(laptop)["userId"] == user_id("alice")


@engines(["db"])
def test_wrong_methods_are_405(engine):
    logged_in = log_in_several()
    alice = logged_in["alice"][0]
    response = alice.post("/sessions")
    assert response.status_code == 405 and response["Allow"] == "GET"
    response = alice.get("/logout-everywhere")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert user_info(alice)["userId"] == user_id("alice")


@engines(["db"])
def test_store_outage_is_503(engine, monkeypatch):
    """An operator that cannot reach its store raises SessionStoreUnavailable: 503, no logout."""
    logged_in = log_in_several()

    class Unreachable:
        def for_user(self, user_id):
            raise SessionStoreUnavailable("store down")

        delete_for_user = for_user

    monkeypatch.setattr(views, "get_operator", Unreachable)
    alice = logged_in["alice"][0]
    assert_503(alice.get("/sessions"))
    assert_503(alice.post("/logout-everywhere", content_type=JSON))
    monkeypatch.undo()
    assert user_info(alice)["userId"] == user_id("alice")


def test_session_engines_imports_no_project_app():
    """The endpoints and the admin live in session_engines, which imports neither app."""
    root = Path(views.__file__).parent
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                )
                tops = {name.split(".")[0] for name in names}
                assert not tops & {"accounts", "sessiondemo"}, source


def test_an_engine_without_an_operator_is_501(db, client, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    sign_in(client, "alice")
    response = client.get("/sessions")
    assert response.status_code == 501
    assert "No session operator" in response.json()["error"]
