"""Switch session engines under load, through the load balancer: sessions lost, counted.

``python -m harness.migration``: for each migration (``--paths``: Django's own db engine on
PostgreSQL to the native Redis engine, and the native Redis engine to DynamoDB on ``moto
server``), the stores both engines need; two "blue" instances on the old engine behind HAProxy,
and two "green" ones on the migrating engine (old to new), out of rotation. K users sign in on
blue; readers then read every user's session through HAProxy, all the time, while the three
steps run (``--idle`` more users sign in and make no request until the end: only the bulk copy
moves theirs):

1. **switch**: green in rotation and blue out, in one admin-socket command (a blue/green
   deploy: the old engine and the migrating one never serve side by side, see the README);
2. **copy**: ``manage.py sessions migrate`` moves every session not yet moved by a request;
3. **roll**: each green instance is redeployed on the new engine alone, one at a time
   (deregistered, drained, restarted, registered).

A read that answers anyone but the user (or no one) is a session lost; 5xx are counted apart.
"""

import argparse
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from .gunicorn import BASE_DIR, Instance
from .ha import (
    STORES,
    Cluster,
    Engine,
    create_table,
    instance_env,
    migrate,
    stop_on_signal,
    warm_up,
)
from .haproxy import BACKEND, haproxy
from .load import percentile
from .servers import free_port

MIGRATING = "sessiondemo.settings.migrate"  # SESSION_MIGRATE_FROM / _TO from the environment
TIMEOUT = 10.0


@dataclass(frozen=True)
class Migration:
    """One switch of engines: the settings modules before and after, the engines the migrating
    one moves sessions between, the stores (``harness.ha.STORES``) all of them need, and how
    to prepare them given the first instance's env (migrate; the DynamoDB table)."""

    old: str  # DJANGO_SETTINGS_MODULE before
    new: str  # and after
    engines: tuple  # SESSION_MIGRATE's FROM and TO
    stores: tuple = ("postgres", "redis")  # PostgreSQL holds the users (and Django's sessions)
    prepare: Callable = migrate


PATHS = {
    "db-redis": Migration(
        "sessiondemo.settings.base",  # Django's own db engine
        "sessiondemo.settings.redis",
        ("django.contrib.sessions.backends.db", "session_engines.backends.redis"),
    ),
    "redis-dynamodb": Migration(
        "sessiondemo.settings.redis",
        "sessiondemo.settings.dynamodb",
        ("session_engines.backends.redis", "session_engines.backends.dynamodb"),
        stores=("postgres", "redis", "dynamodb"),
        prepare=create_table,
    ),
}


class Readers:
    """Threads reading every user's session through HAProxy until stopped; what they saw."""

    def __init__(self, url, users, threads=4):
        self.url, self.users = url, users  # [(user id, session key)]
        self.reads, self.lost, self.errors = 0, [], 0
        self.phase = "before"
        self.seconds = {}  # phase -> the reads' durations
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(n, threads)) for n in range(threads)
        ]

    def _run(self, offset, step):
        with requests.Session() as http:
            while not self._stop.is_set():
                for user_id, key in self.users[offset::step]:
                    self._read(http, user_id, key)

    def _read(self, http, user_id, key):
        http.cookies.clear()
        started = time.monotonic()
        try:
            response = http.get(f"{self.url}/session", cookies={"sessionid": key}, timeout=TIMEOUT)
            status, body = response.status_code, response.json() if response.ok else {}
        except (requests.RequestException, ValueError):
            status, body = 0, {}
        with self._lock:
            self.reads += 1
            self.seconds.setdefault(self.phase, []).append(time.monotonic() - started)
            if status >= 500 or status == 0:
                self.errors += 1
            elif body.get("userId") != user_id:
                self.lost.append((self.phase, user_id))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


def sign_in(url, users):
    """Log ``users`` people in through the load balancer; [(user id, session key)]."""
    signed_in = []
    for n in range(users):
        with requests.Session() as http:
            body = {"userId": f"user{n}", "userNm": f"User {n}"}
            http.post(f"{url}/login", json=body, timeout=TIMEOUT).raise_for_status()
            signed_in.append((body["userId"], http.cookies["sessionid"]))
    return signed_in


def switch(balancer, *, to, away):
    """Put ``to`` in rotation and ``away`` out of it, in one admin-socket command."""
    commands = [f"set server {BACKEND}/{i.name} state ready" for i in to]
    commands += [f"set server {BACKEND}/{i.name} state maint" for i in away]
    answer = balancer.command("; ".join(commands)).strip()
    if answer:
        raise RuntimeError(f"haproxy: {answer}")


def bulk_copy(env):
    """``manage.py sessions migrate``, as an operator runs it; its summary line."""
    done = subprocess.run(
        [sys.executable, "manage.py", "sessions", "migrate", "--batch", "50"],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def counts(summary):
    """{copied: n, ...} from the command's summary line."""
    pairs = re.findall(r"([a-z][a-z ]*?) (\d+)", summary.removeprefix("Done: "))
    return {name.strip().replace(" ", "_"): int(n) for name, n in pairs}


def still_signed_in(url, signed_in):
    """The users whose session still answers as theirs."""
    with requests.Session() as http:
        return [
            user_id
            for user_id, key in signed_in
            if http.get(f"{url}/session", cookies={"sessionid": key}, timeout=TIMEOUT)
            .json()
            .get("userId")
            == user_id
        ]


def redeploy(balancer, nodes, settings, *, pause=0.0):
    """A rolling deploy of ``nodes`` on ``settings``, one instance at a time, ``pause`` seconds
    between two (a real deploy's mixed fleet lasts minutes)."""
    rolling = Cluster(engine=None, instances=nodes, balancer=balancer, password=None)
    for slot, node in enumerate(nodes):
        if slot:
            time.sleep(pause)
        node.env["DJANGO_SETTINGS_MODULE"] = settings
        rolling.restart(slot)


DEPLOYS = ("blue-green", "rolling")


def run(*, path="db-redis", users=20, idle=10, settle=1.0, deploy="blue-green"):
    """The whole migration ``path`` (a key of PATHS) under load; the figures. ``idle`` more
    users sign in but make no request until the end: only the bulk copy can move their
    sessions. ``deploy="rolling"`` is the control: step 1 as a rolling deploy, the old engine
    and the migrating one side by side meanwhile."""
    migration = PATHS[path]
    old, new = migration.old, migration.new
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migration-")))
        old_engine, new_engine = migration.engines
        store_env = {"SESSION_MIGRATE_FROM": old_engine, "SESSION_MIGRATE_TO": new_engine}
        for store in migration.stores:
            store_env |= stack.enter_context(STORES[store][0]())
        secret_key = secrets.token_urlsafe(50)
        password = secrets.token_urlsafe(16)  # the demo users' (createdemousers)
        nodes = []
        fleet = [old, old, MIGRATING, MIGRATING] if deploy == "blue-green" else [old, old]
        for slot, settings in enumerate(fleet):
            name = f"app{slot + 1}"
            engine = Engine(name, settings, store="+".join(migration.stores))
            env = instance_env(
                engine,
                name=name,
                secret_key=secret_key,
                workdir=workdir,
                store_env=store_env,
                password=password,
            )
            nodes.append(
                Instance(name=name, port=free_port(), env=env, log=workdir / f"{name}.log")
            )
        migration.prepare([nodes[0].env])
        for node in nodes:
            stack.callback(node.stop)
            node.launch()
        for node in nodes:
            node.wait_healthy(timeout=30.0)
            warm_up(node)
        blue, green = nodes[:2], nodes[2:] or nodes[:2]  # rolling: blue is redeployed
        balancer = stack.enter_context(haproxy([(n.name, n.port) for n in nodes]))
        for node in nodes:
            balancer.wait_up(node.name)
        if deploy == "blue-green":
            switch(balancer, to=blue, away=green)
        signed_in = sign_in(balancer.url, users + idle)
        active, resting = signed_in[:users], signed_in[users:]
        timings = {}
        with Readers(balancer.url, active) as readers:
            time.sleep(settle)
            readers.phase = "switch"
            started = time.monotonic()
            if deploy == "blue-green":
                switch(balancer, to=green, away=blue)
                for node in blue:
                    balancer.wait_drained(node.name)
            else:
                redeploy(balancer, blue, MIGRATING, pause=settle)
            timings["switch"] = time.monotonic() - started
            time.sleep(settle)
            readers.phase = "copy"
            started = time.monotonic()
            summary = bulk_copy(green[0].env)
            timings["copy"] = time.monotonic() - started
            readers.phase = "roll"
            started = time.monotonic()
            redeploy(balancer, green, new, pause=settle)
            timings["roll"] = time.monotonic() - started
            readers.phase = "after"
            time.sleep(settle)
        kept_idle = still_signed_in(balancer.url, resting)
        lost = {user for _, user in readers.lost} | {u for u, _ in resting if u not in kept_idle}
        copied = counts(summary)
        return {
            "path": path,
            "deploy": deploy,
            "users": users + idle,
            "sessions_lost": len(lost),
            "reads": readers.reads,
            "reads_lost": len(readers.lost),
            "errors_5xx": readers.errors,
            # Every session in the old store at the switch: the users' and blue's warm-up logins.
            "moved_by_requests": users
            + idle
            + len(blue)
            - copied["copied"]
            - copied["already_present"],
            "copy": copied,
            "seconds": {step: round(s, 2) for step, s in timings.items()},
            "reads_by_step": {phase: len(s) for phase, s in readers.seconds.items()},
            "p50_ms_by_step": {
                phase: round(1000 * percentile(sorted(s), 0.50), 1)
                for phase, s in readers.seconds.items()
            },
        }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.migration", description=__doc__)
    parser.add_argument("--users", type=int, default=20, help="users reading all along (K)")
    parser.add_argument("--idle", type=int, default=10, help="users who read only at the end")
    parser.add_argument("--deploy", choices=DEPLOYS, default="blue-green", help="step 1's deploy")
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"comma-separated, of: {', '.join(PATHS)}"
    )
    args = parser.parse_args(argv)
    paths = args.paths.split(",")
    if not (1 <= args.users <= 500 and 0 <= args.idle <= 5000):
        parser.error("--users must be between 1 and 500, --idle between 0 and 5000")
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown --paths: {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, stop_on_signal)
    lost = 0
    for path in paths:
        old, new = PATHS[path].engines
        print(f"{old} -> migrating engine -> {new}, through HAProxy:", flush=True)
        try:
            figures = run(path=path, users=args.users, idle=args.idle, deploy=args.deploy)
        except KeyboardInterrupt:
            print("\nInterrupted; everything that was started has been stopped.", file=sys.stderr)
            return 130
        for name, value in figures.items():
            print(f"  {name}: {value}")
        lost += figures["sessions_lost"]
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
