"""The container's command line, run here: the Dockerfile's ENTRYPOINT + CMD (migrate, then exec
gunicorn with gunicorn.conf.py), its ENV, production settings, and a free loopback port through
the same env override. It serves the seed's flow as the ALB would reach it, and on SIGTERM it
finishes an in-flight request before exiting cleanly."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management.utils import get_random_secret_key

from harness.servers import free_port, stop, wait_for_port
from tests.deploy import ROOT, dockerfile

# Only ever Host headers. The ALB's DNS name has capitals; browsers send it lower-cased.
ALB_DNS_NAME = "sessi-LoadB-1A2B3C4D5E6F-1234567890.us-east-1.elb.amazonaws.com"
ALB_HOST = ALB_DNS_NAME.lower()
TARGET_IP_HOST = "10.42.0.17:8080"  # what the ALB's health checker sends as Host
ALICE = {"userId": "alice", "userNm": "Alice Kim"}
NOBODY = {"userId": None, "userNm": None}
STAGE = dockerfile.final_stage()
VENV_PATH = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
WORKDIR = dockerfile.one(STAGE, "WORKDIR")


def here(arg):
    """A path inside the image (/app/...) is the same file in this checkout."""
    return str(ROOT / arg.removeprefix(WORKDIR + "/")) if arg.startswith(WORKDIR + "/") else arg


def container_args(app=None):
    entrypoint, command = dockerfile.entry_and_command(STAGE)
    args = [here(arg) for arg in entrypoint + command]
    if app:
        assert args[-1] == "sessiondemo.wsgi:application"
        args[-1] = app
    return args


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """The Dockerfile's collectstatic step, run as written, without a DJANGO_SECRET_KEY around."""
    (command,) = [
        i.value
        for i in dockerfile.instructions()
        if i.keyword == "RUN" and "collectstatic" in i.value
    ]
    root = tmp_path_factory.mktemp("static")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environ |= {"PATH": VENV_PATH, "DJANGO_STATIC_ROOT": str(root)}
    result = subprocess.run(
        ["sh", "-c", command], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@contextlib.contextmanager
def container(tmp_path, static_root, app=None, **extra):
    """Start the container's command; yield (process, port, stdout path, stderr path)."""
    port = free_port()
    environ = {
        "PATH": VENV_PATH,  # the image's /opt/venv/bin first, as its ENV PATH says
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        **{key: value for key, value in dockerfile.env(STAGE).items() if key != "PATH"},
        # What the task definition sets (deploy/sessiondemo.yaml), for loopback:
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": get_random_secret_key(),
        "DJANGO_ALLOWED_HOSTS": ALB_DNS_NAME,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(static_root),
        "INSTANCE_ID": "container-test",
        "PORT": str(port),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        **extra,
    }
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            container_args(app), cwd=ROOT, env=environ, stdout=out, stderr=err
        )
        try:
            wait_for_port(port, process=process, timeout=60)
            yield process, port, stdout, stderr
        finally:
            stop(process, timeout=30)


def call(method, port, path, *, host=ALB_HOST, https=True, cookie=None, **kwargs):
    headers = {"Host": host}
    if https:
        headers["X-Forwarded-Proto"] = "https"  # as the ALB says it, TLS terminated there
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"  # Secure cookie: requests keeps it off http
    return requests.request(
        method,
        f"http://127.0.0.1:{port}{path}",
        headers=headers,
        timeout=30,
        allow_redirects=False,
        **kwargs,
    )


def healthcheck(port):
    environ = {**os.environ, "PATH": VENV_PATH, "PORT": str(port)}
    args = dockerfile.healthcheck_command(STAGE)
    return subprocess.run(args, env=environ, capture_output=True, timeout=30).returncode


def terminate(process):
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_container_serves_the_seed_flow_and_stops_cleanly(tmp_path, static_root):
    with container(tmp_path, static_root) as (process, port, stdout, stderr):
        # The entry point exec'd gunicorn: the process ECS signals is gunicorn's master itself.
        assert b"gunicorn" in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert healthcheck(port) == 0  # the image's HEALTHCHECK, as written

        # The ALB health check: Host is the target's IP, not in ALLOWED_HOSTS, still 200.
        health = call("GET", port, "/healthz", host=TARGET_IP_HOST, https=False)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        # Anything else under a host that is not allowed is a JSON 400.
        assert call("GET", port, "/session", host=TARGET_IP_HOST).status_code == 400

        login = call("POST", port, "/login", json=ALICE)
        assert login.status_code == 200 and login.json() == ALICE
        assert login.headers["X-Served-By"] == "container-test"
        assert "max-age=31536000" in login.headers["Strict-Transport-Security"]
        set_cookie = login.headers["Set-Cookie"]
        assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        session_key = login.cookies["sessionid"]

        assert call("GET", port, "/session", cookie=session_key).json() == ALICE
        assert call("GET", port, "/session", cookie="madeupsessionkey1234").json() == NOBODY
        # Plain HTTP (no X-Forwarded-Proto: https) is sent to HTTPS.
        redirect = call("GET", port, "/session", https=False, cookie=session_key)
        assert redirect.status_code == 301
        assert redirect.headers["Location"] == f"https://{ALB_HOST}/session"

        # WhiteNoise serves the admin's static files collected at build time.
        css = call("GET", port, "/static/admin/css/base.css")
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")

        assert call("POST", port, "/logout", cookie=session_key).status_code == 200
        assert call("GET", port, "/session", cookie=session_key).json() == NOBODY

        assert terminate(process) == 0
        assert healthcheck(port) != 0  # and the health check notices
    # Access log on stdout (CloudWatch via awslogs), gunicorn's own log on stderr.
    assert '"GET /session HTTP/1.1" 200' in stdout.read_text()
    assert "Handling signal: term" in stderr.read_text()


def test_sigterm_lets_an_in_flight_request_finish(tmp_path, static_root):
    started = tmp_path / "slow-request-started"
    with container(
        tmp_path,
        static_root,
        app="tests.deploy.slow_wsgi:application",
        SLOW_STARTED=str(started),
        SLOW_SECONDS="3",
    ) as (process, port, stdout, stderr):
        session_key = call("POST", port, "/login", json=ALICE).cookies["sessionid"]
        result = {}

        def slow_request():
            try:
                result["response"] = call("GET", port, "/slow/session", cookie=session_key)
            except requests.RequestException as exc:  # cut off: the failure this test catches
                result["error"] = exc

        thread = threading.Thread(target=slow_request)
        thread.start()
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), "the slow request never arrived"

        process.send_signal(signal.SIGTERM)  # what ECS sends when it stops the task
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert "error" not in result, f"the in-flight request was cut off: {result.get('error')}"
        response = result["response"]
        # The request that was in flight when SIGTERM arrived completed, through Django.
        assert response.status_code == 200 and response.json() == ALICE
        assert process.wait(timeout=60) == 0
    assert "Handling signal: term" in stderr.read_text()
    assert '"GET /slow/session HTTP/1.1" 200' in stdout.read_text()
