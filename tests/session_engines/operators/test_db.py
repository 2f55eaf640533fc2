"""DbOperator on Django's own db engine: raw keys at rest, ids still digests, no user index."""

import pytest

from session_engines.ids import session_id
from session_engines.operators import UserIndexUnavailable, get_operator

from ..helpers import NAMES, NOBODY, ids_of, key_of, log_in, user_id, user_info, walk


def test_djangos_plain_db_engine_is_inspectable_without_an_index(db, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    clients = [log_in(user) for user in NAMES for _ in range(2)]
    operator = get_operator()
    assert operator.supports_user_index is False
    ids, pages = walk(operator, limit=4)
    assert pages == 2 and sorted(ids) == sorted(ids_of(clients))
    bob = clients[2]
    assert operator.get(session_id(key_of(bob))).user_id == user_id("bob")
    assert operator.delete(session_id(key_of(bob))) is True
    assert user_info(bob) == NOBODY
    with pytest.raises(UserIndexUnavailable, match="session_engines.backends.db"):
        operator.for_user(user_id("alice"))
    with pytest.raises(ValueError):
        operator.list(cursor="x")
