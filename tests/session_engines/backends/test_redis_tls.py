"""rediss:// with AUTH or an ACL user in the cache's URL: ElastiCache with in-transit encryption."""

import pytest

from harness.redis import tls_redis_node

from ..helpers import assert_503, engines, log_in, use_redis, user_id, user_info

# An AUTH token (the default user's password) and an ACL user with its own password.
USERS = ["--requirepass", "s3cret-token", "--user", "app", "on", ">app-pass", "~*", "&*", "+@all"]
CREDENTIALS = {"auth-token": ":s3cret-token@", "acl-user": "app:app-pass@"}


@pytest.mark.parametrize("credentials", list(CREDENTIALS))
@engines(["cache", "redis"])
def test_rediss_with_a_password_in_the_url(engine, settings, credentials):
    with tls_redis_node(*USERS) as (node, ca):
        url = f"rediss://{CREDENTIALS[credentials]}127.0.0.1:{node.port}/0?ssl_ca_certs={ca}"
        use_redis(settings, url)
        alice = log_in("alice")
        assert user_info(alice) == {"userId": user_id("alice")}


@engines(["cache", "redis"])
def test_a_wrong_password_is_a_503_not_a_logout(engine, client, settings):
    with tls_redis_node("--requirepass", "s3cret-token") as (node, ca):
        use_redis(settings, f"rediss://:wrong@127.0.0.1:{node.port}/0?ssl_ca_certs={ca}")
        client.cookies["sessionid"] = "somesessionkey1234567890abcdefgh"
        assert_503(client.get("/whoami"))
