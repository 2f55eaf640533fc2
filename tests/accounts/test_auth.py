"""Real sign-in (POST /auth/login, /auth/logout, GET /auth/me) and its throttle, on every engine."""

import json
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client, RequestFactory

from accounts import throttle

PASSWORD = "correct horse battery staple"
ALICE = {"username": "alice", "password": PASSWORD}
JSON = "application/json"


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password=PASSWORD)


@pytest.fixture(autouse=True)
def empty_throttle(db):
    caches["throttle"].clear()


def new_client(address="198.51.100.7"):
    return Client(headers={"X-Forwarded-Proto": "https"}, REMOTE_ADDR=address)


def sign_in(client, body=ALICE, content_type=JSON):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/auth/login", data, content_type=content_type)


def me(client):
    return client.get("/auth/me").json()["user"]


def cookie(client):
    morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel else None


def test_sign_in_me_and_sign_out(engine, alice):
    client = new_client()
    assert me(client) is None
    response = sign_in(client)
    assert response.status_code == 200
    assert response.json() == {"user": {"id": str(alice.pk), "username": "alice"}}
    assert me(client) == {"id": str(alice.pk), "username": "alice"}
    key = cookie(client)
    assert client.post("/auth/logout", "{}", content_type=JSON).json() == {"user": None}
    assert me(client) is None
    stale = new_client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = key
    assert me(stale) is None  # the session was deleted from the store, not only forgotten


def test_sign_in_cycles_the_key_and_keeps_the_session(engine, alice):
    client = new_client()
    client.post("/prefs", {"name": "theme", "value": "dark"}, content_type=JSON)
    before = cookie(client)
    sign_in(client)
    assert cookie(client) != before
    assert client.get("/prefs").json() == {"theme": "dark"}
    stale = new_client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert me(stale) is None and stale.get("/prefs").json() == {}


@pytest.mark.parametrize(
    "body", [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "x"}]
)
def test_wrong_credentials_are_a_401_and_change_nothing(engine, alice, body):
    client = new_client()
    client.post("/prefs", {"name": "theme", "value": "dark"}, content_type=JSON)
    key = cookie(client)
    response = sign_in(client, body)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid username or password."}
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert cookie(client) == key and me(client) is None


def test_an_inactive_user_cannot_sign_in(db, alice):
    alice.is_active = False
    alice.save()
    assert sign_in(new_client()).status_code == 401


BAD = [
    pytest.param("not json", JSON, 400, "not valid JSON", id="not-json"),
    pytest.param(json.dumps(ALICE), "text/plain", 415, "application/json", id="text-plain"),
    pytest.param(
        "username=alice&password=x",
        "application/x-www-form-urlencoded",
        415,
        "application/json",
        id="form",
    ),
    pytest.param(
        json.dumps({"password": PASSWORD}), JSON, 400, "'username' is required", id="no-username"
    ),
    pytest.param(
        json.dumps({"username": "alice"}), JSON, 400, "'password' is required", id="no-password"
    ),
    pytest.param(
        json.dumps({"username": 1, "password": PASSWORD}),
        JSON,
        400,
        "must be a string",
        id="number",
    ),
    pytest.param(
        json.dumps({"username": "", "password": PASSWORD}),
        JSON,
        400,
        "must not be empty",
        id="empty",
    ),
    pytest.param(
        json.dumps({"username": "a" * 151, "password": PASSWORD}),
        JSON,
        400,
        "at most 150",
        id="long-username",
    ),
    pytest.param(
        json.dumps({"username": "alice", "password": "p" * 1025}),
        JSON,
        400,
        "at most 1024",
        id="long-password",
    ),
    pytest.param(
        '{"username": "\\ud800", "password": "x"}',
        JSON,
        400,
        "lone surrogate",
        id="surrogate-username",
    ),
    pytest.param(
        '{"username": "alice", "password": "\\udfff"}',
        JSON,
        400,
        "lone surrogate",
        id="surrogate-password",
    ),
    pytest.param(
        json.dumps({"username": "ali\x00ce", "password": "x"}),
        JSON,
        400,
        "control character (U+0000 at 3)",
        id="nul",
    ),
    pytest.param(
        json.dumps({"username": "alice\u202e", "password": "x"}),
        JSON,
        400,
        "control character (U+202E",
        id="bidi-override",
    ),
]


@pytest.mark.parametrize("body, content_type, status, message", BAD)
def test_bad_input_is_a_json_4xx_and_changes_nothing(
    engine, alice, body, content_type, status, message
):
    client = new_client()
    sign_in(client)
    key = cookie(client)
    response = sign_in(client, body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert cookie(client) == key and me(client)["username"] == "alice"


def test_a_password_may_hold_control_characters(db):
    User.objects.create_user("carol", password="tab\there")
    assert sign_in(new_client(), {"username": "carol", "password": "tab\there"}).status_code == 200


def test_sign_out_needs_json(db, alice):
    client = new_client()
    sign_in(client)
    response = client.post("/auth/logout")  # what a cross-site form could send
    assert response.status_code == 415
    assert me(client)["username"] == "alice"


@pytest.mark.parametrize(
    "method, path, allow",
    [("get", "/auth/login", "POST"), ("get", "/auth/logout", "POST"), ("post", "/auth/me", "GET")],
)
def test_wrong_method_is_a_json_405(db, method, path, allow):
    client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
    response = getattr(client, method)(path)
    assert response.status_code == 405 and response["Allow"] == allow


# --- The seed's /login grants nothing -----------------------------------------------------------


def test_the_seeds_login_signs_no_one_in(engine, alice):
    owner = new_client()
    sign_in(owner)
    claimer = new_client()
    claimed = {"userId": str(alice.pk), "userNm": "alice"}
    assert claimer.post("/login", claimed, content_type=JSON).status_code == 200
    assert me(claimer) is None
    assert claimer.get("/sessions").status_code == 401
    assert claimer.post("/logout-everywhere", "{}", content_type=JSON).status_code == 401
    assert me(owner)["username"] == "alice"


def test_the_page_labels_the_seeds_login_unauthenticated(db, alice):
    client = new_client()
    page = client.get("/").content.decode()
    assert 'id="unauthenticated"' in page and "grants nothing" in page
    assert 'id="signin"' in page and '<dd id="signedIn">nobody</dd>' in page
    sign_in(client)
    assert '<dd id="signedIn">alice</dd>' in client.get("/").content.decode()


# --- The throttle -------------------------------------------------------------------------------


def fail(client, username="alice"):
    return sign_in(client, {"username": username, "password": "wrong"})


def test_five_failures_lock_the_username_with_retry_after(engine, alice):
    for _ in range(4):
        assert fail(new_client()).status_code == 401
    fifth = fail(new_client())
    assert fifth.status_code == 429
    assert fifth["Retry-After"] == "300"
    assert "Too many failed sign-ins" in fifth.json()["error"]
    # Locked: the right password too, from another address, and whatever the case.
    for body in (ALICE, {"username": "ALICE", "password": PASSWORD}):
        response = sign_in(new_client("203.0.113.9"), body)
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 300
        assert settings.SESSION_COOKIE_NAME not in response.cookies
    # Another user is not locked.
    User.objects.create_user("bob", password=PASSWORD)
    assert sign_in(new_client(), {"username": "bob", "password": PASSWORD}).status_code == 200


def test_one_address_is_locked_after_its_own_limit(db, alice, settings):
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "ADDRESS_FAILURES": 3}
    attacker = "192.0.2.66"
    for name in ("u1", "u2"):
        assert fail(new_client(attacker), name).status_code == 401
    assert fail(new_client(attacker), "u3").status_code == 429
    assert sign_in(new_client(attacker)).status_code == 429  # alice, from there
    assert sign_in(new_client("192.0.2.67")).status_code == 200  # alice, from elsewhere


def test_ipv6_addresses_count_by_their_64(db, alice, settings):
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "ADDRESS_FAILURES": 2}
    assert fail(new_client("2001:db8:1:2::1"), "u1").status_code == 401
    assert fail(new_client("2001:db8:1:2::ffff"), "u2").status_code == 429
    assert sign_in(new_client("2001:db8:1:3::1")).status_code == 200


def test_a_success_clears_the_usernames_count(db, alice):
    for _ in range(4):
        fail(new_client())
    assert sign_in(new_client()).status_code == 200
    for _ in range(4):
        assert fail(new_client()).status_code == 401


def test_the_lock_ends_after_the_window(db, alice, settings):
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "USERNAME_FAILURES": 1, "WINDOW_SECONDS": 1}
    response = fail(new_client())
    assert response.status_code == 429 and response["Retry-After"] == "1"
    assert sign_in(new_client()).status_code == 429
    time.sleep(1.1)
    assert sign_in(new_client()).status_code == 200


def test_the_throttle_counts_on_redis_under_the_redis_settings(db, alice, redis_url, settings):
    from django_redis import get_redis_connection

    from sessiondemo.settings import redis as redis_settings

    throttle_cache = {**redis_settings.CACHES["throttle"], "LOCATION": redis_url}
    settings.CACHES = {**settings.CACHES, "throttle": throttle_cache}
    connection = get_redis_connection("throttle")
    connection.flushdb()
    fail(new_client())
    keys = [key.decode() for key in connection.keys("*")]
    assert keys and all(key.startswith("sessiondemo:throttle:") for key in keys)
    assert not any("alice" in key for key in keys)  # usernames are digested


def test_an_unreachable_throttle_is_a_503_not_a_free_pass(db, alice, settings):
    from harness.servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    unreachable = {**settings.CACHES["sessions"], "LOCATION": url, "KEY_PREFIX": "t"}
    settings.CACHES = {**settings.CACHES, "throttle": unreachable}
    response = sign_in(new_client())
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_unknown_throttle_options_are_refused(settings):
    settings.AUTH_THROTTLE = {"FAILURES": 5}
    with pytest.raises(ValueError, match="unknown keys"):
        throttle.options()


# --- Which address is the client's --------------------------------------------------------------


def request_from(remote, forwarded=None):
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


@pytest.mark.parametrize(
    "hops, forwarded, expected",
    [
        (0, "203.0.113.1", "10.0.0.2"),  # no proxy trusted: the header is the client's text
        (1, None, "10.0.0.2"),  # not through the proxy
        (1, "203.0.113.1", "203.0.113.1"),  # the ALB appended it
        (1, "1.2.3.4, 203.0.113.1", "203.0.113.1"),  # the client's own entry is ignored
        (1, "1.2.3.4,203.0.113.1", "203.0.113.1"),
        (2, "1.2.3.4, 203.0.113.1, 10.0.0.9", "203.0.113.1"),  # CDN then ALB
        (2, "203.0.113.1", "10.0.0.2"),  # too short to have passed both
        (1, "1.2.3.4, not-an-address", "10.0.0.2"),
        (1, "1.2.3.4, 2001:DB8::1", "2001:db8::1"),
    ],
)
def test_client_address_is_the_one_the_outermost_trusted_proxy_appended(
    settings, hops, forwarded, expected
):
    settings.TRUSTED_PROXY_HOPS = hops
    assert throttle.client_address(request_from("10.0.0.2", forwarded)) == expected


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(db, alice, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    settings.AUTH_THROTTLE = {**settings.AUTH_THROTTLE, "ADDRESS_FAILURES": 2}
    client = new_client("10.0.0.2")  # the load balancer
    for index, expected in enumerate((401, 429)):
        forged = f"198.51.100.{index}, 203.0.113.50"  # the LB appended the last one
        response = client.post(
            "/auth/login",
            json.dumps({"username": f"u{index}", "password": "x"}),
            content_type=JSON,
            headers={"X-Forwarded-For": forged},
        )
        assert response.status_code == expected
