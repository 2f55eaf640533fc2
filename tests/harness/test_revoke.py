"""Log out everywhere, for real: two instances behind HAProxy, one shared store.

Real users (createdemousers' alice and bob, signed in with POST /auth/login). A revoked cookie
must be signed in as no one on ANY instance, whichever one the load balancer picks, whether the
user ended their sessions (POST /logout-everywhere) or an operator did
(manage.py sessions revoke --user).
"""

import os
import subprocess
import sys

import pytest
import requests

from harness.gunicorn import BASE_DIR
from harness.ha import cluster

INDEXED_SHARED_STORES = ["dynamodb", "redis", "postgres"]
TRIES = 6  # round-robin over 2 instances: each gets at least 2 of them


def log_in(url, username, password):
    """Sign ``username`` in with POST /auth/login; return the session cookie."""
    with requests.Session() as client:
        body = {"username": username, "password": password}
        client.post(f"{url}/auth/login", json=body, timeout=10).raise_for_status()
        return client.cookies["sessionid"]


def signed_in_as(response):
    assert response.status_code == 200
    user = response.json()["user"]
    return None if user is None else user["username"]


def read_with(url, cookie):
    """GET /auth/me TRIES times with this exact cookie; (instance, username) for each answer."""
    answers = []
    for _ in range(TRIES):
        response = requests.get(f"{url}/auth/me", cookies={"sessionid": cookie}, timeout=10)
        answers.append((response.headers["X-Served-By"], signed_in_as(response)))
    return answers


def manage(instance, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **instance.env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("engine", INDEXED_SHARED_STORES)
def test_revoked_sessions_are_gone_on_every_instance(engine):
    with cluster(engine) as running:
        url, password = running.url, running.password
        laptop, phone = log_in(url, "alice", password), log_in(url, "alice", password)
        bob = log_in(url, "bob", password)

        # Alice sees both her sessions from any instance, the current one marked.
        listing = requests.get(f"{url}/sessions", cookies={"sessionid": phone}, timeout=10).json()
        assert [s["current"] for s in listing["sessions"]].count(True) == 1
        assert len(listing["sessions"]) == 2

        # She ends them all from the laptop; the phone's cookie is dead everywhere.
        ended = requests.post(
            f"{url}/logout-everywhere", json={}, cookies={"sessionid": laptop}, timeout=10
        )
        assert ended.json()["ended"] == 2
        for cookie in (laptop, phone):
            answers = read_with(url, cookie)
            assert {instance for instance, _ in answers} == {"app1", "app2"}
            assert {user_id for _, user_id in answers} == {None}
        assert {user_id for _, user_id in read_with(url, bob)} == {"bob"}  # untouched

        # An operator revokes Bob from a shell (any instance's environment will do).
        bob_id = requests.get(f"{url}/auth/me", cookies={"sessionid": bob}, timeout=10).json()
        result = manage(running.instances[1], "sessions", "revoke", "--user", bob_id["user"]["id"])
        assert result.returncode == 0, result.stderr
        assert bob not in result.stdout + result.stderr  # never the raw key
        answers = read_with(url, bob)
        assert {instance for instance, _ in answers} == {"app1", "app2"}
        assert {user_id for _, user_id in answers} == {None}
