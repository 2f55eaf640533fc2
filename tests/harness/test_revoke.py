"""Log out everywhere, for real: two instances behind HAProxy, one shared store.

A revoked cookie must find no UserInfo on ANY instance, whichever one the load balancer picks,
whether the user ended their sessions (POST /logout-everywhere) or an operator did
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


def log_in(url, user_id):
    with requests.Session() as client:
        body = {"userId": user_id, "userNm": user_id.title()}
        client.post(f"{url}/login", json=body, timeout=10).raise_for_status()
        return client.cookies["sessionid"]


def read_with(url, cookie):
    """GET /session TRIES times with this exact cookie; (instance, userId) for each answer."""
    answers = []
    for _ in range(TRIES):
        response = requests.get(f"{url}/session", cookies={"sessionid": cookie}, timeout=10)
        assert response.status_code == 200
        answers.append((response.headers["X-Served-By"], response.json()["userId"]))
    return answers


def manage(instance, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**os.environ, **instance.env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("engine", INDEXED_SHARED_STORES)
def test_revoked_sessions_are_gone_on_every_instance(engine):
    with cluster(engine) as running:
        url = running.url
        laptop, phone = log_in(url, "alice"), log_in(url, "alice")
        bob = log_in(url, "bob")

        # Alice sees both her sessions from any instance, the current one marked.
        listing = requests.get(f"{url}/sessions", cookies={"sessionid": phone}, timeout=10).json()
        assert [s["current"] for s in listing["sessions"]].count(True) == 1
        assert len(listing["sessions"]) == 2

        # She ends them all from the laptop; the phone's cookie is dead everywhere.
        ended = requests.post(
            f"{url}/logout-everywhere", json={}, cookies={"sessionid": laptop}, timeout=10
        )
        assert ended.json() == {"user": "alice", "ended": 2}
        for cookie in (laptop, phone):
            answers = read_with(url, cookie)
            assert {instance for instance, _ in answers} == {"app1", "app2"}
            assert {user_id for _, user_id in answers} == {None}
        assert {user_id for _, user_id in read_with(url, bob)} == {"bob"}  # untouched

        # An operator revokes Bob from a shell (any instance's environment will do).
        result = manage(running.instances[1], "sessions", "revoke", "--user", "bob")
        assert result.returncode == 0, result.stderr
        assert bob not in result.stdout + result.stderr  # never the raw key
        answers = read_with(url, bob)
        assert {instance for instance, _ in answers} == {"app1", "app2"}
        assert {user_id for _, user_id in answers} == {None}
