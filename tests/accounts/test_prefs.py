"""POST /prefs and GET /prefs on every engine, their validation, and X-Session-Conflicts."""

import json

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.test import Client

from tests.accounts.test_api import ALICE, cookie, login


def set_pref(client, body, content_type="application/json"):
    data = json.dumps(body) if not isinstance(body, (str, bytes)) else body
    return client.post("/prefs", data, content_type=content_type)


def test_set_then_get(engine, client):
    login(client)
    response = set_pref(client, {"name": "theme", "value": "dark"})
    assert response.status_code == 200
    assert response.json() == {"name": "theme", "value": "dark"}
    assert set_pref(client, {"name": "lang.ui", "value": "한국어"}).status_code == 200
    assert set_pref(client, {"name": "theme", "value": "light"}).status_code == 200  # replaced

    assert client.get("/prefs").json() == {"theme": "light", "lang.ui": "한국어"}
    # One flat session key per preference, beside the UserInfo, which is untouched.
    assert client.session["prefs:theme"] == "light"
    assert client.session["prefs:lang.ui"] == "한국어"
    assert client.get("/session").json() == ALICE


def test_two_sessions_are_isolated(engine, client):
    other = Client(headers={"X-Forwarded-Proto": "https"})
    login(client)
    login(other, {"userId": "bob", "userNm": "Bob"})
    set_pref(client, {"name": "theme", "value": "dark"})
    set_pref(other, {"name": "theme", "value": "light"})
    set_pref(other, {"name": "tz", "value": "Asia/Seoul"})

    assert client.get("/prefs").json() == {"theme": "dark"}
    assert other.get("/prefs").json() == {"theme": "light", "tz": "Asia/Seoul"}


def test_a_session_without_prefs_has_none_and_reading_creates_no_session(engine, client):
    response = client.get("/prefs")
    assert response.json() == {}
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    login(client)
    assert client.get("/prefs").json() == {}


def test_the_limits_themselves_are_accepted(engine, client):
    body = {"name": "a" * 64, "value": "v" * 150}
    assert set_pref(client, body).json() == body
    assert set_pref(client, {"name": "A-z_0.9", "value": ""}).status_code == 200
    assert client.get("/prefs").json() == {"a" * 64: "v" * 150, "A-z_0.9": ""}


GOOD = {"name": "theme", "value": "dark"}


def bad(id, body, status, message, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return pytest.param(data, content_type, status, message, id=id)


BAD_INPUTS = [
    bad("not-json", "not json", 400, "not valid JSON"),
    bad("not-utf8", b"\xff\xfe", 400, "not valid JSON"),
    bad("text-plain", GOOD, 415, "application/json", content_type="text/plain"),
    bad(
        "form",
        "name=theme&value=dark",
        415,
        "application/json",
        content_type="application/x-www-form-urlencoded",
    ),
    bad("array", [GOOD], 400, "JSON object"),
    bad("too-big", {**GOOD, "pad": "x" * 17000}, 413, "over 16384 bytes"),
    bad("no-name", {"value": "dark"}, 400, "'name' is required"),
    bad("no-value", {"name": "theme"}, 400, "'value' is required"),
    bad("value-null", {"name": "theme", "value": None}, 400, "'value' is required"),
    bad("name-number", {"name": 7, "value": "dark"}, 400, "'name' must be a string"),
    bad("value-list", {"name": "theme", "value": ["dark"]}, 400, "'value' must be a string"),
    bad("name-empty", {"name": "", "value": "dark"}, 400, "'name' must not be empty"),
    bad("name-too-long", {"name": "a" * 65, "value": "dark"}, 400, "at most 64"),
    bad("value-too-long", {"name": "theme", "value": "v" * 151}, 400, "at most 150"),
    bad("name-space", {"name": "the me", "value": "dark"}, 400, "only letters, digits"),
    bad("name-colon", {"name": "prefs:x", "value": "dark"}, 400, "only letters, digits"),
    bad("name-not-ascii", {"name": "thème", "value": "dark"}, 400, "only letters, digits"),
    bad("name-newline", {"name": "theme\n", "value": "dark"}, 400, "control character"),
    # json.loads turns these escapes into lone surrogates, which UTF-8 cannot encode.
    bad("value-surrogate", '{"name": "a", "value": "\\ud800"}', 400, "'value' is not valid"),
    bad("name-surrogate", '{"name": "\\udfff", "value": "b"}', 400, "'name' is not valid"),
]


@pytest.mark.parametrize("body, content_type, status, message", BAD_INPUTS)
def test_bad_input_is_a_json_4xx_and_changes_nothing(
    engine, client, body, content_type, status, message
):
    login(client)
    set_pref(client, GOOD)
    key = cookie(client)
    response = set_pref(client, body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # nothing saved
    assert cookie(client) == key
    assert client.get("/prefs").json() == {"theme": "dark"}
    assert client.get("/session").json() == ALICE


def test_bad_input_without_a_session_creates_none(engine, client):
    response = set_pref(client, {"name": "", "value": "dark"})
    assert response.status_code == 400
    assert settings.SESSION_COOKIE_NAME not in response.cookies


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_a_json_405(engine, method):
    client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
    response = getattr(client, method)("/prefs")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert "not allowed; use GET or POST" in response.json()["error"]


def test_post_needs_no_csrf_token_as_login(engine):
    # A JSON-only API, like /login: a cross-site form cannot send application/json.
    client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
    assert set_pref(client, GOOD).status_code == 200
    assert client.get("/prefs").json() == {"theme": "dark"}


def test_engines_without_conflict_counts_say_zero(engine, client):
    for response in (set_pref(client, GOOD), client.get("/prefs"), client.get("/nope")):
        assert response["X-Session-Conflicts"] == "0"


class SessionStore(DbSessionStore):
    """An engine whose save says it retried 3 write conflicts (SESSION_ENGINE = this module)."""

    def save(self, must_create=False):
        super().save(must_create=must_create)
        self.conflicts = 3


def test_conflicts_header_is_read_after_the_session_was_saved(db, client, settings):
    settings.SESSION_ENGINE = __name__
    response = set_pref(client, GOOD)
    assert response.status_code == 200
    assert response["X-Session-Conflicts"] == "3"  # set by save(), after the view had returned
    assert client.get("/prefs")["X-Session-Conflicts"] == "0"  # nothing saved, nothing retried


@pytest.mark.parametrize("field", ["userId", "userNm"])
def test_login_refuses_a_lone_surrogate_too(engine, client, field):
    # The same check as /prefs (was a 500: the stores cannot encode it, nor the user digest).
    body = json.dumps({**ALICE, field: "x"}).replace('"x"', '"\\ud800"')
    response = login(client, body)
    assert response.status_code == 400
    assert response.json() == {"error": f"'{field}' is not valid Unicode (a lone surrogate)."}
    assert settings.SESSION_COOKIE_NAME not in response.cookies
