"""The demo's fixtures: real servers started per test session, and the engine parametrisation.

Every demo test that takes ``engine`` runs once per settings module of sessiondemo. The reusable
app's suite (tests/session_engines) has its own settings and fixtures, and never reads these.
"""

import importlib

import pytest
from django.test import Client

from tests.session_engines.helpers import use_redis_cluster

# redis_url, redis_server_url, valkey, the cluster; one hypothesis seed per run, replayable
pytest_plugins = ["harness.pytest_servers", "harness.pytest_fuzz"]

# "<engine>-valkey": the engine on a valkey-server; "redis-cluster": the native Redis engine on
# a Redis Cluster (3 primaries, 3 replicas) in cluster mode.
ENGINES = ["db", "cache", "redis", "dynamodb", "cache-valkey", "redis-valkey", "redis-cluster"]
# What an engine's settings module may set differently from base.
ENGINE_SETTINGS = ("SESSION_ENGINE", "SESSION_CACHE_ALIAS")


@pytest.fixture
def aws(monkeypatch):
    """moto in-process, with fake credentials so nothing can reach real AWS."""
    from moto import mock_aws

    from harness.dynamodb import FAKE_CREDENTIALS
    from harness.moto_atomic import make_atomic
    from session_engines.backends import dynamodb

    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    dynamodb._clients.clear()  # clients must be created inside the mock
    make_atomic()  # conditional writes as atomic as DynamoDB's
    with mock_aws():
        yield
    dynamodb._clients.clear()


@pytest.fixture
def dynamodb_table(aws, settings):
    """The table as createsessiontable makes it (key schema and user index), under moto."""
    from session_engines import dynamodb_table
    from session_engines.backends import dynamodb

    settings.SESSION_DYNAMODB = {"TABLE_NAME": "test-sessions", "REGION_NAME": "us-east-1"}
    dynamodb_table.create_table(dynamodb.get_client(), "test-sessions")
    return "test-sessions"


@pytest.fixture(params=ENGINES)
def engine(request, settings, db):
    """Apply one engine's settings module (what it sets differently) and its store."""
    name, _, server = request.param.partition("-")
    module = importlib.import_module(f"sessiondemo.settings.{name}")
    for setting in ENGINE_SETTINGS:
        if hasattr(module, setting):
            setattr(settings, setting, getattr(module, setting))
    if server == "cluster":
        use_redis_cluster(settings, request.getfixturevalue("redis_cluster"))
    elif name in ("cache", "redis"):
        if server:
            url = request.getfixturevalue(f"{server}_server_url")
        elif "redis_url" in request.fixturenames:  # the test's own: Redis, then Valkey
            url = request.getfixturevalue("redis_url")
        else:
            url = request.getfixturevalue("redis_server_url")
        settings.CACHES = {
            **settings.CACHES,
            "sessions": {**settings.CACHES["sessions"], "LOCATION": url},
        }
        from django_redis import get_redis_connection

        get_redis_connection("sessions").flushdb()
    if request.param == "dynamodb":
        request.getfixturevalue("dynamodb_table")
    return request.param


@pytest.fixture
def client():
    """The test client as the ALB calls us: over HTTPS, said by X-Forwarded-Proto."""
    return Client(headers={"X-Forwarded-Proto": "https"})
