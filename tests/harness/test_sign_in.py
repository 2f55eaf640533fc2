"""Real sign-in across two instances behind HAProxy, and what the seed's /login cannot do.

Alice signs in on one instance and acts on the other (who she is, her sessions, ending them);
a client that claims to be her at the seed's unauthenticated /login is signed in as no one: it
can neither list nor end her sessions, and hers survive it. Failed sign-ins are counted where
every instance sees them when the store is shared (Redis, PostgreSQL).
"""

import pytest
import requests

from harness.ha import cluster

SHARED_STORES = ["redis", "dynamodb", "postgres"]
# Where the throttle cache is shared: Redis (the Redis engines'), the database when it is
# PostgreSQL. The dynamodb settings count in each instance's own SQLite file.
SHARED_THROTTLE = {"redis", "postgres"}
TIMEOUT = 10


def sign_in(url, username, password):
    """A requests session signed in as ``username`` on ``url`` (one instance, or HAProxy)."""
    client = requests.Session()
    body = {"username": username, "password": password}
    response = client.post(f"{url}/auth/login", json=body, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return client


def with_cookie(client):
    return {"sessionid": client.cookies["sessionid"]}


def me(url, client):
    response = requests.get(f"{url}/auth/me", cookies=with_cookie(client), timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()["user"]


def sessions(url, client):
    return requests.get(f"{url}/sessions", cookies=with_cookie(client), timeout=TIMEOUT)


@pytest.mark.parametrize("engine", SHARED_STORES)
def test_sign_in_on_one_instance_act_on_the_other(engine):
    with cluster(engine) as running:
        app1, app2 = (instance.url for instance in running.instances)
        laptop = sign_in(app1, "alice", running.password)
        phone = sign_in(app2, "alice", running.password)
        bob = sign_in(running.url, "bob", running.password)

        # Each instance knows the session the other one signed in.
        alice = me(app2, laptop)
        assert alice["username"] == "alice" and me(app1, phone) == alice
        listing = sessions(app2, laptop)
        assert listing.status_code == 200
        assert len(listing.json()["sessions"]) == 2
        assert [s["current"] for s in listing.json()["sessions"]].count(True) == 1

        # A claimed userId at the seed's /login grants nothing, on either instance.
        for claim in ({"userId": "alice", "userNm": "Mallory"}, {"userId": alice["id"]}):
            mallory = requests.Session()
            body = {"userNm": "Mallory", **claim}
            assert mallory.post(f"{running.url}/login", json=body, timeout=TIMEOUT).ok
            for url in (app1, app2):
                assert me(url, mallory) is None
                assert sessions(url, mallory).status_code == 401
                ended = mallory.post(f"{url}/logout-everywhere", json={}, timeout=TIMEOUT)
                assert ended.status_code == 401
        assert len(sessions(app1, phone).json()["sessions"]) == 2  # hers survive it
        assert me(app1, laptop) == alice and me(app2, phone) == alice

        # She ends both from the phone, on app1; the laptop is signed out on both instances.
        ended = requests.post(
            f"{app1}/logout-everywhere", json={}, cookies=with_cookie(phone), timeout=TIMEOUT
        )
        assert ended.status_code == 200 and ended.json()["ended"] == 2
        for url in (app1, app2):
            assert me(url, laptop) is None and me(url, phone) is None
            assert me(url, bob)["username"] == "bob"  # untouched


def post(url, body):
    return requests.post(f"{url}/auth/login", json=body, timeout=TIMEOUT)


@pytest.mark.parametrize("engine", SHARED_STORES)
def test_failed_sign_ins_are_counted_across_instances(engine):
    with cluster(engine) as running:
        app1, app2 = (instance.url for instance in running.instances)
        wrong = {"username": "bob", "password": "not-his"}
        answers = [post(url, wrong) for url in (app1, app2, app1, app2, app1)]
        statuses = [response.status_code for response in answers]
        right = {"username": "bob", "password": running.password}
        after = [post(url, right) for url in (app1, app2)]
        if engine in SHARED_THROTTLE:
            assert statuses == [401, 401, 401, 401, 429]
            assert answers[-1].headers["Retry-After"] == "300"
            assert [response.status_code for response in after] == [429, 429]
            assert all(0 < int(response.headers["Retry-After"]) <= 300 for response in after)
        else:  # each instance counts alone: three failures on app1, two on app2
            assert statuses == [401] * 5
            assert [response.status_code for response in after] == [200, 200]
