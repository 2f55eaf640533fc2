"""session_engines.backends.cache: Django's, except that an outage is not a new session."""

import pytest
from asgiref.sync import async_to_sync

from harness.servers import free_port
from session_engines.backends.cache import SessionStore
from session_engines.exceptions import SessionStoreUnavailable

from ..helpers import engines, use_redis


@pytest.mark.parametrize("load", ["sync", "async"])
@engines(["cache"])
def test_an_outage_on_load_is_raised_not_a_new_session(engine, settings, load):
    session = SessionStore()
    session["a"] = 1
    session.save()
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    key = session.session_key
    session = SessionStore(key)
    with pytest.raises(SessionStoreUnavailable):
        session.load() if load == "sync" else async_to_sync(session.aload)()
    assert session.session_key == key  # not reset: the next request may find it again
