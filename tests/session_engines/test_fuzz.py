"""Fuzzing the app's views (hypothesis): GET /sessions, POST /logout-everywhere and
POST /sessions/<id>/end, with the strategies of fuzzing.py.

Random methods, bodies, content types and lengths, headers, cookies of every length and
alphabet, ids of any text or bytes, the caller's own id and another user's. Properties: never
a 5xx; every answer JSON; a rejected request (4xx) hands out no session and leaves the store as
it was, byte for byte (last-seen included: the policy's clock ticks on every read). On the db
engine, the native Redis engine and DynamoDB (moto).
"""

import itertools
import secrets
import time

import pytest
from django.utils.module_loading import import_string
from hypothesis import example, given
from hypothesis import strategies as st

from session_engines import policy
from session_engines.ids import session_id

from . import fuzzing
from .fuzzing import OWN_KEY, a_request
from .helpers import ENGINES, engines, key_of, log_in

OWN_ID, OTHERS_ID = "<alice's session id>", "<bob's session id>"
paths = st.one_of(
    st.sampled_from(["/sessions", "/logout-everywhere"]),
    st.sampled_from([OWN_ID, OTHERS_ID]).map(lambda id: f"/sessions/{id}/end"),
    st.builds(lambda: f"/sessions/{secrets.token_hex(32)}/end"),  # nobody's id
    fuzzing.path_segments().filter(bool).map(lambda segment: f"/sessions/{segment}/end"),
)


@pytest.fixture
def sessions(engine, settings, monkeypatch):
    """Alice's and Bob's sessions on ``engine``; call it for their current keys.

    The policy's clock moves a second on every read, and last-seen is due on every load: a
    request that writes last-seen changes the store.
    """
    settings.SESSION_POLICY = {"LAST_SEEN_INTERVAL": 0}
    clock = itertools.count(int(time.time()))
    monkeypatch.setattr(policy, "now", lambda: next(clock))
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    keys = {}

    def current():
        """Each user's key, signed in anew when a previous example ended the session."""
        for name in ("alice", "bob"):
            if name not in keys or "_auth_user_id" not in store_class(keys[name]).load():
                keys[name] = key_of(log_in(name))
        return keys

    current.store = ENGINES[engine].store
    return current


def check(sessions, case):
    keys = sessions()
    ids = {OWN_ID: session_id(keys["alice"]), OTHERS_ID: session_id(keys["bob"])}
    for placeholder, id in ids.items():
        case = case | {"path": case["path"].replace(placeholder, id)}
    before = sessions.store.dump()
    response = fuzzing.send(case, keys["alice"])
    fuzzing.assert_json_error(response)
    fuzzing.assert_json(response)
    if response.status_code >= 400:
        fuzzing.assert_no_session_handed_out(response, own=case["cookie"] == OWN_KEY)
        assert sessions.store.dump() == before


@engines(["db", "redis", "dynamodb"])
@fuzzing.budget(200)
@given(case=fuzzing.requests(paths))
@example(case=a_request(method="POST", content_type="text/plain"))  # a GET view: 405, not CSRF
@example(case=a_request(path=f"/sessions/{OWN_ID}/end", content_type="text/plain"))  # 405
@example(case=a_request(method="POST", path=f"/sessions/{OTHERS_ID}/end"))  # 404, no last-seen
def test_no_request_is_a_5xx_and_a_rejected_one_changes_no_session(sessions, case):
    check(sessions, case)
