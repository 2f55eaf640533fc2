"""Soak and faults under load: sessions through HAProxy and two instances, checked on every answer.

``python -m harness.soak`` (or ``make soak``): per shared store (``--stores``), the HA cluster of
``harness.ha`` (two gunicorn instances behind HAProxy round-robin) and C virtual users
(``--clients``) at fixed concurrency, each a real HTTP client with its own cookie jar, looping
with no think time: sign in, read, change a preference, read it back, now and then log out and
sign in again. After every answer the user checks that its session holds what it last wrote.

First the soak (``--seconds``): the same load throughout; worker RSS (``/proc`` of each gunicorn
worker) is read after a warm-up (a quarter of the run, at most 30 s) and at the end. Then each
fault under load (``--faults``), ``--fault-seconds`` each, the fault a third of the way in:

- ``instance``: instance 1 SIGKILLed, then started again once HAProxy has marked it down;
- ``restart``: the store SIGKILLed and started again on its port (Redis keeping nothing on disk,
  Redis with ``appendonly yes`` + ``appendfsync always``, ``moto server``, in memory), or
  PostgreSQL's immediate shutdown (SIGQUIT) and start;
- ``failover``: the Sentinel group's primary SIGKILLed; the Sentinels promote the replica;
- ``primary``: a Redis Cluster shard's primary SIGKILLed; its replica takes over.

Every fault returns once the store serves again (the killed node back as a replica). Before each
run, ``--idle`` idle sessions sign in and set a preference; after it, each is read back.

A write answered 503 (or not answered) may or may not have been applied: the user then accepts
either the old or the new state on its next read, and nothing else. A session is *lost* when an
answered read finds it empty; *wrong* when it holds anything else (an older value saved over a
newer one). The property: each request gets a 200 with the session intact or a 503 with
Retry-After (never a 500); requests in flight on a killed instance get HAProxy's 502 or no answer.
"""

import argparse
import json
import random
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests

from .gunicorn import BASE_DIR
from .ha import Engine, cluster, stop_on_signal
from .load import percentile

TIMEOUT = 10.0  # seconds, per request
RETRY_AFTER_CAP = 5.0  # a user waits Retry-After after a 503, at most this long
PREF_NAMES = ("theme", "lang", "tz", "size")
# What a signed-in user does next, by weight; each write is followed by a read that checks it.
ACTIONS = {"read_session": 3, "read_prefs": 2, "write_pref": 3, "log_out": 0.5}
INSTANCE_FAULT = "instance"

STORES = {
    engine.name: engine
    for engine in [
        Engine("redis", "sessiondemo.settings.redis", "redis", faults=("instance", "restart")),
        Engine("redis_aof", "sessiondemo.settings.redis", "redis_aof", faults=("restart",)),
        Engine(
            "redis_sentinel",
            "sessiondemo.settings.redis",
            "redis_sentinel",
            faults=("instance", "failover"),
        ),
        Engine(
            "redis_cluster",
            "sessiondemo.settings.redis",
            "redis_cluster",
            faults=("instance", "primary"),
        ),
        Engine(
            "dynamodb", "sessiondemo.settings.dynamodb", "dynamodb", faults=("instance", "restart")
        ),
        Engine(
            "postgres",
            "sessiondemo.settings.db",
            "postgres_synchronous",
            faults=("instance", "restart"),
        ),
        # The harness's usual PostgreSQL (synchronous_commit=off), on request only: what an
        # asynchronous commit loses at a crash.
        Engine("postgres_async", "sessiondemo.settings.db", "postgres", faults=("restart",)),
    ]
}
DEFAULT_STORES = [name for name in STORES if name != "postgres_async"]
FAULTS = ("instance", "restart", "failover", "primary")
# Stores whose restart loses everything they held, by design: their losses are the figure.
VOLATILE = {("redis", "restart"), ("dynamodb", "restart")}
# Replicated Redis: the engine WAITs for a replica after each write (``--wait-replicas``), as the
# settings advise, so a failover loses no answered write; 0 shows what asynchronous replication
# loses. The timeout is generous: on a loaded machine a replica can take tens of ms to answer.
REPLICATED = {"redis_sentinel", "redis_cluster"}
WAIT_TIMEOUT_MS = 500


def instance_env(engine, wait_replicas):
    """Return the instances' settings for ``engine`` beyond its store's."""
    if engine.name not in REPLICATED:
        return {}
    return {
        "SESSION_REDIS_WAIT_REPLICAS": str(wait_replicas),
        "SESSION_REDIS_WAIT_TIMEOUT_MS": str(WAIT_TIMEOUT_MS),
    }


@dataclass(frozen=True)
class State:
    """What a session holds: the signed-in UserInfo (userId, userNm) or None, and its prefs."""

    user: tuple | None = None
    prefs: frozenset = frozenset()

    def with_pref(self, name, value):
        prefs = {key: val for key, val in self.prefs if key != name}
        return replace(self, prefs=frozenset({**prefs, name: value}.items()))


SIGNED_OUT = State()


@dataclass
class Tally:
    """Counts for one run, shared by the users (under ``lock``)."""

    statuses: Counter = field(default_factory=Counter)  # HTTP status (0: no answer) -> count
    served_by: Counter = field(default_factory=Counter)  # X-Served-By -> answers
    no_retry_after: int = 0  # 503s without Retry-After
    sessions: int = 0  # signed in (each sign-in starts a session)
    lost: int = 0  # an answered read found the session empty
    wrong: int = 0  # an answered read found something the user never wrote last
    seconds: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status, seconds, response):
        with self.lock:
            self.statuses[status] += 1
            self.served_by[response.headers.get("X-Served-By")] += status != 0
            self.seconds.append(seconds)
            if status == 503 and not response.headers.get("Retry-After"):
                self.no_retry_after += 1

    def count(self, what):
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)


class VirtualUser:
    """One client: its cookie jar, and every state its session may be in (more than one after
    a write that got no clear answer)."""

    def __init__(self, base_url, user_id, tally):
        self.base_url = base_url
        self.user_id = user_id
        self.tally = tally
        self.http = requests.Session()
        self.states = {SIGNED_OUT}
        self.version = 0  # each sign-in and each pref value is new

    def request(self, method, path, **kwargs):
        """Return (status, body or None); 0: no answer. A 503 waits Retry-After."""
        started = time.monotonic()
        try:
            response = self.http.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException:
            self.tally.record(0, time.monotonic() - started, requests.Response())
            time.sleep(0.2)
            return 0, None
        self.tally.record(response.status_code, time.monotonic() - started, response)
        if response.status_code == 503:
            time.sleep(min(float(response.headers.get("Retry-After") or 1), RETRY_AFTER_CAP))
        elif response.status_code != 200:
            time.sleep(0.2)
        return response.status_code, response.json() if response.status_code == 200 else None

    def step(self):
        """One action, chosen by the session's state; every write is followed by its check."""
        if len({state.user for state in self.states}) > 1:
            self.read_session()  # a log-out without a clear answer: which was it?
        elif self.states == {SIGNED_OUT} or all(s.user is None for s in self.states):
            if self.sign_in():
                self.read_session()
        else:
            action = random.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
            getattr(self, action)()
            if action == "write_pref":
                self.read_prefs()
            elif action == "log_out":
                self.read_session()

    def sign_in(self):
        self.version += 1
        user = (self.user_id, f"User {self.user_id} v{self.version}")
        status, body = self.request("POST", "/login", json={"userId": user[0], "userNm": user[1]})
        if status == 200:
            self.tally.count("sessions")
            self.states = {State(user)}  # a fresh key; the signed-out session held nothing
        # Unanswered: applied or not, this cookie's session still holds nothing.
        return status == 200

    def write_pref(self):
        self.version += 1
        name, value = random.choice(PREF_NAMES), f"v{self.version}"
        status, _ = self.request("POST", "/prefs", json={"name": name, "value": value})
        written = {state.with_pref(name, value) for state in self.states}
        self.states = written if status == 200 else self.states | written

    def log_out(self):
        status, _ = self.request("POST", "/logout")
        self.states = {SIGNED_OUT} if status == 200 else self.states | {SIGNED_OUT}

    def read_session(self):
        status, body = self.request("GET", "/session")
        if status == 200:
            user = None if body["userId"] is None else (body["userId"], body["userNm"])
            self.check({state for state in self.states if state.user == user}, empty=user is None)

    def read_prefs(self):
        status, body = self.request("GET", "/prefs")
        if status == 200:
            prefs = frozenset(body.items())
            matching = {state for state in self.states if state.prefs == prefs}
            if not matching and prefs:
                # Prefs but not these: a later write into a session that was gone, or an old
                # value saved over a newer one? The UserInfo tells: gone, it is a lost session.
                status, body = self.request("GET", "/session")
                if status == 200:
                    self.check(matching, empty=body["userId"] is None)
            else:
                self.check(matching, empty=not prefs)

    def check(self, matching, *, empty):
        """Keep the states the answer allows; none: the session was lost or is wrong."""
        if matching:
            self.states = matching
            return
        self.tally.count("lost" if empty else "wrong")
        self.http.cookies.clear()  # start again as a new visitor
        self.states = {SIGNED_OUT}

    def run(self, stop):
        with self.http:
            while not stop.is_set():
                self.step()


def sign_in_idle(base_url, count, deadline):
    """``count`` sessions that sign in, set one pref, and wait; return [(client, State)]."""
    token = secrets.token_hex(3)
    idle = []
    for index in range(count):
        client = requests.Session()
        user = (f"idle{index}-{token}", f"Idle {index}")
        answered(
            client, "POST", f"{base_url}/login", deadline, {"userId": user[0], "userNm": user[1]}
        )
        answered(client, "POST", f"{base_url}/prefs", deadline, {"name": "theme", "value": user[0]})
        idle.append((client, State(user).with_pref("theme", user[0])))
    return idle


def answered(client, method, url, deadline, body=None):
    """Return the answer's JSON body once a 200 comes, retrying anything else until ``deadline``."""
    while True:
        try:
            response = client.request(method, url, json=body, timeout=TIMEOUT)
            if response.status_code == 200:
                return response.json()
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{method} {url}: no 200 answer before the deadline")
        time.sleep(0.2)


def check_idle(base_url, idle, deadline):
    """Return how many idle sessions still hold what they wrote (read once the store serves)."""
    kept = 0
    for client, state in idle:
        with client:
            got = answered(client, "GET", f"{base_url}/session", deadline)
            prefs = answered(client, "GET", f"{base_url}/prefs", deadline)
        kept += (got["userId"], got["userNm"]) == state.user and frozenset(
            prefs.items()
        ) == state.prefs
    return kept


# --- Worker memory ----------------------------------------------------------------------------


def worker_pids(master):
    """Return the pids whose parent is ``master`` (a gunicorn master's workers), from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def workers_rss(running):
    """Return {instance name: its workers' RSS in KiB}."""
    return {
        node.name: sum(rss_kib(pid) for pid in worker_pids(node.process.pid))
        for node in running.instances
    }


# --- Runs -----------------------------------------------------------------------------------


def kill_instance(running):
    """SIGKILL instance 1; once HAProxy has marked it down, start it again and wait until UP."""
    node = running.instances[0]
    running.kill(0)
    running.balancer.wait_for(
        node.name, lambda s: s["status"].startswith("DOWN"), timeout=30.0, what="DOWN"
    )
    running.heal()


def apply_fault(running, fault):
    if fault == INSTANCE_FAULT:
        kill_instance(running)
    else:
        running.store_faults[fault]()


def run_load(running, *, clients, seconds, idle, fault=None, warm_up=None):
    """C users for ``seconds`` (longer if the fault outlasts it); return the row's figures."""
    tally = Tally()
    started = time.monotonic()
    idle_sessions = sign_in_idle(running.url, idle, started + 60.0)
    stop = threading.Event()
    token = secrets.token_hex(3)
    users = [VirtualUser(running.url, f"vu{n}-{token}", tally) for n in range(clients)]
    threads = [threading.Thread(target=user.run, args=(stop,), daemon=True) for user in users]
    for thread in threads:
        thread.start()
    start = time.monotonic()
    rss_warm = fault_seconds = None
    if warm_up is not None:
        time.sleep(warm_up)
        rss_warm = workers_rss(running)
    if fault is not None:
        time.sleep(seconds / 3)
        fault_started = time.monotonic()
        apply_fault(running, fault)
        fault_seconds = time.monotonic() - fault_started
        # Read on past the fault (a third of the run at least): every user must find its
        # session again afterwards.
        time.sleep(max(seconds / 3, start + seconds - time.monotonic()))
    else:
        time.sleep(max(0.0, start + seconds - time.monotonic()))
    rss_end = workers_rss(running) if warm_up is not None else None
    stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT + RETRY_AFTER_CAP + 5)
    elapsed = time.monotonic() - start
    idle_kept = check_idle(running.url, idle_sessions, time.monotonic() + 60.0)
    return summary(
        tally,
        elapsed=elapsed,
        idle=idle,
        idle_kept=idle_kept,
        fault_seconds=fault_seconds,
        rss=(rss_warm, rss_end),
    )


def summary(tally, *, elapsed, idle, idle_kept, fault_seconds, rss):
    statuses, seconds = tally.statuses, sorted(tally.seconds)
    requests_ = sum(statuses.values())
    sessions = tally.sessions + idle
    lost = tally.lost + (idle - idle_kept)
    row = {
        "seconds": round(elapsed, 1),
        "requests": requests_,
        "rps": round(requests_ / elapsed, 1),
        "ok": statuses[200],
        "s503": statuses[503],
        "s503_no_retry_after": tally.no_retry_after,
        "s500": statuses[500],
        # HAProxy's 502/504 and no answer at all: requests in flight on a killed instance.
        "dropped": sum(n for status, n in statuses.items() if status in (0, 502, 504)),
        "other": sum(n for s, n in statuses.items() if s not in (0, 200, 500, 502, 503, 504)),
        "sessions": sessions,
        "lost": lost,
        "wrong": tally.wrong,
        "kept": sessions - lost - tally.wrong,
        "idle": idle,
        "idle_lost": idle - idle_kept,
        "p50_ms": round(1000 * percentile(seconds, 0.50), 1),
        "p99_ms": round(1000 * percentile(seconds, 0.99), 1),
        "fault_seconds": None if fault_seconds is None else round(fault_seconds, 1),
        "statuses": {str(status): n for status, n in sorted(statuses.items())},  # 0: no answer
        "served_by": {str(name): n for name, n in sorted(tally.served_by.items(), key=str) if n},
    }
    warm, end = rss
    if warm is not None:
        growth = [100 * (end[name] - warm[name]) / warm[name] for name in warm]
        row |= {
            "rss_warm_mib": round(sum(warm.values()) / 1024, 1),
            "rss_end_mib": round(sum(end.values()) / 1024, 1),
            "rss_growth_pct": round(max(growth), 1),  # the instance that grew most
        }
    return row


def soak(*, stores, seconds, clients, faults, fault_seconds, idle, wait_replicas, progress=print):
    """Per store: the soak, then each fault under load, on one cluster; return the rows."""
    soaks, fault_rows = [], []
    for engine in stores:
        with cluster(engine, env=instance_env(engine, wait_replicas)) as running:
            progress(f"{engine.name}: soak, {clients} clients, {seconds:g} s")
            row = run_load(
                running,
                clients=clients,
                seconds=seconds,
                idle=idle,
                warm_up=min(30.0, seconds / 4),
            )
            soaks.append({"store": engine.name, "clients": clients, **row})
            progress(f"  {brief(row)}, RSS +{row['rss_growth_pct']}%")
            for fault in [fault for fault in engine.faults if fault in faults]:
                progress(f"{engine.name}: {fault} under load, {fault_seconds:g} s")
                row = run_load(
                    running, clients=clients, seconds=fault_seconds, idle=idle, fault=fault
                )
                fault_rows.append({"store": engine.name, "fault": fault, **row})
                progress(f"  {brief(row)}")
    return soaks, fault_rows


def brief(row):
    return "{requests} requests, {s503} 503, {s500} 500, {dropped} dropped, {lost} lost".format(
        **row
    )


SOAK_COLUMNS = [
    ("store", "store"),
    ("seconds", "seconds"),
    ("clients", "clients"),
    ("requests", "requests"),
    ("rps", "req/s"),
    ("s500", "500"),
    ("s503", "503"),
    ("sessions", "sessions"),
    ("lost", "lost"),
    ("wrong", "wrong"),
    ("p50_ms", "p50 (ms)"),
    ("p99_ms", "p99 (ms)"),
    ("rss_warm_mib", "RSS after warm-up (MiB)"),
    ("rss_end_mib", "RSS at end (MiB)"),
    ("rss_growth_pct", "RSS growth (%)"),
]
FAULT_COLUMNS = [
    ("store", "store"),
    ("fault", "fault"),
    ("requests", "requests"),
    ("s503", "503"),
    ("s500", "500"),
    ("dropped", "502 or no answer"),
    ("sessions", "sessions"),
    ("lost", "lost"),
    ("wrong", "wrong"),
    ("kept", "kept"),
    ("fault_seconds", "fault (s)"),
]


def markdown(rows, columns):
    text = [key for key, _ in columns if key in ("store", "fault")]
    lines = [
        "| " + " | ".join(title for _, title in columns) + " |",
        "|" + "|".join(" --- " if key in text else " ---: " for key, _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(str(row[key]) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write(soaks, fault_rows, *, out, settings):
    """Write out/soak.md and out/soak.json; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "soak.md", out / "soak.json"
    md.write_text(markdown(soaks, SOAK_COLUMNS) + "\n" + markdown(fault_rows, FAULT_COLUMNS))
    settings = {**settings, "out": str(settings["out"])}
    js.write_text(
        json.dumps({"settings": settings, "soak": soaks, "faults": fault_rows}, indent=2) + "\n"
    )
    return md, js


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m harness.soak", description=__doc__)
    parser.add_argument(
        "--stores",
        default=",".join(DEFAULT_STORES),
        help=f"comma-separated: %(default)s; or {', '.join(set(STORES) - set(DEFAULT_STORES))}",
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="soak length per store")
    parser.add_argument("--clients", type=int, default=8, help="virtual users, all the time")
    parser.add_argument(
        "--faults", default="all", help=f"none, all, or comma-separated: {','.join(FAULTS)}"
    )
    parser.add_argument("--fault-seconds", type=float, default=20.0, help="per fault run")
    parser.add_argument("--idle", type=int, default=20, help="idle sessions checked per run")
    parser.add_argument(
        "--wait-replicas",
        type=int,
        default=1,
        choices=(0, 1),
        help="SESSION_REDIS_WAIT_REPLICAS on replicated Redis (Sentinel, cluster)",
    )
    parser.add_argument("--out", type=Path, default=BASE_DIR / "out" / "soak")
    args = parser.parse_args(argv)
    names = [name for name in args.stores.split(",") if name]
    if unknown := [name for name in names if name not in STORES]:
        parser.error(f"unknown store: {', '.join(unknown)} (choose from {', '.join(STORES)})")
    args.stores = [STORES[name] for name in names]
    faults = {"none": [], "all": list(FAULTS)}.get(args.faults)
    if faults is None:
        faults = [name for name in args.faults.split(",") if name]
        if unknown := [name for name in faults if name not in FAULTS]:
            parser.error(f"unknown fault: {', '.join(unknown)} (choose from {', '.join(FAULTS)})")
    args.faults = faults
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be between 1 and 64")
    if not 0 <= args.idle <= 1000:
        parser.error("--idle must be between 0 and 1000")
    if args.seconds < 4 or args.fault_seconds < 4:
        parser.error("--seconds and --fault-seconds must be at least 4")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    try:
        soaks, fault_rows = soak(
            stores=args.stores,
            seconds=args.seconds,
            clients=args.clients,
            faults=args.faults,
            fault_seconds=args.fault_seconds,
            idle=args.idle,
            wait_replicas=args.wait_replicas,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        print("\nInterrupted; everything that was started has been stopped.", file=sys.stderr)
        return 130
    written = write(
        soaks,
        fault_rows,
        out=args.out,
        settings=vars(args) | {"stores": [e.name for e in args.stores]},
    )
    print(
        f"\nSoak: {args.clients} clients through HAProxy round-robin and 2 instances, "
        f"{args.seconds:g} s per store, {args.idle} idle sessions; replicated Redis with "
        f"SESSION_REDIS_WAIT_REPLICAS={args.wait_replicas}:\n"
    )
    print(markdown(soaks, SOAK_COLUMNS))
    if fault_rows:
        print(f"Faults under load: {args.clients} clients, {args.fault_seconds:g} s per run:\n")
        print(markdown(fault_rows, FAULT_COLUMNS))
    print("Written:", ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
