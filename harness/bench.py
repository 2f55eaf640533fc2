"""Every session engine end to end, each figure a ratio to Django's signed cookies: ``make bench``.

    python -m harness.bench [--rounds 3] [--duration 2] [--quick] [--relay | --netem]
                            [--engines signed_cookies,redis,...] [--out out/bench]
    python -m harness.bench --overhead-only [--quick]

Each engine runs behind HAProxy (round-robin) on two gunicorn instances (2 sync workers each, no
access log), on its own store: Django's signed cookies (no store: the floor), Django's db,
cache (django-redis) and cached_db engines, and ours (db, cache, redis, redis with its near
cache, dynamodb on moto server, redis on a Redis Cluster). The databases are one PostgreSQL per
engine (RDS-like: a per-instance SQLite file would lose the session behind round-robin).

Request types: a new visitor's sign-in (``POST /login``, no cookie), a read (``GET /session``),
a modify (``POST /prefs``), a re-login (``POST /login`` again: the key is cycled) and a logout
(``POST /logout``). wrk drives each with a Lua script (``harness/wrk/<type>.lua``), 2 threads
and 8 connections for ``--duration`` seconds (logouts half of it: each spends a session that the
round's sign-ins made). Rounds are interleaved (every engine and type once per round, the order
of the engines rotated), so drift and the machine's other work hit every engine alike; each
figure is the engine's requests per second over the floor's in the same round: the median over
rounds, with the spread (lowest-highest), and the median p50/p99 latency in ms.

Round trips per request are counted at the store before the load: Redis's MONITOR (top-level
commands; the ones a Lua script runs are inside its one round trip; the near cache's pipelined
``GET`` + ``PTTL`` is one, and a near-cached read is counted once every worker holds the
session), moto server's log (one line per API call), and for databases the queries each response
reports (X-Database-Queries, DJANGO_COUNT_QUERIES).

Distance (the cloud's, between AZs): ``--netem`` puts each store behind a veth pair into a
network namespace made for the run with ``tc netem`` delaying 0.5 ms each way for Redis and
PostgreSQL, 3 ms for DynamoDB (``harness.netns``); ``--relay`` adds the same delays in a
userspace relay, for kernels without netem. The Redis Cluster has no relay (its nodes hand the
client their own addresses), so it runs on loopback only.

``--overhead-only``: each engine's load and save in this process against the raw client's one
command on the same server (redis-py GET/SET, boto3 get_item/put_item), the median ratio.

Writes out/bench/bench.md, bench.json and bench.png (matplotlib; bench-relay.* and bench-netem.*
at a distance, overhead.md and overhead.json for --overhead-only); a progress bar on stderr.
"""

import argparse
import contextlib
import functools
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import redis as redis_py
import requests

from session_engines.backends.redis import SOURCES

from . import ha
from .dynamodb import FAKE_CREDENTIALS, create_session_table, moto_server
from .gunicorn import BASE_DIR, Instance
from .netns import netem_link, relay
from .postgres import postgres_server
from .redis import Recorder, redis_cluster, redis_node
from .servers import require

WRK_DIR = Path(__file__).resolve().parent / "wrk"
TYPES = ["signin", "read", "modify", "relogin", "logout"]
TYPE_TITLES = {
    "signin": "sign-in (new visitor)",
    "read": "read",
    "modify": "modify",
    "relogin": "re-login",
    "logout": "logout",
}
FLOOR = "signed_cookies"
DELAYS_MS = {"redis": 0.5, "postgres": 0.5, "dynamodb": 3.0}  # each way
SESSIONS_KEPT = 64  # cookies per engine and round for read and modify, and as many for re-login
STORES = ("redis", "database", "dynamodb")
# Passes of reads before a read is counted with a near cache: each of the 4 processes
# (2 instances x 2 workers) misses a session once, then holds it.
WARM_PASSES = 30
NOT_ROUND_TRIPS = Recorder.HANDSHAKE | {"CLUSTER", "READONLY", "PING", "INFO", "COMMAND", "ECHO"}


@dataclass(frozen=True)
class BenchEngine:
    name: str
    title: str
    settings: str
    stores: tuple  # of "postgres", "redis", "cluster", "dynamodb"
    env: dict = field(default_factory=dict)

    @property
    def near_cache(self):
        return bool(self.env.get("SESSION_REDIS_NEAR_CACHE"))

    @property
    def prepare(self):
        """The key of ha.STORES whose preparation the engine's instances need."""
        return {"postgres": "postgres", "dynamodb": "dynamodb"}.get(
            next(iter(self.stores), ""), "sqlite"
        )


def stock(name, title, stores=()):
    """One of Django's own engines (sessiondemo.settings.stock, STOCK_SESSION_ENGINE)."""
    env = {"STOCK_SESSION_ENGINE": name}
    return BenchEngine(name if name == FLOOR else f"django_{name}", title, STOCK, stores, env)


def ours(name, title, stores, settings=None, env=None):
    return BenchEngine(name, title, f"sessiondemo.settings.{settings or name}", stores, env or {})


STOCK = "sessiondemo.settings.stock"
ENGINES = {
    engine.name: engine
    for engine in [
        stock("signed_cookies", "Django signed_cookies (floor)"),
        stock("db", "Django db", ("postgres",)),
        stock("cache", "Django cache (django-redis)", ("redis",)),
        stock("cached_db", "Django cached_db", ("postgres", "redis")),
        ours("db", "ours: db", ("postgres",)),
        ours("cache", "ours: cache", ("redis",)),
        ours("redis", "ours: redis", ("redis",)),
        ours(
            "redis_near",
            "ours: redis + near cache",
            ("redis",),
            settings="redis",
            env={"SESSION_REDIS_NEAR_CACHE": "10000"},
        ),
        ours("dynamodb", "ours: dynamodb (moto)", ("dynamodb",)),
        ours("redis_cluster", "ours: redis on a Redis Cluster", ("cluster",), settings="redis"),
    ]
}


class BenchInstance(Instance):
    """An instance as the issue measured it: 2 sync workers, no access log. ``--config`` names
    an empty file, so not ./gunicorn.conf.py, whose access log costs about a tenth of a
    request (the issue's profile)."""

    workers = ["--config", os.devnull, "--worker-class", "sync", "--workers", "2"]


# --- Stores and the round trips they see --------------------------------------------------------


class Meter:
    """Counts round trips at the stores: MONITOR on each Redis, lines of moto's log."""

    def __init__(self):
        self.redis_urls = []
        self.moto_log = None

    def moto_calls(self):
        if self.moto_log is None:
            return 0
        return self.moto_log.read_bytes().count(b'"POST / HTTP/1.1"')

    def load_scripts(self):
        """Load the Redis engine's scripts on every Redis counted (each cluster primary too)."""
        for url in self.redis_urls:
            with redis_py.Redis.from_url(url) as client:
                for source in SOURCES.values():
                    client.script_load(source)

    @contextlib.contextmanager
    def counting(self):
        """Yield a dict; once the block ends it holds the round trips seen, per store."""
        counted = {"redis": 0, "dynamodb": 0, "database": 0}
        with contextlib.ExitStack() as stack:
            recorders = [stack.enter_context(Recorder(url)) for url in self.redis_urls]
            calls = self.moto_calls()
            yield counted
        counted["redis"] = sum(redis_round_trips(r) for r in recorders)
        counted["dynamodb"] = self.moto_calls() - calls


def redis_round_trips(recorder):
    """The round trips in a Recorder's commands: one each, but the near cache's miss pipelines
    ``GET`` and ``PTTL`` of one key on its tracking connection (one round trip, two commands;
    its health check ``PING``, at most once a second per process, is not counted)."""
    trips, previous = 0, {}  # client -> its last command
    for command, client in zip(recorder.commands, recorder.clients, strict=True):
        name, _, key = command.partition(" ")
        pipelined = name == "PTTL" and previous.get(client) == f"GET {key}"
        trips += name not in NOT_ROUND_TRIPS and not pipelined
        previous[client] = command
    return trips


def rewrite(url, port, address):
    """``url`` with ``127.0.0.1:port`` replaced by ``address`` ((host, port))."""
    return url.replace(f"127.0.0.1:{port}", f"{address[0]}:{address[1]}")


@contextlib.contextmanager
def engine_store(engine, *, distance, workdir, meter):
    """Start the engine's stores; yield the instances' env. ``distance(port, delay_ms)`` is a
    context manager yielding the (host, port) to use instead, or None for loopback."""

    def far(url, port, kind):
        if distance is None:
            return url
        return rewrite(url, port, stack.enter_context(distance(port, DELAYS_MS[kind])))

    with contextlib.ExitStack() as stack:
        env = {"DJANGO_COUNT_QUERIES": "1", **engine.env}
        for store in engine.stores:
            if store == "postgres":
                url = stack.enter_context(postgres_server())
                port = int(re.search(r":(\d+)/", url).group(1))
                env["DATABASE_URL"] = far(url, port, "postgres")
            elif store == "redis":
                node = stack.enter_context(redis_node())
                meter.redis_urls.append(node.url)
                env["REDIS_URL"] = far(node.url, node.port, "redis")
            elif store == "cluster":
                running = stack.enter_context(redis_cluster())
                meter.redis_urls += [node.url for node in running.primaries()]
                env |= {"REDIS_URL": running.url, "REDIS_CLUSTER": "1"}
            elif store == "dynamodb":
                meter.moto_log = workdir / f"moto-{engine.name}.log"
                endpoint = stack.enter_context(moto_server(log=meter.moto_log))
                port = int(endpoint.rsplit(":", 1)[1])
                env |= {
                    **FAKE_CREDENTIALS,
                    "AWS_REGION": FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
                    "SESSION_DYNAMODB_ENDPOINT_URL": far(endpoint, port, "dynamodb"),
                    "SESSION_DYNAMODB_TABLE": "sessions",
                }
        yield env


@dataclass
class Running:
    engine: BenchEngine
    cluster: ha.Cluster
    meter: Meter


def start(engine, *, distance, workdir, stack):
    """The engine's stores, two instances and HAProxy, closed with ``stack``."""
    meter = Meter()
    store = functools.partial(engine_store, engine, distance=distance, workdir=workdir, meter=meter)
    ha_engine = ha.Engine(engine.name, engine.settings, engine.prepare)
    running = stack.enter_context(
        # A health check waits in the workers' queue like any request: under load it must not
        # take an instance out (HAProxy's default waits 200 ms, then answers 503 at once).
        ha.cluster(
            ha_engine, instances=2, instance_class=BenchInstance, store=store, check_timeout="30s"
        )
    )
    return Running(engine, running, meter)


# --- Requests -----------------------------------------------------------------------------------


def sign_in(http, url):
    answer = http.post(f"{url}/login", json={"userId": "bench", "userNm": "Bench User"}, timeout=10)
    answer.raise_for_status()
    return answer


REQUESTS = {
    "signin": sign_in,
    "read": lambda http, url: http.get(f"{url}/session", timeout=10),
    "modify": lambda http, url: http.post(
        f"{url}/prefs", json={"name": "theme", "value": "dark"}, timeout=10
    ),
    "relogin": sign_in,
    "logout": lambda http, url: http.post(f"{url}/logout", timeout=10),
}


def warm_near_caches(running, clients):
    """Read each client's session until every worker holds it, as once warm: a pass of reads
    over all clients that costs Redis no round trip (HAProxy and gunicorn choose the worker,
    so the number of reads that takes is not known), or WARM_PASSES passes."""
    for _ in range(WARM_PASSES):
        with running.meter.counting() as counted:
            for http in clients:
                for _ in range(4):  # 2 instances x 2 workers
                    REQUESTS["read"](http, running.cluster.url).raise_for_status()
        if counted["redis"] == 0:
            return


def round_trips(running, *, per_type=6):
    """Round trips at the store per request of each type (the mean of ``per_type``)."""
    url = running.cluster.url
    running.meter.load_scripts()  # on every node, as a server long up has them: no NOSCRIPT
    for _ in range(4):  # warm up every worker's connections
        for kind in TYPES:
            with requests.Session() as http:
                if kind != "signin":
                    sign_in(http, url)
                REQUESTS[kind](http, url).raise_for_status()
    counts = {}
    for kind in TYPES:
        clients = [requests.Session() for _ in range(per_type)]
        if kind != "signin":
            for http in clients:
                sign_in(http, url)
        if kind == "read" and running.engine.near_cache:
            warm_near_caches(running, clients)
        with running.meter.counting() as counted:
            for http in clients:
                answer = REQUESTS[kind](http, url)
                answer.raise_for_status()
                counted["database"] += int(answer.headers.get("X-Database-Queries", 0))
        for http in clients:
            http.close()
        counts[kind] = {store: n / per_type for store, n in counted.items()}
        counts[kind]["total"] = sum(
            n for store, n in counts[kind].items() if store != "connections"
        )
    return counts


def wrk(url, kind, *, duration, cookies=None, harvest=None, threads=2, connections=8):
    """One wrk run of ``kind``'s script; returns its numbers (requests/s, p50/p99 ms, errors)."""
    command = [require("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    command += ["--timeout", "10s"]  # a busy machine's slow answer is a figure, not an error
    command += ["-s", str(WRK_DIR / f"{kind}.lua"), url, "--"]
    command += [str(cookies or "-"), str(harvest or "-"), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    result = json.loads(line.removeprefix("BENCH "))
    errors = result["socket_errors"] + result["non_2xx"]
    return {  # answered requests only: an error is not served
        "rps": (result["requests"] - errors) / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "requests": result["requests"],
        "errors": errors,
        "reused": result["reused"],
    }


def measure_round(running, *, duration, workdir):
    """Every request type once on ``running``; returns {type: wrk numbers}."""
    url, name = running.cluster.url, running.engine.name
    harvest = workdir / f"harvest-{name}"
    for old in workdir.glob(f"harvest-{name}.*"):
        old.unlink()
    results = {"signin": wrk(url, "signin", duration=duration, harvest=harvest)}
    cookies = [
        line
        for path in sorted(workdir.glob(f"harvest-{name}.*"))
        for line in path.read_text().splitlines()
    ]
    # A third each at least: read and modify share theirs, re-login cycles its own (4 per
    # connection at least), logout spends the rest.
    # A slow engine on a busy machine may sign in too few: its cookies are then used again
    # (counted in "reused", beside the logouts that ran out).
    short = max(0, 3 * 32 - len(cookies))
    if not cookies:
        raise RuntimeError(f"{name}: no sign-in answered with a session cookie")
    cookies = (cookies * (1 + short // len(cookies) + 1))[: max(len(cookies), 3 * 32)]
    kept = min(SESSIONS_KEPT, len(cookies) // 3)
    files = {}
    for kind, part in [
        ("read", cookies[:kept]),
        ("modify", cookies[:kept]),
        ("relogin", cookies[kept : 2 * kept]),
        ("logout", cookies[2 * kept :]),
    ]:
        files[kind] = workdir / f"cookies-{name}-{kind}"
        files[kind].write_text("\n".join(part) + "\n")
    for kind in TYPES[1:]:
        seconds = max(1, duration // 2) if kind == "logout" else duration
        results[kind] = wrk(url, kind, duration=seconds, cookies=files[kind])
    results["signin"]["reused"] = short
    return results


# --- The run ------------------------------------------------------------------------------------


class Progress:
    """``[12/45] redis relogin |######------| 3:10 left`` on stderr, redrawn in place."""

    WIDTH = 24

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()

    def step(self, label):
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0
        filled = self.WIDTH * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        minutes, seconds = divmod(int(left), 60)
        text = f"[{self.done}/{self.total}] {label:<28} |{bar}| {minutes}:{seconds:02d} left"
        self.stream.write(f"\r\033[K{text}" if self.tty else text + "\n")
        self.stream.flush()
        self.done += 1

    def finish(self, text):
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.stream.flush()


def start_all(engines, *, distance, workdir, stack):
    """Start every engine's environment, three at a time; all are closed with ``stack``."""
    stacks = {}

    def one(engine):
        own = contextlib.ExitStack()
        stacks[engine.name] = own
        return start(engine, distance=distance, workdir=workdir, stack=own)

    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            started = list(pool.map(one, engines))
    finally:
        for own in stacks.values():
            stack.push(own.__exit__)
    return started


def run(args):
    distance = relay if args.relay else netem_link if args.netem else None
    network = "relay" if args.relay else "netem" if args.netem else "loopback"
    engines = args.engines
    if distance is not None:
        engines = [engine for engine in engines if "cluster" not in engine.stores]
    per_round = len(engines) * len(TYPES)
    progress = Progress(1 + len(engines) + per_round * args.rounds)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        progress.step(f"starting {len(engines)} engines")
        started = start_all(engines, distance=distance, workdir=workdir, stack=stack)
        trips = {}
        for running in started:
            progress.step(f"{running.engine.name} round trips")
            trips[running.engine.name] = round_trips(running)
        samples = {}
        for r in range(args.rounds):
            shift = r % len(started)
            for running in started[shift:] + started[:shift]:
                progress.step(f"round {r + 1} {running.engine.name}")
                progress.done += len(TYPES) - 1
                results = measure_round(running, duration=args.duration, workdir=workdir)
                for kind, numbers in results.items():
                    samples.setdefault((running.engine.name, kind), []).append(numbers)
        progress.finish("done; stopping everything")
    return summarize(engines, samples, trips, args=args, network=network)


def load_average():
    with contextlib.suppress(OSError):
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    return None


def summarize(engines, samples, trips, *, args, network):
    rows = []
    for engine in engines:
        for kind in TYPES:
            ours, floor = samples[engine.name, kind], samples[FLOOR, kind]
            ratios = [a["rps"] / b["rps"] for a, b in zip(ours, floor, strict=True)]
            rows.append(
                {
                    "engine": engine.name,
                    "type": kind,
                    "ratio": round(statistics.median(ratios), 3),
                    "ratio_min": round(min(ratios), 3),
                    "ratio_max": round(max(ratios), 3),
                    "rps": round(statistics.median(s["rps"] for s in ours), 1),
                    "p50_ms": round(statistics.median(s["p50_ms"] for s in ours), 2),
                    "p99_ms": round(statistics.median(s["p99_ms"] for s in ours), 2),
                    "errors": sum(s["errors"] for s in ours),
                    "reused": sum(s["reused"] for s in ours),
                    "round_trips": trips[engine.name][kind],
                }
            )
    return {
        "settings": {
            "network": network,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "wrk": "-t2 -c8",
            "instances": "2 x gunicorn, 2 sync workers, no access log, behind HAProxy",
            "delays_ms_each_way": DELAYS_MS if network != "loopback" else {},
            "cpus": os.cpu_count(),
            "load_average_after": load_average(),
            "command": "python -m harness.bench " + " ".join(args.argv),
        },
        "engines": {engine.name: engine.title for engine in engines},
        "rows": rows,
    }


# --- Output -------------------------------------------------------------------------------------


def cell(row):
    return f"{row['ratio']:.2f}x ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"


def trips_cell(counts):
    total = counts["total"]
    text = f"{total:g}"
    parts = [f"{counts[store]:g} {store}" for store in STORES if counts.get(store)]
    return text + (f" ({', '.join(parts)})" if len(parts) > 1 else "")


def markdown(result):
    rows, engines = result["rows"], result["engines"]
    by = {(row["engine"], row["type"]): row for row in rows}
    head = "| engine | " + " | ".join(TYPE_TITLES[t] for t in TYPES) + " |\n"
    rule = "| --- |" + " ---: |" * len(TYPES) + "\n"
    settings = result["settings"]
    out = [
        f"Network: {settings['network']}; {settings['rounds']} rounds x {settings['duration_s']} s "
        f"per request type, wrk {settings['wrk']}; load average after: "
        f"{settings['load_average_after']}.\n\n",
        "Requests per second as a ratio to the floor (Django's signed cookies) in the same round: "
        "median (lowest-highest over rounds).\n\n",
        head,
        rule,
    ]
    for name, title in engines.items():
        out.append(f"| {title} | " + " | ".join(cell(by[name, t]) for t in TYPES) + " |\n")
    out += ["\nLatency p50 / p99 (ms, median over rounds); the floor's requests per second.\n\n"]
    out += [head, rule]
    for name, title in engines.items():
        cells = [f"{by[name, t]['p50_ms']:.1f} / {by[name, t]['p99_ms']:.1f}" for t in TYPES]
        out.append(f"| {title} | " + " | ".join(cells) + " |\n")
    floor_rps = [f"{by[FLOOR, t]['rps']:.0f}/s" for t in TYPES]
    out.append("| floor, requests/s | " + " | ".join(floor_rps) + " |\n")
    out += ["\nRound trips to the store per request, counted at the store.\n\n", head, rule]
    for name, title in engines.items():
        cells = [trips_cell(by[name, t]["round_trips"]) for t in TYPES]
        out.append(f"| {title} | " + " | ".join(cells) + " |\n")
    if errors := [r for r in rows if r["errors"] or r["reused"]]:
        out.append("\nErrors or reused cookies: ")
        out.append(
            ", ".join(f"{r['engine']} {r['type']}: {r['errors']}/{r['reused']}" for r in errors)
        )
        out.append("\n")
    return "".join(out)


def chart(result, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    engines = [name for name in result["engines"] if name != FLOOR]
    by = {(row["engine"], row["type"]): row for row in result["rows"]}
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    width = 0.8 / len(engines)
    for i, name in enumerate(engines):
        xs = [t + (i - (len(engines) - 1) / 2) * width for t in range(len(TYPES))]
        rows = [by[name, kind] for kind in TYPES]
        heights = [row["ratio"] for row in rows]
        spread = [
            [row["ratio"] - row["ratio_min"] for row in rows],
            [row["ratio_max"] - row["ratio"] for row in rows],
        ]
        axes.bar(xs, heights, width, yerr=spread, capsize=2, label=result["engines"][name])
    axes.axhline(1.0, color="black", linewidth=1)
    axes.set_xticks(range(len(TYPES)), [TYPE_TITLES[t] for t in TYPES])
    axes.set_ylabel("requests/s, ratio to Django signed_cookies (1.0)")
    settings = result["settings"]
    axes.set_title(
        f"Session engines end to end ({settings['network']}, {settings['rounds']} rounds; "
        "bars: median, lines: spread)"
    )
    axes.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write(result, out, *, stem="bench"):
    out.mkdir(parents=True, exist_ok=True)
    md, js, png = (out / f"{stem}.{ext}" for ext in ("md", "json", "png"))
    md.write_text(markdown(result))
    js.write_text(json.dumps(result, indent=2) + "\n")
    chart(result, png)
    return md, js, png


# --- Engine overhead ----------------------------------------------------------------------------


def overhead(args):
    """Each engine's load and save against the raw client's one command, in this process."""
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(redis_node())
        endpoint = stack.enter_context(moto_server())
        dynamo_env = {
            **FAKE_CREDENTIALS,
            "AWS_REGION": FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            "SESSION_DYNAMODB_ENDPOINT_URL": endpoint,
            "SESSION_DYNAMODB_TABLE": "sessions",
        }
        os.environ.update(dynamo_env)
        os.environ |= {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "REDIS_URL": node.url,
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        create_session_table({"DJANGO_SETTINGS_MODULE": "sessiondemo.settings.dynamodb"})
        os.environ["DJANGO_SETTINGS_MODULE"] = "sessiondemo.settings.redis"
        import django

        django.setup()
        return overhead_rows(node, iterations=200 if args.quick else 2000)


def engine_ops(module, data):
    """Return (load, save) on a session of ``module``'s engine, saved with ``data`` first: a
    load by a new store of its key, a save of one key changed each time."""
    store_class = import_module(module).SessionStore
    session = store_class()
    session.update(data)
    session.save()
    counter = iter(range(10**9))

    def load():
        store_class(session.session_key).load()

    def save():
        session["n"] = next(counter)
        session.save()

    return load, save


def overhead_rows(node, *, iterations):

    import boto3
    import redis
    from django.conf import settings
    from django.test import override_settings

    from session_engines.dynamodb_table import KEY_ATTRIBUTE

    raw_redis = redis.Redis.from_url(node.url)
    dynamo = boto3.client(
        "dynamodb",
        endpoint_url=settings.SESSION_DYNAMODB["ENDPOINT_URL"],
        region_name=settings.SESSION_DYNAMODB["REGION_NAME"],
    )
    table = settings.SESSION_DYNAMODB["TABLE_NAME"]
    data = {"userInfo": {"userId": "bench", "userNm": "Bench User"}}

    encoded = json.dumps(data).encode()
    raw_redis.set("raw:bench", encoded)
    item = {KEY_ATTRIBUTE: {"S": "raw-bench"}, "data": {"S": encoded.decode()}}
    dynamo.put_item(TableName=table, Item=item)
    raw = {
        "redis": (
            lambda: raw_redis.get("raw:bench"),
            lambda: raw_redis.set("raw:bench", encoded, ex=1209600),
        ),
        "dynamodb": (
            lambda: dynamo.get_item(TableName=table, Key={KEY_ATTRIBUTE: {"S": "raw-bench"}}),
            lambda: dynamo.put_item(TableName=table, Item=item),
        ),
    }
    raw["redis_script"] = (raw["redis"][0], raw_update_script(raw_redis, data))
    engines = [
        ("redis", "session_engines.backends.redis", "redis", "GET", "SET"),
        # Its save against the same script sent raw: the script's own work in Redis (compare
        # the version, SET, the user index) left out, what remains is the engine's Python.
        ("redis", "session_engines.backends.redis", "redis_script", None, "EVALSHA UPDATE"),
        ("cache", "session_engines.backends.cache", "redis", "GET", "SET"),
        ("dynamodb", "session_engines.backends.dynamodb", "dynamodb", "get_item", "put_item"),
    ]
    rows = []
    for name, module, client, raw_load_name, raw_save_name in engines:
        # The cache engine on the "sessions" cache (django-redis), as sessiondemo.settings.cache.
        stack = contextlib.ExitStack()
        if name == "cache":
            stack.enter_context(override_settings(SESSION_CACHE_ALIAS="sessions"))
        load, save = engine_ops(module, data)
        raw_load, raw_save = raw[client]
        for operation, ours, theirs, raw_name in [
            ("load", load, raw_load, raw_load_name),
            ("save", save, raw_save, raw_save_name),
        ]:
            if raw_name is None:
                continue
            mine, base = [], []
            for _ in range(iterations if client == "redis" else iterations // 4):
                for timings, call in ((mine, ours), (base, theirs)):  # interleaved
                    started = time.perf_counter()
                    call()
                    timings.append(time.perf_counter() - started)
            engine_us, raw_us = statistics.median(mine) * 1e6, statistics.median(base) * 1e6
            rows.append(
                {
                    "engine": name,
                    "operation": operation,
                    "raw": raw_name,
                    "engine_us": round(engine_us, 1),
                    "raw_us": round(raw_us, 1),
                    "ratio": round(engine_us / raw_us, 2),
                }
            )
        stack.close()
    return rows


def raw_update_script(client, data):
    """Return a call of the redis engine's UPDATE script on a session of its own, sent raw (the
    version it expects kept from each reply, so every call writes)."""
    from session_engines.backends import redis as engine
    from session_engines.users import user_id_of

    store = engine.SessionStore()
    store.update(data)
    store.save()
    session_digest = engine.session_id(store.session_key)
    key, user_id = engine.session_key_name(session_digest), user_id_of(data)
    index = [] if user_id is None else [engine.user_index_name(user_id)]
    value = engine.pack(store.encode(data), engine.user_digest(user_id))
    version = [1]

    def update():
        args = [value, 1209600, version[0]]
        reply = client.execute_command(*engine.UPDATE.command([key, *index], args))
        version[0] = engine.unpack(reply[0]).version if isinstance(reply, list) else reply

    return update


def overhead_markdown(rows, target=1.3):
    out = [
        "| engine | operation | raw command | engine (µs) | raw (µs) | ratio |\n",
        "| --- | --- | --- | ---: | ---: | ---: |\n",
    ]
    for row in rows:
        mark = "" if row["ratio"] <= target else " (over 1.3x)"
        out.append(
            f"| {row['engine']} | {row['operation']} | {row['raw']} | {row['engine_us']:.0f} | "
            f"{row['raw_us']:.0f} | {row['ratio']:.2f}x{mark} |\n"
        )
    return "".join(out)


# --- Command line -------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: %(default)s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=2, help="seconds per request type")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s: a check, in CI")
    distance = parser.add_mutually_exclusive_group()
    distance.add_argument("--netem", action="store_true", help="stores behind veth + tc netem")
    distance.add_argument("--relay", action="store_true", help="stores behind a delaying relay")
    parser.add_argument("--overhead-only", action="store_true")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "out" / "bench")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    names = [name for name in args.engines.split(",") if name]
    if unknown := [name for name in names if name not in ENGINES]:
        parser.error(f"unknown engine: {', '.join(unknown)} (choose from {', '.join(ENGINES)})")
    if FLOOR not in names:
        names.insert(0, FLOOR)  # every figure is a ratio to it
    args.engines = [ENGINES[name] for name in names]
    if args.quick:
        args.rounds, args.duration = 1, 1
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 60):
        parser.error("--rounds must be 1-20 and --duration 1-60")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, ha.stop_on_signal)
    if args.netem:
        from .netns import check_netem

        try:
            check_netem()
        except RuntimeError as exc:
            print(f"--netem: {exc}", file=sys.stderr)
            return 2
    try:
        if args.overhead_only:
            rows = overhead(args)
            args.out.mkdir(parents=True, exist_ok=True)
            text = overhead_markdown(rows)
            (args.out / "overhead.md").write_text(text)
            (args.out / "overhead.json").write_text(json.dumps(rows, indent=2) + "\n")
            print(text)
            return 0
        result = run(args)
    except KeyboardInterrupt:
        print("\nInterrupted; everything that was started has been stopped.", file=sys.stderr)
        return 130
    stem = (
        "bench"
        if result["settings"]["network"] == "loopback"
        else f"bench-{result['settings']['network']}"
    )
    written = write(result, args.out, stem=stem)
    print(markdown(result))
    print("Written:", ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
