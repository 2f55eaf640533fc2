"""CacheOperator: pages by SCAN cursor, and reads an engine that keys its entries by digest."""

import pytest

from session_engines.ids import session_id
from session_engines.operators import get_operator
from session_engines.operators.cache import CacheOperator

from ..helpers import NAMES, NOBODY, engines, ids_of, key_of, log_in, user_id, user_info, walk


@pytest.mark.parametrize("cursor", ["nope", "-1"])
@engines(["cache"])
def test_a_bad_cursor_is_a_value_error(engine, cursor):
    with pytest.raises(ValueError):
        get_operator().list(cursor=cursor)


@engines(["cache"])
def test_cache_operator_reads_an_engine_that_keys_by_digest(engine, settings):
    settings.SESSION_ENGINE = "tests.session_engines.operators.digest_cache"
    clients = [log_in(user) for user in NAMES]
    operator = CacheOperator()
    assert operator.hashed
    stored = b" ".join(operator.redis.scan_iter(match="*"))
    assert not any(key_of(client).encode() in stored for client in clients)
    ids, _ = walk(operator, limit=2)
    assert sorted(ids) == sorted(ids_of(clients))
    bob = clients[1]
    assert operator.get(session_id(key_of(bob))).user_id == user_id("bob")
    assert operator.delete(session_id(key_of(bob))) is True
    assert user_info(bob) == NOBODY
    assert operator.get("not an id") is None
