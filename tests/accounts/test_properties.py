"""Property-based tests (hypothesis) over the auth and session endpoints.

Random methods, bodies, content types, cookies of every length and alphabet, headers, and
strings UTF-8 cannot encode: never a 5xx, always a JSON answer, and a rejected request (4xx)
changes no session: the signed-in session reads as before and no session cookie is set.
Bounded (max_examples, no deadline), on the db engine and the native Redis engine.
"""

import json
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.validation import first_control

PASSWORD = "pw-for-properties"
ENDPOINTS = [
    "/login",
    "/session",
    "/logout",
    "/prefs",
    "/auth/login",
    "/auth/logout",
    "/auth/me",
    "/sessions",
    "/logout-everywhere",
]
FIELDS = ["userId", "userNm", "name", "value", "username", "password"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "",
    "application/JSON",
    "application/json;;",
]
OWN_KEY = "<the signed-in session's key>"
ENGINES = ["db", "redis"]  # one local, one shared store
SETTINGS = hypothesis_settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,  # and nothing written to .hypothesis/
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every kind of character: lone surrogates, controls, bidi overrides, separators included.
characters = st.one_of(
    st.characters(),
    st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]),
    st.sampled_from("\x00\n\r\t\x7f\x85\u202e\u2028\ufeff\U0010ffff"),
)
strings = st.text(characters, max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=6,
)
json_objects = st.dictionaries(st.sampled_from(FIELDS) | strings, json_values, max_size=5)
# The bytes a client sends: JSON (ensure_ascii turns a lone surrogate into "\ud800"), JSON
# in UTF-8 with whatever it can encode, or anything at all.
bodies = st.one_of(
    json_objects.map(lambda data: json.dumps(data).encode()),
    json_objects.map(lambda data: json.dumps(data, ensure_ascii=False).encode("utf-8", "replace")),
    json_values.map(lambda data: json.dumps(data).encode()),
    st.binary(max_size=200),
)
# A header's value as WSGI hands it over: bytes off the wire, decoded as Latin-1.
header_values = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
cookies = st.one_of(
    st.none(),
    st.just(OWN_KEY),  # the signed-in session's own key
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=32, max_size=32),
    header_values,  # every length and alphabet
)
requests_ = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "POST", "POST", "POST", "PUT", "DELETE", "HEAD"]),
        "path": st.sampled_from(ENDPOINTS),
        "body": bodies,
        "content_type": st.sampled_from(CONTENT_TYPES) | header_values,
        "cookie": cookies,
        "user_agent": header_values,
        "forwarded_for": st.none() | header_values,
    }
)


@pytest.fixture
def store(request, settings, db):
    """The engine under test, with fast password hashing and an emptied throttle."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SESSION_ENGINE = import_module(f"sessiondemo.settings.{request.param}").SESSION_ENGINE
    if request.param == "redis":
        url = request.getfixturevalue("redis_server_url")
        sessions = {**settings.CACHES["sessions"], "LOCATION": url}
        settings.CACHES = {**settings.CACHES, "sessions": sessions}
        from django_redis import get_redis_connection

        get_redis_connection("sessions").flushdb()
    User.objects.create_user("alice", password=PASSWORD)
    return import_module(settings.SESSION_ENGINE).SessionStore


def signed_in_alice():
    """A client signed in as alice, with a preference and the seed's UserInfo; its cookie."""
    caches["throttle"].clear()  # examples that failed to sign in as alice must not lock her
    client = Client(headers={"X-Forwarded-Proto": "https"})
    credentials = json.dumps({"username": "alice", "password": PASSWORD})
    response = client.post("/auth/login", credentials, content_type="application/json")
    assert response.status_code == 200
    client.post("/prefs", {"name": "theme", "value": "dark"}, content_type="application/json")
    client.post("/login", {"userId": "a", "userNm": "A"}, content_type="application/json")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def send(case, key):
    cookie = key if case["cookie"] == OWN_KEY else case["cookie"]
    meta = {
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_USER_AGENT": case["user_agent"],
        **({} if cookie is None else {"HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={cookie}"}),
    }
    if case["forwarded_for"] is not None:
        meta["HTTP_X_FORWARDED_FOR"] = case["forwarded_for"]
    client = Client(raise_request_exception=False)
    return client.generic(
        case["method"], case["path"], case["body"], content_type=case["content_type"], **meta
    )


def assert_sound(response):
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"] == "application/json"
    if response.content:
        json.loads(response.content)


@pytest.mark.parametrize("store", ENGINES, indirect=True)
@hypothesis_settings(SETTINGS, max_examples=300)
@given(case=requests_)
def test_no_request_is_a_5xx_and_a_rejected_one_changes_no_session(store, case):
    key = signed_in_alice()
    before = store(key).load()
    response = send(case, key)
    assert_sound(response)
    if response.status_code >= 400:
        assert_no_new_session(response, own=case["cookie"] == OWN_KEY)
        assert store(key).load() == before


def assert_no_new_session(response, *, own):
    """No key handed out; for a cookie naming no session, at most Django's expiry of it."""
    morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
    assert morsel is None or (not own and morsel.value == "")


@pytest.mark.parametrize("store", ENGINES, indirect=True)
@hypothesis_settings(SETTINGS, max_examples=150)
@given(
    path=st.sampled_from(["/login", "/prefs", "/auth/login"]),
    values=st.fixed_dictionaries({field: strings for field in FIELDS}),
)
def test_strings_utf8_cannot_encode_or_controls_are_a_400(store, path, values):
    """Every field of the JSON endpoints, with any string: stored only if it is clean text."""
    key = signed_in_alice()
    before = store(key).load()
    body = json.dumps(values).encode()  # a lone surrogate travels as its JSON escape
    case = {
        "method": "POST",
        "path": path,
        "body": body,
        "content_type": "application/json",
        "cookie": OWN_KEY,
        "user_agent": "pytest",
        "forwarded_for": None,
    }
    response = send(case, key)
    assert_sound(response)
    used = {"/login": FIELDS[:2], "/prefs": FIELDS[2:4], "/auth/login": FIELDS[4:5]}[path]
    if any(not clean(values[field]) for field in used):
        assert response.status_code == 400
    if response.status_code >= 400:
        assert store(key).load() == before
    else:
        morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
        stored = store(morsel.value if morsel else key).load()
        assert all(clean(text) for text in strings_in(stored))


def clean(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return first_control(text) is None


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
