"""Requests through the app: DynamoDB calls per request, and what the client sees on failures.

Failures are made on ``moto server`` by answering botocore's requests before they are sent
(the ``before-send`` event): throttling and 5xx after botocore's retries, timeouts, a missing
table. Every one is a 503 JSON answer with Retry-After, and nothing is written.
"""

import json
import socket

import pytest
from botocore.awsrequest import AWSResponse
from django.conf import settings

from session_engines.backends import dynamodb

from ..helpers import assert_503, new_client, sign_in, use_table, user_id, user_info


def items():
    return dynamodb.call("scan", ConsistentRead=True)["Items"]


# dynalite has no transactions: the engine puts the new item, then deletes the old one.
NO_TRANSACTIONS = ["TransactWriteItems", "PutItem", "DeleteItem"]


def test_each_request_pays_the_fewest_calls(ddb, api_calls):
    client = new_client()
    user_id("bob")  # the users exist
    sign_in(client, "alice")
    assert api_calls == ["PutItem"]  # a new session: one conditional put
    api_calls.clear()
    assert user_info(client) == {"userId": user_id("alice")}
    assert api_calls == ["GetItem"]  # reading it: one get
    api_calls.clear()
    sign_in(client, "bob")
    assert api_calls == ["GetItem", "DeleteItem", "PutItem"]  # another user: flushed, a new key
    api_calls.clear()
    client.post("/sign-out")
    assert api_calls == ["GetItem", "DeleteItem"]  # logout() reads the user, then flushes
    api_calls.clear()
    client.cookies[settings.SESSION_COOKIE_NAME] = "madeupsessionkey1234567890abcdef"
    client.get("/whoami")
    assert api_calls == ["GetItem"]  # an unknown cookie: one get, nothing written
    assert items() == []


def test_a_session_too_large_is_a_json_507_and_nothing_is_written(ddb):
    client = sign_in(new_client(), "alice")
    before = items()
    response = client.post("/remember?bytes=600000")
    assert response.status_code == 507
    assert response.json() == {"error": "The session is too large to store."}
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert items() == before
    assert user_info(client) == {"userId": user_id("alice")}
    assert client.post("/remember?bytes=1000").status_code == 200  # a reasonable size is fine


class Body:
    def __init__(self, data):
        self.data = data

    def stream(self, **kwargs):
        yield self.data


@pytest.fixture
def no_backoff(monkeypatch):
    """botocore still retries, without sleeping between tries (keeps the tests fast)."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda *a: 0)


@pytest.fixture
def failing(server_table, no_backoff):
    """failing("GetItem", 400, "ThrottlingException"): every try of it gets that answer."""
    attempts = []
    events = dynamodb.get_client().meta.events
    handlers = []

    def fail(operation, status, code):
        def answer(request, **kwargs):
            attempts.append(operation)
            body = json.dumps(
                {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code}
            )
            headers = {"x-amzn-RequestId": "stub", "Content-Type": "application/x-amz-json-1.0"}
            return AWSResponse(request.url, status, headers, Body(body.encode()))

        handlers.append((f"before-send.dynamodb.{operation}", answer))
        events.register(*handlers[-1])
        return attempts

    yield fail
    for handler in handlers:
        events.unregister(*handler)


@pytest.mark.parametrize(
    "status, code",
    [
        (400, "ThrottlingException"),
        (400, "ProvisionedThroughputExceededException"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ],
)
def test_a_read_failing_after_retries_is_503_never_a_logout(failing, status, code):
    client = sign_in(new_client(), "alice")
    user_id("bob")
    before = items()
    attempts = failing("GetItem", status, code)
    assert_503(client.get("/whoami"))
    assert attempts == ["GetItem"] * 3  # botocore's standard mode tried three times
    assert_503(client.post("/sign-in", {"username": "bob"}))
    assert items() == before  # nothing written, nothing deleted


def test_a_failing_write_is_503_and_writes_nothing(failing):
    attempts = failing("PutItem", 400, "ThrottlingException")
    user_id("alice")
    assert_503(new_client().post("/sign-in", {"username": "alice"}))
    assert attempts == ["PutItem"] * 3
    assert items() == []


def test_signing_in_over_a_session_rotates_its_key_in_one_transaction(ddb, api_calls):
    client = new_client()
    client.post("/remember")  # a visitor's session, before they sign in
    (before,) = items()
    api_calls.clear()
    sign_in(client, "alice")  # login() cycles the key
    assert api_calls in (["GetItem", "TransactWriteItems"], ["GetItem", *NO_TRANSACTIONS])
    (after,) = items()  # the new item put, the old one deleted
    assert after["pk"] != before["pk"] and after["data"] != before["data"]


def test_a_rotation_the_store_refuses_keeps_the_session(failing):
    # The rotation is one transaction (the new item put, the old one deleted): refused, it is a
    # 503 and leaves the old session whole, still the client's.
    client = new_client()
    client.post("/remember")
    before = items()
    user_id("alice")
    attempts = failing("TransactWriteItems", 400, "ThrottlingException")
    assert_503(client.post("/sign-in", {"username": "alice"}))
    assert attempts == ["TransactWriteItems"] * 3
    assert items() == before
    assert client.post("/remember").status_code == 200  # the old session, found and updated


def test_a_missing_table_is_503(server_table, settings):
    settings.SESSION_DYNAMODB = {**settings.SESSION_DYNAMODB, "TABLE_NAME": "no-such-table"}
    user_id("alice")
    assert_503(new_client().post("/sign-in", {"username": "alice"}))


def test_a_store_that_never_answers_is_503_within_the_timeouts(server_table, settings, no_backoff):
    client = sign_in(new_client(), "alice")
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        settings.SESSION_DYNAMODB = {
            **settings.SESSION_DYNAMODB,
            "ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "CLIENT_CONFIG": {"connect_timeout": 0.2, "read_timeout": 0.2},
        }
        assert_503(client.get("/whoami"))


def test_a_store_that_refuses_connections_is_503(server_table, settings, no_backoff):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        use_table(settings, endpoint_url=f"http://127.0.0.1:{port}")
        user_id("alice")
        assert_503(new_client().post("/sign-in", {"username": "alice"}))
