"""What the fuzz tests of both suites share: hypothesis strategies for whole requests, the
settings that bound a run, and the properties every answer must have.

Nothing here knows any project: the app's tests (tests/session_engines/test_fuzz.py) and the
demo's (tests/accounts/test_fuzz.py) each name their own paths and fields.

A run's size: ``budget(n)`` examples, times 25 under ``HYPOTHESIS_PROFILE=long`` (``make fuzz``).
The seed is random per run unless ``--hypothesis-seed=N`` forces it; harness/pytest_fuzz.py
prints it in the header and, after a failure, the command that replays it.
"""

import json
import os
from urllib.parse import quote_from_bytes

from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

SCALE = {"ci": 1, "long": 25}


def budget(examples):
    """Return ``settings`` for a test of ``examples`` cases (more under the long profile)."""
    scale = SCALE.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), 1)
    return hypothesis_settings(
        max_examples=examples * scale,
        deadline=None,  # a store round trip is not a bug
        database=None,  # nothing written to .hypothesis/: the seed alone replays a run
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- Text ---------------------------------------------------------------------------------------

# Every kind of character: lone surrogates, controls, bidi overrides, separators included.
characters = st.one_of(
    st.characters(),
    st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]),
    st.sampled_from("\x00\n\r\t\x7f\x85\u202e\u2028\ufeff\U0010ffff"),
)
strings = st.text(characters, max_size=40)
# Strings UTF-8 cannot encode: at least one lone surrogate.
unencodable = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    strings,
    st.characters(categories=["Cs"]),
    strings,
)

# --- Bodies -------------------------------------------------------------------------------------

NO_NAMES = st.nothing()  # a suite without field names of its own


def json_values(names=NO_NAMES):
    """Any JSON value; object keys are ``names`` (a project's fields) or any string."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | strings,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(names | strings, inner, max_size=3)
        ),
        max_leaves=6,
    )


def nested(depth):
    """Return a JSON text nested ``depth`` deep: arrays or objects (a parser's recursion)."""
    return st.sampled_from(
        [
            b"[" * depth + b"]" * depth,
            b'{"a":' * depth + b"1" + b"}" * depth,
        ]
    )


def huge(chunks):
    """Bodies from just over a size limit to megabytes: a chunk repeated."""
    return st.builds(lambda chunk, times: chunk * times, chunks, st.integers(1, 3000))


def bodies(names=NO_NAMES):
    """The bytes a client sends: JSON objects and values, escaped (a lone surrogate travels as
    ``"\\ud800"``) or raw UTF-8 with whatever it can encode; any bytes (invalid UTF-8); deeply
    nested JSON; huge bodies."""
    objects = st.dictionaries(names | strings, json_values(names), max_size=5)
    return st.one_of(
        objects.map(lambda data: json.dumps(data).encode()),
        objects.map(lambda data: json.dumps(data, ensure_ascii=False).encode("utf-8", "replace")),
        json_values(names).map(lambda data: json.dumps(data).encode()),
        st.binary(max_size=200),
        (st.sampled_from([999, 1000, 5000, 8000, 100_000]) | st.integers(1, 100_000)).flatmap(
            nested
        ),
        huge(st.sampled_from([b"x", b"[1,", b'{"a":"\\ud800",', "é".encode(), b"\xff"])),
    )


# --- Headers and cookies ------------------------------------------------------------------------

# A header's value as WSGI hands it over: bytes off the wire, decoded as Latin-1.
header_values = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))


def as_sent(text):
    """Return ``text`` as a client sends it in a header: its UTF-8, as WSGI decodes it."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=no-such-codec",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "",
    "application/JSON",
    "application/json;;",
]
content_types = st.sampled_from(CONTENT_TYPES) | header_values
OWN_KEY = "<the signed-in session's key>"  # a cookie strategy's stand-in, replaced when sent
cookies = st.one_of(
    st.none(),
    st.just(OWN_KEY),
    st.just(OWN_KEY).map(lambda own: own + "x"),  # the own key with a character more
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=32, max_size=32),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=2000),  # every length
    header_values,  # every alphabet, controls included
    strings.map(as_sent),  # any text as UTF-8 (a lone surrogate: bytes UTF-8 never makes)
)
# What the WSGI server would take as CONTENT_LENGTH: the real one (None), or a lie no larger
# than the body (the test client's payload cannot be read past its end, unlike a socket).
content_lengths = st.none() | st.sampled_from(["", "-1", "0", "abc", "1e3", " 1", "0x10"])
headers = st.fixed_dictionaries(
    {
        "HTTP_USER_AGENT": header_values,
        "HTTP_X_FORWARDED_FOR": header_values,
        "HTTP_ACCEPT": header_values,
        "HTTP_ORIGIN": header_values,
        "HTTP_REFERER": header_values,
        "HTTP_X_CSRFTOKEN": header_values,
    }
).flatmap(
    lambda all_: st.sets(st.sampled_from(sorted(all_))).map(lambda keep: keep_only(all_, keep))
)


def keep_only(mapping, keys):
    return {key: value for key, value in mapping.items() if key in keys}


METHODS = ["GET", "POST", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def path_segments():
    """One path segment: text, or raw bytes percent-encoded (invalid UTF-8 included); no '/'."""
    raw = st.binary(max_size=80).filter(lambda raw: b"/" not in raw)
    return st.text(characters.filter(lambda c: c not in "/?#%"), max_size=80).map(
        lambda text: quote(text)
    ) | raw.map(quote_from_bytes)


def quote(text):
    return quote_from_bytes(as_sent(text).encode("latin-1"))


def requests(paths, names=NO_NAMES, **more):
    """Whole requests to ``paths`` (a strategy): method, body, content type, cookie, headers,
    and whether it passes CSRF (a matching token cookie and header, a same-site Origin: what
    reaches the form parsing behind it); ``more``: strategies for a suite's own fields."""
    return st.fixed_dictionaries(
        {
            "method": st.sampled_from(METHODS),
            "csrf": st.booleans(),
            "path": paths,
            "body": bodies(names),
            "content_type": content_types,
            "content_length": content_lengths,
            "cookie": cookies,
            "headers": headers,
            **more,
        }
    )


CSRF_TOKEN = "f" * 32


def send(case, key, *, scheme="http", **meta):
    """Send ``case`` with ``key`` for the cookie's stand-in; return the answer (never raise).

    ``scheme``: the site's, for the Origin sent with a passing CSRF token.
    """
    cookie = case["cookie"]
    if cookie is not None and cookie.startswith(OWN_KEY):
        cookie = key + cookie[len(OWN_KEY) :]
    meta |= case["headers"]
    cookies = [] if cookie is None else [f"{settings.SESSION_COOKIE_NAME}={cookie}"]
    if case.get("csrf"):
        cookies.append(f"{settings.CSRF_COOKIE_NAME}={CSRF_TOKEN}")
        meta.setdefault("HTTP_HOST", "testserver")
        meta |= {"HTTP_X_CSRFTOKEN": CSRF_TOKEN, "HTTP_ORIGIN": f"{scheme}://{meta['HTTP_HOST']}"}
    if cookies:
        meta["HTTP_COOKIE"] = "; ".join(cookies)
    if case["content_length"] is not None:
        meta["CONTENT_LENGTH"] = case["content_length"]
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)  # as browsers are
    return client.generic(
        case["method"], case["path"], case["body"], content_type=case["content_type"], **meta
    )


def a_request(**fields):
    """An @example case: a plain GET of /sessions with the own cookie, ``fields`` changed."""
    plain = {
        "method": "GET",
        "path": "/sessions",
        "body": b"",
        "content_type": "application/json",
        "content_length": None,
        "cookie": OWN_KEY,
        "headers": {},
        "csrf": False,
    }
    return plain | fields


# --- Properties ---------------------------------------------------------------------------------


def assert_json_error(response):
    """Assert that ``response`` is no 5xx, and that an error is a JSON object saying why."""
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert_json(response)
        if response.content:  # a HEAD answer has no body
            assert "error" in response.json()


def assert_json(response):
    assert response["Content-Type"] == "application/json", (
        response.status_code,
        response.content[:300],
    )
    if response.content:
        json.loads(response.content)


def assert_no_session_handed_out(response, *, own):
    """No key handed out; for a cookie naming no session, at most Django's expiry of it."""
    morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
    assert morsel is None or (not own and morsel.value == ""), morsel
