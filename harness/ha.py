"""The HA environment on one machine: N gunicorn instances behind HAProxy, and the store.

``python -m harness.ha`` (or ``make ha-demo``) runs K simulated users through every engine,
load-balancer mode and fault, and prints the table: sessions kept, requests, 5xx, latency.
Everything it starts is stopped on exit, on Ctrl-C, on SIGTERM and on failure.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from . import report
from .chromium import chromium
from .dynamodb import (
    FAKE_CREDENTIALS,
    create_session_table,
    create_table_at,
    endpoint,
    moto_server_process,
)
from .gunicorn import BASE_DIR, Instance
from .haproxy import haproxy
from .load import run_users
from .postgres import postgres_process
from .redis import SERVICE, redis_cluster, redis_node, sentinel_group
from .servers import free_port

DEMO_PASSWORD_VARIABLE = "DEMO_USERS_PASSWORD"  # accounts' createdemousers reads it

# --- Stores: what an engine needs running, and how to prepare it ------------------------------
# Each yields the instances' env, and may set ``faults``: the store's own faults by name.


class StoreEnv(dict):
    """The instances' environment for a store, and the store's own faults (name -> callable);
    each fault returns once the store serves again."""

    faults: dict


@contextlib.contextmanager
def no_store():
    yield {}  # each instance keeps its own SQLite file (DATABASE_URL set per instance)


@contextlib.contextmanager
def postgres_store(*extra_args):
    with postgres_process(*extra_args) as (postgres, url):
        env = StoreEnv(DATABASE_URL=url)
        # An immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start), as
        # close to a crash as PostgreSQL allows with its backends gone; committed rows stay.
        env.faults = {"restart": lambda: postgres.restart(sig=signal.SIGQUIT)}
        yield env


def postgres_synchronous_store():
    """PostgreSQL answering a commit once its WAL is written (RDS's default): the harness's
    cluster is asynchronous (``synchronous_commit=off``), which a crash loses the last of."""
    return postgres_store("-c", "synchronous_commit=on")


@contextlib.contextmanager
def redis_store(*extra_args):
    """One redis-server (keeping nothing on disk unless ``extra_args`` say so)."""
    with redis_node(*extra_args) as node:
        env = StoreEnv(REDIS_URL=node.url)
        env.faults = {"restart": node.restart}  # SIGKILL, start again: only the AOF survives
        yield env


def redis_aof_store():
    """redis-server with AOF, fsynced before each write is answered: a restart keeps it all."""
    return redis_store("--appendonly", "yes", "--appendfsync", "always")


@contextlib.contextmanager
def redis_sentinel_store():
    """A primary and its replica watched by three Sentinels; the app asks them for the primary."""
    with sentinel_group() as group:
        sentinels = ",".join(f"{host}:{port}" for host, port in group.sentinels)
        env = StoreEnv(REDIS_URL=f"redis://{SERVICE}/0", REDIS_SENTINELS=sentinels)
        env.faults = {"failover": group.fail_over}
        yield env


@contextlib.contextmanager
def redis_cluster_store():
    """A Redis Cluster (3 primaries, 3 replicas), the native engine in cluster mode on it."""
    with redis_cluster() as running:

        def fail_over_primary():
            """SIGKILL the first primary: its replica takes over once the others agree it has
            failed (cluster-node-timeout: 1 s); the old node rejoins as its replica."""
            running.fail_over(running.primaries()[0])

        env = StoreEnv(REDIS_URL=running.url, REDIS_CLUSTER="1")
        env.faults = {"primary": fail_over_primary}
        yield env


@contextlib.contextmanager
def dynamodb_store():
    with moto_server_process() as moto:
        env = StoreEnv(
            **FAKE_CREDENTIALS,
            AWS_REGION=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            SESSION_DYNAMODB_ENDPOINT_URL=endpoint(moto),
            SESSION_DYNAMODB_TABLE="sessions",
        )

        def restart():
            """SIGKILL ``moto server`` and start it again: in memory, it comes back with no
            table and no item; the table is created again at once, as an operator would."""
            moto.restart()
            create_table_at(env["SESSION_DYNAMODB_ENDPOINT_URL"], env["SESSION_DYNAMODB_TABLE"])

        env.faults = {"restart": restart}
        yield env


def manage(env, *args):
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


def migrate(envs):
    """Migrate the first instance's database and create the demo users in it (createdemousers).

    Every other instance's SQLite file is a copy of it, so every instance knows the same users
    with the same ids and password hashes (a session's auth hash must verify on any instance);
    instances sharing one database (PostgreSQL) share them anyway.
    """
    first, *others = envs
    manage(first, "migrate", "--noinput", "-v", "0")
    manage(first, "createdemousers")
    for env in others:
        if env["DATABASE_URL"] != first["DATABASE_URL"]:
            shutil.copyfile(sqlite_path(first), sqlite_path(env))


def sqlite_path(env):
    return env["DATABASE_URL"].removeprefix("sqlite:///")


def create_table(envs):
    create_session_table(envs[0])
    migrate(envs)


STORES = {
    # name: (context manager yielding the instances' env, preparation given their envs)
    "sqlite": (no_store, migrate),
    "postgres": (postgres_store, migrate),
    "postgres_synchronous": (postgres_synchronous_store, migrate),
    "redis": (redis_store, migrate),
    "redis_aof": (redis_aof_store, migrate),
    "redis_sentinel": (redis_sentinel_store, migrate),
    "redis_cluster": (redis_cluster_store, migrate),
    "dynamodb": (dynamodb_store, create_table),
}


# --- Engines: one line each ---------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    name: str
    settings: str  # DJANGO_SETTINGS_MODULE
    store: str  # a key of STORES
    modes: tuple = ("rr",)  # load-balancer modes the demo runs by default
    faults: tuple = ("none", "kill", "rolling")  # the faults that apply to it, in this order


ENGINES = {
    engine.name: engine
    for engine in [
        Engine("db", "sessiondemo.settings.db", "sqlite", modes=("rr", "sticky")),
        Engine("postgres", "sessiondemo.settings.db", "postgres"),
        Engine("cache", "sessiondemo.settings.cache", "redis"),
        Engine("redis", "sessiondemo.settings.redis", "redis"),
        Engine(
            "redis_cluster",
            "sessiondemo.settings.redis",
            "redis_cluster",
            faults=("none", "kill", "rolling", "primary"),
        ),
        Engine("dynamodb", "sessiondemo.settings.dynamodb", "dynamodb"),
    ]
}
MODES = ("rr", "sticky")


# --- The cluster --------------------------------------------------------------------------------


class Cluster:
    def __init__(self, *, engine, instances, balancer, password, store_faults=None):
        self.engine = engine
        self.instances = instances
        self.balancer = balancer
        self.password = password  # the demo users' (alice, bob), for POST /auth/login
        self.store_faults = store_faults or {}

    @property
    def url(self):
        return self.balancer.url

    def kill(self, slot=0):
        """SIGKILL one instance: its requests in flight are lost; HAProxy notices in < 1 s."""
        self.instances[slot].kill()

    def restart(self, slot):
        """A deploy of one instance: deregister, drain, stop gracefully, start, register."""
        instance = self.instances[slot]
        self.balancer.set_state(instance.name, "maint")
        self.balancer.wait_drained(instance.name)
        instance.stop()
        instance.start()
        self.balancer.set_state(instance.name, "ready")
        self.balancer.wait_up(instance.name)

    def kill_store_primary(self):
        """SIGKILL the store's primary (one shard's, on a Redis Cluster) mid-run; return once
        its replica has taken over and the old node replicates it."""
        self.store_faults["primary"]()

    def rolling_restart(self):
        for slot in range(len(self.instances)):
            self.restart(slot)

    def heal(self):
        """Start again whatever was killed, and wait until HAProxy sends it traffic."""
        for instance in self.instances:
            if not instance.alive:
                instance.start()
            self.balancer.wait_up(instance.name)


def instance_env(engine, *, name, secret_key, workdir, store_env, password):
    return {
        "DJANGO_SETTINGS_MODULE": engine.settings,
        "DJANGO_SECRET_KEY": secret_key,  # one per run, shared: every instance signs alike
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",  # plain HTTP, on loopback only
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "INSTANCE_ID": name,
        "DJANGO_TRUSTED_PROXY_HOPS": "1",  # HAProxy appends the client's address, as the ALB does
        DEMO_PASSWORD_VARIABLE: password,  # alice's and bob's (createdemousers)
        "DATABASE_URL": f"sqlite:///{workdir / name}.sqlite3",  # the store may override it
        **store_env,
    }


def warm_up(instance):
    """One login and one read on the instance itself, so that no run measures a cold start
    (imports, the first database connection, the first boto3 client)."""
    with requests.Session() as session:
        body = {"userId": "warm-up", "userNm": "Warm Up"}
        session.post(f"{instance.url}/login", json=body, timeout=10).raise_for_status()
        session.get(f"{instance.url}/session", timeout=10).raise_for_status()


@contextlib.contextmanager
def cluster(
    engine,
    *,
    sticky=False,
    instances=2,
    instance_class=Instance,
    store=None,
    check_timeout=None,
    env=None,
):
    """The store, ``instances`` gunicorn instances and HAProxy in front; yields a Cluster.

    ``store`` (a context manager yielding the instances' env) replaces the engine's own
    (``STORES``); its preparation stays the engine's. ``check_timeout``: HAProxy's. ``env``:
    settings of the instances' own, over the store's (SESSION_REDIS_WAIT_REPLICAS=1)."""
    if isinstance(engine, str):
        engine = ENGINES[engine]
    own_store, prepare = STORES[engine.store]
    store = store or own_store
    extra_env = env or {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ha-")))
        store_env = stack.enter_context(store())
        secret_key = secrets.token_urlsafe(50)
        password = secrets.token_urlsafe(16)
        nodes = []
        for slot in range(instances):
            name = f"app{slot + 1}"
            node_env = instance_env(
                engine,
                name=name,
                secret_key=secret_key,
                workdir=workdir,
                store_env={**store_env, **extra_env},
                password=password,
            )
            nodes.append(
                instance_class(
                    name=name, port=free_port(), env=node_env, log=workdir / f"{name}.log"
                )
            )
        prepare([node.env for node in nodes])
        for node in nodes:
            stack.callback(node.stop)
            node.launch()
        for node in nodes:
            node.wait_healthy(timeout=30.0)
            warm_up(node)
        servers = [(n.name, n.port) for n in nodes]
        balancer = stack.enter_context(haproxy(servers, sticky=sticky, check_timeout=check_timeout))
        store_faults = getattr(store_env, "faults", {})
        yield Cluster(
            engine=engine,
            instances=nodes,
            balancer=balancer,
            password=password,
            store_faults=store_faults,
        )


# --- Scenarios ----------------------------------------------------------------------------------

FAULTS = {
    "none": None,
    "kill": Cluster.kill,  # SIGKILL instance 1 a third of the way in
    "rolling": Cluster.rolling_restart,  # a deploy: every instance replaced, one at a time
    "primary": Cluster.kill_store_primary,  # the store's primary dies (redis_cluster only)
}


def run_scenario(cluster, fault, *, users, reads, progress=None, timeout=120.0):
    """K users through the load balancer while ``fault`` happens; the cluster is healed after."""
    action = FAULTS[fault]
    run = run_users(
        cluster.url,
        users=users,
        reads=reads,
        progress=progress,
        timeout=timeout,
        fault=None if action is None else (lambda: action(cluster)),
    )
    cluster.heal()
    return run


def demo(*, engines, modes, faults, users, reads, instances, progress):
    """Every engine x LB mode x fault; returns the rows of the table."""
    rows = []
    for engine in engines:
        for mode in modes or engine.modes:
            with cluster(engine, sticky=mode == "sticky", instances=instances) as running:
                for fault in [fault for fault in faults if fault in engine.faults]:
                    progress.start(f"{engine.name} {mode} {fault}")
                    run = run_scenario(
                        running, fault, users=users, reads=reads, progress=progress.draw
                    )
                    summary = run.summary()
                    progress.finish(summary)
                    rows.append({"engine": engine.name, "lb": mode, "fault": fault, **summary})
    return rows


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m harness.ha", description=__doc__)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: %(default)s")
    parser.add_argument(
        "--modes", default="", help="rr,sticky (default: sticky for db only, rr for all)"
    )
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated: %(default)s")
    parser.add_argument("--users", type=int, default=10, help="simulated users (K)")
    parser.add_argument("--reads", type=int, default=20, help="session reads per user (M)")
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances (N)")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "out" / "ha")
    args = parser.parse_args(argv)

    def choices(value, allowed, what):
        names = [name for name in value.split(",") if name]
        if unknown := [name for name in names if name not in allowed]:
            parser.error(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})")
        return names

    args.engines = [ENGINES[name] for name in choices(args.engines, ENGINES, "engine")]
    args.modes = choices(args.modes, MODES, "mode")
    args.faults = choices(args.faults, FAULTS, "fault")
    for name in ("users", "reads", "instances"):
        if not 1 <= getattr(args, name) <= 200:
            parser.error(f"--{name} must be between 1 and 200")
    return args


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds every context manager


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    runs = sum(
        len(args.modes or engine.modes) * len([f for f in args.faults if f in engine.faults])
        for engine in args.engines
    )
    progress = report.Progress(runs)
    try:
        rows = demo(
            engines=args.engines,
            modes=args.modes,
            faults=args.faults,
            users=args.users,
            reads=args.reads,
            instances=args.instances,
            progress=progress,
        )
    except KeyboardInterrupt:
        print("\nInterrupted; everything that was started has been stopped.", file=sys.stderr)
        return 130
    settings = {"users": args.users, "reads": args.reads, "instances": args.instances}
    md, js, chart = report.write(rows, out=args.out, settings=settings)
    written = [md, js, chart]
    try:
        with chromium() as page:  # the chart as a PNG, when Chromium is installed
            page.goto(chart.resolve().as_uri())
            page.screenshot(chart.with_suffix(".png"))
        written.append(chart.with_suffix(".png"))
    except RuntimeError as exc:
        print(f"No PNG chart: {exc}", file=sys.stderr)
    print()
    print(
        f"{args.instances} instances behind HAProxy, {args.users} users x {args.reads} reads "
        f"per run:\n"
    )
    print(report.markdown(rows))
    print("Written:", ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
