"""One boto3 client per process, made on first use, with bounded retries and timeouts."""

import os

import pytest

from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore
from tests.session_engines.dynamodb.conftest import use_table


@pytest.fixture
def client_settings(settings, fake_credentials):
    """Only settings: making a client talks to nobody."""
    use_table(settings, endpoint_url="http://127.0.0.1:9")
    dynamodb._clients.clear()
    yield
    dynamodb._clients.clear()


def test_one_client_per_process_made_on_first_use(client_settings, monkeypatch):
    client = dynamodb.get_client()
    assert dynamodb.get_client() is client
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    # A forked worker (another pid) gets its own client, and drops the parent's.
    parent = os.getpid()
    monkeypatch.setattr(dynamodb.os, "getpid", lambda: parent + 1)
    child = dynamodb.get_client()
    assert child is not client
    assert all(key[0] == parent + 1 for key in dynamodb._clients)


def test_client_config_overrides_keep_standard_retries(client_settings, settings):
    settings.SESSION_DYNAMODB = {
        **settings.SESSION_DYNAMODB,
        "CLIENT_CONFIG": {"read_timeout": 5, "retries": {"max_attempts": 6}},
    }
    config = dynamodb.get_client().meta.config
    assert config.read_timeout == 5
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 7  # botocore: 6 retries after the first try


def test_a_forked_worker_makes_its_own_client_and_it_works(server_table):
    # As under gunicorn: the parent used the client before forking; the worker must not.
    parent_client = dynamodb.get_client()
    parent_client.describe_table(TableName=server_table)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        status = 1
        try:
            os.close(read)
            store = SessionStore()
            store["worker"] = os.getpid()
            store.save()
            fresh = dynamodb.get_client() is not parent_client
            os.write(write, f"{fresh} {store.session_key}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        fresh, session_key = pipe.read().split()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fresh == "True"
    assert SessionStore(session_key).load() == {"worker": pid}
    assert dynamodb.get_client() is parent_client
