"""The app's fixtures: real servers on free loopback ports, once per test session, and the engines.

``session_engine`` runs a test once per engine in helpers.ENGINES, on its store started and
emptied; ``engine`` does the same for the tests that name the engines they run on.
"""

from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string

from harness.dynamodb import FAKE_CREDENTIALS, dynalite, moto_server
from harness.postgres import postgres_server

from .helpers import ENGINES, Calls, engine_names, engine_param, start_engine, use_table

# redis_url, redis_server_url, valkey, the cluster; one hypothesis seed per run, replayable
pytest_plugins = ["harness.pytest_servers", "harness.pytest_fuzz"]

# --- Servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server_url():
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def dynalite_url():
    with dynalite() as url:
        yield url


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """Start PostgreSQL, before the test databases are made, when a collected test needs it."""
    if any(item.get_closest_marker("postgres") for item in request.session.items):
        url = urlsplit(request.getfixturevalue("postgres_url"))
        django_settings.DATABASES["postgres"].update(HOST=url.hostname, PORT=url.port)


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def fake_credentials(monkeypatch):
    """Nothing can reach real AWS: fake keys, and no endpoint or profile from the environment."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(fake_credentials):
    """moto in-process: botocore's calls never leave the process."""
    from moto import mock_aws

    from harness.moto_atomic import make_atomic
    from session_engines.backends import dynamodb

    dynamodb._clients.clear()  # clients must be created inside the mock
    make_atomic()  # conditional writes as atomic as DynamoDB's
    with mock_aws():
        yield
    dynamodb._clients.clear()


# --- Engines -----------------------------------------------------------------------------------


@pytest.fixture(params=[engine_param(name) for name in ENGINES])
def session_engine(request, settings):
    """Each engine's SessionStore class in turn, on its store started and emptied.

    The class is the engine's own, subclassed only to carry ``store`` (the store at rest,
    helpers.Database/Redis/DynamoDB) and ``engine`` (its line in helpers.ENGINES).
    """
    store = start_engine(request.param, request, settings)
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    attributes = {"store": store, "engine": ENGINES[request.param]}
    return type(store_class.__name__, (store_class,), attributes)


@pytest.fixture
def engine(request, settings):
    """The engine named by the test's parameter (helpers.engines), started; its name."""
    start_engine(request.param, request, settings)
    return request.param


DYNAMODB_ENGINES = engine_names(backend="session_engines.backends.dynamodb")


@pytest.fixture(params=[engine_param(name) for name in DYNAMODB_ENGINES])
def ddb(request, settings):
    """A fresh sessions table on each DynamoDB implementation in turn; its name."""
    return start_engine(request.param, request, settings).table


@pytest.fixture
def native_redis(request, settings, db):
    """The native Redis engine on the test session's redis-server, emptied; yields a client."""
    return start_engine("redis", request, settings).client


@pytest.fixture
def server_table(request, settings, fake_credentials, db):
    """A fresh sessions table on ``moto server``; its name."""
    return start_engine("dynamodb-moto-server", request, settings).table


@pytest.fixture
def table(request, settings, fake_credentials):
    """A table name on moto server that does not exist yet (deleted afterwards if made)."""
    from session_engines.backends import dynamodb

    name = use_table(settings, endpoint_url=request.getfixturevalue("moto_server_url"))
    yield name
    client = dynamodb.get_client()
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)


@pytest.fixture
def api_calls(settings):
    """The DynamoDB operations the engine's client calls from now on (botocore's events)."""
    from session_engines.backends import dynamodb

    calls = Calls()

    def record(model, params, **kwargs):
        calls.append(model.name)
        calls.params.append(params)

    events = dynamodb.get_client().meta.events
    events.register("before-parameter-build.dynamodb", record)  # once per call, not per retry
    yield calls
    events.unregister("before-parameter-build.dynamodb", record)
