"""Fuzzing every endpoint of the demo (hypothesis): the seed's API, /prefs, /auth/..., the app's
/sessions views, the home page, the admin and paths that resolve to nothing.

Random methods, bodies (JSON, not JSON, nested, huge, invalid UTF-8), content types and
lengths, headers, Host, cookies of every length and alphabet, strings UTF-8 cannot encode.
Properties: never a 5xx; every error a JSON object (Content-Type application/json); a rejected
request (4xx) hands out no session and changes none: the signed-in session's stored data,
last-seen included (the policy's clock ticks on every read), is as before. On the db engine,
the native Redis engine and DynamoDB (moto). Strategies: tests/session_engines/fuzzing.py.
"""

import itertools
import json
import time
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from hypothesis import example, given
from hypothesis import strategies as st

from accounts.validation import first_control
from session_engines import policy
from tests.session_engines import fuzzing
from tests.session_engines.fuzzing import OWN_KEY, strings

PASSWORD = "pw-for-fuzzing"
FORM = "application/x-www-form-urlencoded"
STATIC_FILES = "django.contrib.staticfiles.storage.StaticFilesStorage"
JSON_ENDPOINTS = [
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
OTHER_ENDPOINTS = [
    "/",
    "/healthz",
    "/sessions/",  # CommonMiddleware's APPEND_SLASH, the other way round
    "/admin/",
    "/admin/login/",
    "/admin/logout/",
    "/admin/session_engines/session/",
    "/admin/session_engines/session/logout-everywhere/",
    "/admin/auth/user/",
    "/admin/no-such-app/",
    "/static/no-such-file.css",
]
FIELDS = ["userId", "userNm", "name", "value", "username", "password"]
ENGINES = ["db", "redis", "dynamodb"]  # the test engine, and both shared stores
paths = st.one_of(
    st.sampled_from(JSON_ENDPOINTS),
    st.sampled_from(OTHER_ENDPOINTS),
    fuzzing.path_segments().map(lambda segment: f"/sessions/{segment}/end"),
    fuzzing.path_segments().map(lambda segment: f"/{segment}"),
)
hosts = st.none() | st.sampled_from(["localhost", "evil.example", ""]) | fuzzing.header_values


@pytest.fixture
def alice(engine, settings, monkeypatch):
    """A signed-in session (alice, a superuser) on ``engine``; call it for its current key.

    The policy's clock moves a second on every read, and last-seen is due on every load: a
    request that writes last-seen changes the stored session.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SESSION_POLICY = {"LAST_SEEN_INTERVAL": 0}
    # The admin's pages without collectstatic's manifest (the image's build makes it).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_FILES}}
    clock = itertools.count(int(time.time()))
    monkeypatch.setattr(policy, "now", lambda: next(clock))
    User.objects.create_superuser("alice", password=PASSWORD)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []

    def key():
        """Alice's key, signed in anew when a previous example signed her out."""
        if not keys or "_auth_user_id" not in store(keys[-1]).load():
            keys.append(sign_in())
        return keys[-1]

    key.store = store
    return key


def sign_in():
    """Sign alice in with a preference and the seed's UserInfo; return her session's key."""
    caches["throttle"].clear()  # examples that failed to sign in as alice must not lock her
    client = Client(headers={"X-Forwarded-Proto": "https"})
    credentials = json.dumps({"username": "alice", "password": PASSWORD})
    response = client.post("/auth/login", credentials, content_type="application/json")
    assert response.status_code == 200
    client.post("/prefs", {"name": "theme", "value": "dark"}, content_type="application/json")
    client.post("/login", {"userId": "a", "userNm": "A"}, content_type="application/json")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def send(case, key):
    meta = {"HTTP_X_FORWARDED_PROTO": "https"}
    if case["host"] is not None:
        meta["HTTP_HOST"] = case["host"]
    return fuzzing.send(case, key, scheme="https", **meta)


def check(alice, case):
    key = alice()
    before = alice.store(key).load()
    response = send(case, key)
    fuzzing.assert_json_error(response)
    if case["path"] in JSON_ENDPOINTS:
        fuzzing.assert_json(response)
    if response.status_code >= 400:
        fuzzing.assert_no_session_handed_out(response, own=case["cookie"] == OWN_KEY)
        assert alice.store(key).load() == before
    return response


def a_request(**fields):
    """An @example case: a plain POST /login, with ``fields`` changed."""
    return fuzzing.a_request(**({"method": "POST", "path": "/login", "host": None} | fields))


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@fuzzing.budget(250)
@given(case=fuzzing.requests(paths, st.sampled_from(FIELDS), host=hosts))
@example(case=a_request(method="GET", path="/admin/logout/"))  # the admin's empty 405: JSON
@example(case=a_request(method="GET", path="/admin/no-such-app/"))  # 404: no last-seen write
@example(case=a_request(method="POST", path="/sessions", content_type="text/plain"))  # 405
@example(  # past CSRF, into the admin's form parsing: a multipart body without its boundary
    case=a_request(path="/admin/login/", csrf=True, content_type="multipart/form-data", body=b"x")
)
@example(  # a form over DATA_UPLOAD_MAX_MEMORY_SIZE
    case=a_request(
        path="/admin/login/", csrf=True, content_type=FORM, body=b"username=" + b"a" * 3_000_000
    )
)
@example(case=a_request(path="/admin/login/", csrf=True, content_type=FORM, body=b"a=1&" * 1200))
def test_no_request_is_a_5xx_and_a_rejected_one_changes_no_session(alice, case):
    check(alice, case)


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@fuzzing.budget(120)
@given(
    path=st.sampled_from(["/login", "/prefs", "/auth/login", "/auth/logout", "/logout"]),
    body=fuzzing.bodies(st.sampled_from(FIELDS)),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]),
)
@example(path="/login", body=b"[" * 5000 + b"]" * 5000, content_type="application/json")
@example(path="/prefs", body=b'{"a":' * 3000 + b"1" + b"}" * 3000, content_type="application/json")
def test_any_body_to_a_json_endpoint_is_answered_json(alice, path, body, content_type):
    """Any bytes as the body of the endpoints that read one: nested too deep is a 400 too."""
    check(alice, a_request(path=path, body=body, content_type=content_type))


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
@fuzzing.budget(100)
@given(
    path=st.sampled_from(["/login", "/prefs", "/auth/login"]),
    values=st.fixed_dictionaries({field: strings | fuzzing.unencodable for field in FIELDS}),
)
def test_strings_utf8_cannot_encode_or_controls_are_a_400(alice, path, values):
    """Every field of the JSON endpoints, with any string: stored only if it is clean text."""
    body = json.dumps(values).encode()  # a lone surrogate travels as its JSON escape
    response = check(alice, a_request(path=path, body=body))
    used = {"/login": FIELDS[:2], "/prefs": FIELDS[2:4], "/auth/login": FIELDS[4:5]}[path]
    if any(not clean(values[field]) for field in used):
        assert response.status_code == 400
    if response.status_code < 400:
        morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
        stored = alice.store(morsel.value if morsel else alice()).load()
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
