"""The DynamoDB engine's tests run on three implementations: moto in-process, ``moto server``
over HTTP, and dynalite (npm). The servers start once per test session on free loopback ports;
every test gets a table of its own.
"""

import uuid

import pytest

from harness.dynamodb import FAKE_CREDENTIALS, dynalite, moto_server
from session_engines import dynamodb_table
from session_engines.backends import dynamodb

IMPLEMENTATIONS = ["moto", "moto-server", "dynalite"]


@pytest.fixture(scope="session")
def moto_server_url():
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def dynalite_url():
    with dynalite() as url:
        yield url


@pytest.fixture
def fake_credentials(monkeypatch):
    """Nothing can reach real AWS: fake keys, and no endpoint or profile from the environment."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def use_table(settings, *, endpoint_url, **options):
    """Point SESSION_DYNAMODB at a new, uniquely named table on ``endpoint_url``."""
    name = f"sessions-{uuid.uuid4().hex[:12]}"
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    settings.SESSION_DYNAMODB = {
        "TABLE_NAME": name, "REGION_NAME": "us-east-1", "ENDPOINT_URL": endpoint_url, **options,
    }  # fmt: skip
    return name


@pytest.fixture
def server_table(request, settings, fake_credentials):
    """A fresh sessions table on ``moto server`` (key, index; TTL left to createsessiontable)."""
    name = use_table(settings, endpoint_url=request.getfixturevalue("moto_server_url"))
    yield from created(name)


@pytest.fixture
def table(request, settings, fake_credentials):
    """A table name on moto server that does not exist yet (deleted afterwards if made)."""
    name = use_table(settings, endpoint_url=request.getfixturevalue("moto_server_url"))
    yield name
    client = dynamodb.get_client()
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)


def create_plain_table(name, *, key):
    """A table with only a partition key (as the engine's first version made, with key "pk")."""
    dynamodb.get_client().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def created(name):
    client = dynamodb.get_client()
    dynamodb_table.create_table(client, name)
    dynamodb_table.wait_active(client, name, delay=0.05, timeout=10)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture(params=IMPLEMENTATIONS)
def ddb(request, settings, fake_credentials):
    """A fresh sessions table on each implementation in turn; its name."""
    if request.param == "moto":
        request.getfixturevalue("aws")  # moto in-process (tests/conftest.py)
        endpoint_url = None
    else:
        endpoint_url = request.getfixturevalue(f"{request.param.replace('-', '_')}_url")
    name = use_table(settings, endpoint_url=endpoint_url)
    yield from created(name)


class Calls(list):
    """The operations called, in order; ``params`` holds each one's parameters."""

    def __init__(self):
        super().__init__()
        self.params = []

    def clear(self):
        super().clear()
        self.params.clear()


@pytest.fixture
def api_calls(settings):
    """The DynamoDB operations the engine's client calls from now on (botocore's events)."""
    calls = Calls()

    def record(model, params, **kwargs):
        calls.append(model.name)
        calls.params.append(params)

    events = dynamodb.get_client().meta.events
    events.register("before-parameter-build.dynamodb", record)  # once per call, not per retry
    yield calls
    events.unregister("before-parameter-build.dynamodb", record)
