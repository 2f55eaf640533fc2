"""The seed's Postman walk-through, on every engine, plus the API's edges."""

import json

import pytest
from django.conf import settings
from django.test import Client

ALICE = {"userId": "alice", "userNm": "Alice Kim"}
NOBODY = {"userId": None, "userNm": None}


def login(client, body=ALICE, content_type="application/json"):
    data = json.dumps(body) if not isinstance(body, (str, bytes)) else body
    return client.post("/login", data, content_type=content_type)


def cookie(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_seed_walkthrough(engine, client):
    # Step 2: log in; the answer is the stored UserInfo.
    response = login(client)
    assert response.status_code == 200
    assert response.json() == ALICE
    # Step 3: the session holds it.
    assert client.get("/session").json() == ALICE
    # Step 4: another client's session, or a made-up cookie, has no UserInfo.
    other = Client(headers={"X-Forwarded-Proto": "https"})
    assert other.get("/session").json() == NOBODY
    other.cookies[settings.SESSION_COOKIE_NAME] = "madeupsessionkey1234567890abcdef"
    assert other.get("/session").json() == NOBODY
    # The original client is untouched by the others.
    assert client.get("/session").json() == ALICE
    # Logout clears it.
    assert client.post("/logout").status_code == 200
    assert client.get("/session").json() == NOBODY


def test_swapping_cookie_swaps_session(engine, client):
    login(client)
    bob = Client(headers={"X-Forwarded-Proto": "https"})
    login(bob, {"userId": "bob", "userNm": "Bob"})
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie(bob)
    assert client.get("/session").json() == {"userId": "bob", "userNm": "Bob"}


def test_login_cycles_the_session_key(engine, client):
    login(client)
    first = cookie(client)
    login(client, {"userId": "alice", "userNm": "Alice K."})
    assert cookie(client) != first
    # The old key no longer opens the session (no session fixation).
    stale = Client(headers={"X-Forwarded-Proto": "https"})
    stale.cookies[settings.SESSION_COOKIE_NAME] = first
    assert stale.get("/session").json() == NOBODY
    assert client.get("/session").json() == {"userId": "alice", "userNm": "Alice K."}


def test_login_as_another_user_drops_the_old_data(engine, client):
    login(client)
    client.session  # noqa: B018
    login(client, {"userId": "bob", "userNm": "Bob"})
    assert client.get("/session").json() == {"userId": "bob", "userNm": "Bob"}


def test_unknown_cookie_writes_nothing(engine, client):
    client.cookies[settings.SESSION_COOKIE_NAME] = "madeupsessionkey1234567890abcdef"
    response = client.get("/session")
    assert response.json() == NOBODY
    # Django only expires the bogus cookie; it never hands out a new session for it.
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""


TOO_LONG = "x" * 151
BAD_INPUTS = [
    pytest.param("not json", "application/json", 400, "not valid JSON", id="not-json"),
    pytest.param(json.dumps(ALICE), "text/plain", 415, "application/json", id="text-plain"),
    pytest.param(
        "userId=a&userNm=b", "application/x-www-form-urlencoded", 415, "application/json", id="form"
    ),
    pytest.param(json.dumps([ALICE]), "application/json", 400, "JSON object", id="array"),
    pytest.param(
        json.dumps({"userNm": "A"}),
        "application/json",
        400,
        "'userId' is required",
        id="missing-id",
    ),
    pytest.param(
        json.dumps({"userId": "a"}),
        "application/json",
        400,
        "'userNm' is required",
        id="missing-nm",
    ),
    pytest.param(
        json.dumps({"userId": 7, "userNm": "A"}),
        "application/json",
        400,
        "'userId' must be a string",
        id="number",
    ),
    pytest.param(
        json.dumps({"userId": "a", "userNm": ["A"]}),
        "application/json",
        400,
        "'userNm' must be a string",
        id="list",
    ),
    pytest.param(
        json.dumps({"userId": " ", "userNm": "A"}),
        "application/json",
        400,
        "must not be empty",
        id="empty",
    ),
    pytest.param(
        json.dumps({"userId": TOO_LONG, "userNm": "A"}),
        "application/json",
        400,
        "at most 150",
        id="too-long",
    ),
    pytest.param(
        json.dumps({**ALICE, "pad": "x" * 17000}),
        "application/json",
        413,
        "over 16384 bytes",
        id="too-big",
    ),
    pytest.param(b"\xff\xfe", "application/json", 400, "not valid JSON", id="not-utf8"),
]


@pytest.mark.parametrize("body, content_type, status, message", BAD_INPUTS)
def test_bad_input_is_a_json_4xx_and_changes_nothing(
    engine, client, body, content_type, status, message
):
    login(client)
    key = cookie(client)
    response = login(client, body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # no new key, no new cookie
    assert cookie(client) == key
    assert client.get("/session").json() == ALICE


def test_bad_input_without_a_session_creates_none(engine, client):
    response = login(client, "not json")
    assert response.status_code == 400
    assert settings.SESSION_COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("get", "/login", "POST"),
        ("get", "/logout", "POST"),
        ("post", "/session", "GET"),
        ("put", "/session", "GET"),
        ("delete", "/", "GET"),
    ],
)
def test_wrong_method_is_a_json_405(engine, method, path, allow):
    # Django's CSRF check enforced, as for a browser: a POST to a GET view is still a 405.
    client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == allow
    assert "not allowed" in response.json()["error"]


def test_a_csrf_failure_is_json(db):
    client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
    response = client.post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert response.json()["error"].startswith("CSRF check failed")


def test_unknown_path_is_a_json_404(db, client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}


def test_every_response_says_who_served_it(engine, client):
    for response in (client.get("/session"), login(client), client.get("/nope"), client.get("/")):
        assert response["X-Served-By"] == "test-instance"


def test_healthz_answers_any_host_and_writes_nothing():
    # The ALB health checker: plain HTTP, Host = the target's IP, not in ALLOWED_HOSTS.
    # No db fixture: any database access would fail the test.
    response = Client().get("/healthz", HTTP_HOST="10.0.1.23:8080")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "instance": "test-instance"}
    assert not response.cookies


def test_unknown_host_is_still_refused_elsewhere(db):
    response = Client().get("/session", HTTP_HOST="evil.example", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 400


def test_home_page_shows_instance_engine_and_user(engine, client):
    login(client)
    page = client.get("/").content.decode()
    assert "test-instance" in page
    assert settings.SESSION_ENGINE in page
    assert "Alice Kim" in page
