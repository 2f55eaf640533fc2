"""A success that is not DynamoDB's is a 503, never "no session": a proxy's page, ``{}``, no
request id, a CRC32 that does not match, a field DynamoDB always sends missing.

moto server behind harness.dynamodb's rewriting proxy, which alters the answers to one
operation; the engine and its operator talk to the proxy.
"""

import json
import zlib

import pytest

from harness.dynamodb import rewriting
from session_engines import dynamodb_table
from session_engines.backends import dynamodb
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.operators import get_operator

from ..helpers import NOBODY, assert_503, key_of, new_client, sign_in, user_id, with_cookie


def with_crc(headers, body):
    """``headers`` with the x-amz-crc32 of ``body``, as DynamoDB computes it."""
    return {**headers, "x-amz-crc32": str(zlib.crc32(body) & 0xFFFFFFFF)}


def without(headers, name):
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


# name: f(status, headers, body) -> the answer the proxy gives instead.
FOREIGN = {
    "maintenance-page": lambda status, headers, body: (
        200,
        {"Content-Type": "text/html"},
        b"<html><body>Down for maintenance</body></html>",
    ),
    "empty-object": lambda status, headers, body: (
        200,
        {"Content-Type": "application/x-amz-json-1.0"},
        b"{}",
    ),
    "no-request-id": lambda status, headers, body: (
        status,
        without(headers, "x-amzn-RequestId"),
        body,
    ),
    # Still the same JSON, one byte more: only the checksum tells.
    "crc32-mismatch": lambda status, headers, body: (status, headers, body + b" "),
    "no-crc32": lambda status, headers, body: (status, without(headers, "x-amz-crc32"), body),
}


def replaced(fields):
    """The answer with ``fields`` over its JSON body (None: the field removed), re-checksummed:
    only the body's content is wrong."""

    def rewrite(status, headers, body):
        parsed = json.loads(body)
        for name, value in fields.items():
            if value is None:
                parsed.pop(name, None)
            else:
                parsed[name] = value
        new = json.dumps(parsed).encode()
        return status, with_crc(headers, new), new

    return rewrite


# Answers that pass every header check, but lack what DynamoDB always sends.
MALFORMED = {
    ("item-not-a-map", "GetItem"): replaced({"Item": "a string"}),
    ("no-items", "Query"): replaced({"Items": None}),
    ("no-count", "Query"): replaced({"Count": None}),
    ("no-items", "Scan"): replaced({"Items": None}),
    ("no-count", "Scan"): replaced({"Count": None}),
}

OPERATIONS = ["GetItem", "PutItem", "DeleteItem", "Query", "Scan"]


@pytest.fixture
def proxy(request, settings, fake_credentials, db, moto_server_url):
    """The rewriting proxy in front of moto server, and a sessions table made through it."""
    from ..helpers import use_table

    with rewriting(moto_server_url) as running:
        table = use_table(settings, endpoint_url=running.url)
        client = dynamodb.get_client()
        dynamodb_table.create_table(client, table)
        dynamodb_table.wait_active(client, table, delay=0.05, timeout=10)
        yield running
        running.rewrite = None
        client.delete_table(TableName=table)


def rewrite_only(proxy, operation, rewrite):
    def answer(called, status, headers, body):
        return rewrite(status, headers, body) if called == operation else (status, headers, body)

    proxy.rewrite = answer


def perform(operation):
    """Run what calls ``operation`` (signed in as alice first); the response (or the error)."""
    key = key_of(sign_in(new_client(), "alice"))
    if operation == "GetItem":
        return key, lambda: with_cookie(key).get("/whoami")
    if operation == "PutItem":
        return None, lambda: new_client().post("/sign-in", {"username": "alice"})
    if operation == "DeleteItem":
        return key, lambda: with_cookie(key).post("/sign-out")
    if operation == "Query":
        return key, lambda: with_cookie(key).get("/sessions")
    return key, lambda: get_operator().list()


CASES = [
    pytest.param(name, operation, rewrite, id=f"{name}-{operation}")
    for name, rewrite in FOREIGN.items()
    for operation in OPERATIONS
] + [
    pytest.param(name, operation, rewrite, id=f"{name}-{operation}")
    for (name, operation), rewrite in MALFORMED.items()
]


@pytest.mark.parametrize(("name", "operation", "rewrite"), CASES)
def test_a_foreign_or_malformed_success_is_a_503_never_no_session(proxy, name, operation, rewrite):
    key, call = perform(operation)
    rewrite_only(proxy, operation, rewrite)
    if operation == "Scan":
        with pytest.raises(SessionStoreUnavailable, match="Not a DynamoDB response"):
            call()
    else:
        assert_503(call())
    proxy.rewrite = None
    if key is not None and operation != "DeleteItem":  # (a DeleteItem was applied upstream)
        assert with_cookie(key).get("/whoami").json() == {"userId": user_id("alice")}


def test_the_proxy_relays_dynamodb_as_is(proxy):
    """The control: unaltered, every operation through the proxy answers as DynamoDB's."""
    client = sign_in(new_client(), "alice")
    assert client.get("/whoami").json() == {"userId": user_id("alice")}
    assert [r.id for r in get_operator().list().records]
    assert len(client.get("/sessions").json()["sessions"]) == 1
    assert with_cookie("no-such-session-key-0123456789ab").get("/whoami").json() == NOBODY
    assert client.post("/sign-out").status_code == 200
    assert client.get("/whoami").json() == NOBODY


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        ({"x-amz-crc32": "0"}, b"{}", "x-amzn-RequestId"),
        ({"x-amzn-RequestId": "r"}, b"{}", "no x-amz-crc32"),
        ({"x-amzn-RequestId": "r", "x-amz-crc32": "12"}, b"{}", "CRC32"),
        (with_crc({"x-amzn-RequestId": "r"}, b"[]"), b"[]", "JSON object"),
        (with_crc({"x-amzn-RequestId": "r"}, b"<html>"), b"<html>", "not JSON"),
        (with_crc({"x-amzn-RequestId": "r"}, b'{"Count": 0}'), b'{"Count": 0}', "Items"),
    ],
)
def test_why_a_success_is_foreign(headers, body, why):
    assert why in dynamodb.foreign("Query", headers, body)


def test_a_store_that_sends_no_crc32_can_be_allowed_but_a_wrong_one_never():
    """REQUIRE_CRC32 False (ScyllaDB's Alternator sends none by default)."""
    assert dynamodb.foreign("GetItem", {"x-amzn-RequestId": "r"}, b"{}", False) is None
    wrong = {"x-amzn-RequestId": "r", "x-amz-crc32": "1"}
    assert "CRC32" in dynamodb.foreign("GetItem", wrong, b"{}", False)


def test_require_crc32_false_lets_a_store_without_it_serve_sessions(proxy, settings):
    settings.SESSION_DYNAMODB = {**settings.SESSION_DYNAMODB, "REQUIRE_CRC32": False}
    proxy.rewrite = lambda operation, status, headers, body: (
        status,
        without(headers, "x-amz-crc32"),
        body,
    )
    client = sign_in(new_client(), "alice")
    assert client.get("/whoami").json() == {"userId": user_id("alice")}


def test_getitem_without_an_item_is_dynamodbs_answer_for_no_such_session():
    headers = with_crc({"x-amzn-RequestId": "r"}, b"{}")
    assert dynamodb.foreign("GetItem", headers, b"{}") is None
