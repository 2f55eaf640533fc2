"""rediss:// with AUTH or an ACL user in REDIS_URL, as ElastiCache with in-transit encryption."""

import json

import pytest

from harness.redis import tls_redis_node
from tests.conftest import use_redis
from tests.session_engines.test_middleware import assert_503

ALICE = {"userId": "alice", "userNm": "Alice Kim"}
# An AUTH token (the default user's password) and an ACL user with its own password.
USERS = ["--requirepass", "s3cret-token", "--user", "app", "on", ">app-pass", "~*", "&*", "+@all"]
CREDENTIALS = {"auth-token": ":s3cret-token@", "acl-user": "app:app-pass@"}


@pytest.mark.parametrize("credentials", list(CREDENTIALS))
@pytest.mark.parametrize("engine", ["cache", "redis"], indirect=True)
def test_rediss_with_a_password_in_the_url(engine, client, settings, credentials):
    with tls_redis_node(*USERS) as (node, ca):
        url = f"rediss://{CREDENTIALS[credentials]}127.0.0.1:{node.port}/0?ssl_ca_certs={ca}"
        use_redis(settings, url)
        body = json.dumps(ALICE)
        assert client.post("/login", body, content_type="application/json").status_code == 200
        assert client.get("/session").json() == ALICE


@pytest.mark.parametrize("engine", ["cache", "redis"], indirect=True)
def test_a_wrong_password_is_a_503_not_a_logout(engine, client, settings):
    with tls_redis_node("--requirepass", "s3cret-token") as (node, ca):
        use_redis(settings, f"rediss://:wrong@127.0.0.1:{node.port}/0?ssl_ca_certs={ca}")
        client.cookies["sessionid"] = "somesessionkey1234567890abcdefgh"
        assert_503(client.get("/session"))
