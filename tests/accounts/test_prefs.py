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
BAD_INPUTS = [
    pytest.param("not json", "application/json", 400, "not valid JSON", id="not-json"),
    pytest.param(b"\xff\xfe", "application/json", 400, "not valid JSON", id="not-utf8"),
    pytest.param(json.dumps(GOOD), "text/plain", 415, "application/json", id="text-plain"),
    pytest.param(
        "name=theme&value=dark",
        "application/x-www-form-urlencoded",
        415,
        "application/json",
        id="form",
    ),
    pytest.param(json.dumps([GOOD]), "application/json", 400, "JSON object", id="array"),
    pytest.param(
        json.dumps({**GOOD, "pad": "x" * 17000}),
        "application/json",
        413,
        "over 16384 bytes",
        id="too-big",
    ),
    pytest.param(
        json.dumps({"value": "dark"}), "application/json", 400, "'name' is required", id="no-name"
    ),
    pytest.param(
        json.dumps({"name": "theme"}), "application/json", 400, "'value' is required", id="no-value"
    ),
    pytest.param(
        json.dumps({"name": 7, "value": "dark"}),
        "application/json",
        400,
        "'name' must be a string",
        id="name-number",
    ),
    pytest.param(
        json.dumps({"name": "theme", "value": ["dark"]}),
        "application/json",
        400,
        "'value' must be a string",
        id="value-list",
    ),
    pytest.param(
        json.dumps({"name": "theme", "value": None}),
        "application/json",
        400,
        "'value' is required",
        id="value-null",
    ),
    pytest.param(
        json.dumps({"name": "", "value": "dark"}),
        "application/json",
        400,
        "'name' must not be empty",
        id="name-empty",
    ),
    pytest.param(
        json.dumps({"name": "a" * 65, "value": "dark"}),
        "application/json",
        400,
        "at most 64",
        id="name-too-long",
    ),
    pytest.param(
        json.dumps({"name": "theme", "value": "v" * 151}),
        "application/json",
        400,
        "at most 150",
        id="value-too-long",
    ),
    pytest.param(
        json.dumps({"name": "the me", "value": "dark"}),
        "application/json",
        400,
        "only letters, digits",
        id="name-space",
    ),
    pytest.param(
        json.dumps({"name": "prefs:x", "value": "dark"}),
        "application/json",
        400,
        "only letters, digits",
        id="name-colon",
    ),
    pytest.param(
        json.dumps({"name": "thème", "value": "dark"}),
        "application/json",
        400,
        "only letters, digits",
        id="name-not-ascii",
    ),
    pytest.param(
        json.dumps({"name": "theme\n", "value": "dark"}),
        "application/json",
        400,
        "only letters, digits",
        id="name-newline",
    ),
    pytest.param(
        '{"name": "theme", "value": "\\ud800"}',
        "application/json",
        400,
        "'value' is not valid Unicode",
        id="value-lone-surrogate",
    ),
    pytest.param(
        '{"name": "\\udfff", "value": "dark"}',
        "application/json",
        400,
        "'name' is not valid Unicode",
        id="name-lone-surrogate",
    ),
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
