"""Concurrent writes to one session through the load balancer: how many updates survive.

``python -m harness.concurrency`` (or ``make ha-concurrency``): for each engine with a shared
store, 2 gunicorn instances behind HAProxy round-robin (``harness.ha.cluster``). S sessions
sign in (POST /login); then, for R rounds, each session gets P parallel ``POST /prefs``, each
setting a different name (``r<round>-<i>``). One ``GET /prefs`` per session at the end says
which survived: a name missing (or holding another value) is an update lost.

Figures per engine: updates sent, updates lost, write conflicts the engines retried (the sum of
the ``X-Session-Conflicts`` headers), 5xx (or no answer), p50/p99 of the POSTs. Written to
``--out`` as concurrency.md and concurrency.json; the table is printed too.

The requests go through one thread pool of P workers, each with its own ``requests.Session``
(one keep-alive connection to HAProxy); the session cookie travels per request, so any worker
can send any session's update. Every request has a timeout, every run a deadline.
"""

import argparse
import http.cookiejar
import json
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import report
from .gunicorn import BASE_DIR
from .ha import ENGINES, cluster, stop_on_signal
from .load import percentile

SESSION_COOKIE = "sessionid"  # Django's SESSION_COOKIE_NAME, which the demo keeps
TIMEOUT = 10.0  # seconds, per request
ATTEMPTS = 3  # for the sign-ins and the final reads, which are not what is measured
# Engines whose sessions every instance shares: the local engine keeps one SQLite file per
# instance, so behind round-robin half the updates would land in a session the other never sees.
# The brief's engines; redis_cluster (the same native engine, sharded) on request (--engines).
SHARED = [
    name for name, engine in ENGINES.items() if engine.store not in ("sqlite", "redis_cluster")
]
LIMITS = {"sessions": 200, "parallel": 32, "rounds": 500}

COLUMNS = [
    ("engine", "engine"),
    ("sent", "updates sent"),
    ("lost", "updates lost"),
    ("lost_pct", "lost (%)"),
    ("conflicts", "conflicts retried"),
    ("errors_5xx", "5xx"),
    ("p50_ms", "p50 (ms)"),
    ("p99_ms", "p99 (ms)"),
]


@dataclass
class Post:
    status: int  # 0: no answer at all
    seconds: float
    conflicts: int  # X-Session-Conflicts (0 when absent)
    served_by: str | None


@dataclass
class Result:
    keys: list  # one session key per signed-in session
    rounds: int  # rounds completed before the deadline
    sent: list = field(default_factory=list)  # per session: {name: value} sent to it
    posts: list = field(default_factory=list)
    prefs: list = field(default_factory=list)  # per session: what GET /prefs answered

    def summary(self):
        sent = sum(len(names) for names in self.sent)
        lost = sum(count_lost(sent, got) for sent, got in zip(self.sent, self.prefs, strict=True))
        seconds = sorted(post.seconds for post in self.posts)
        return {
            "sessions": len(self.keys),
            "rounds": self.rounds,
            "sent": sent,
            "lost": lost,
            "lost_pct": round(100 * lost / sent, 1) if sent else 0.0,
            "conflicts": sum(post.conflicts for post in self.posts),
            "errors_5xx": sum(post.status >= 500 or post.status == 0 for post in self.posts),
            "p50_ms": round(1000 * percentile(seconds, 0.50), 1),
            "p99_ms": round(1000 * percentile(seconds, 0.99), 1),
            "served_by": dict(sorted(Counter(post.served_by for post in self.posts).items())),
        }


def count_lost(sent, prefs):
    """Return how many of the ``sent`` {name: value} updates ``prefs`` (GET /prefs) lacks."""
    return sum(prefs.get(name) != value for name, value in sent.items())


class Workers:
    """A thread pool whose every worker keeps its own requests.Session (keep-alive)."""

    def __init__(self, base_url, size):
        self.base_url = base_url
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="prefs")
        self.local = threading.local()
        self.opened = []
        self.lock = threading.Lock()

    def client(self):
        """Return this worker thread's requests.Session, made on its first request."""
        if not hasattr(self.local, "client"):
            session = requests.Session()
            # The session cookie is sent per request; nothing a response sets is kept.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            with self.lock:
                self.opened.append(session)
            self.local.client = session
        return self.local.client

    def post_pref(self, key, name, value):
        """POST /prefs {name: value} to the session ``key``; return the Post (never raise)."""
        started = time.monotonic()
        try:
            response = self.client().post(
                f"{self.base_url}/prefs",
                json={"name": name, "value": value},
                headers={"Cookie": f"{SESSION_COOKIE}={key}"},
                timeout=TIMEOUT,
            )
            status = response.status_code
            conflicts = int(response.headers.get("X-Session-Conflicts") or 0)
            served_by = response.headers.get("X-Served-By")
        except requests.RequestException:
            status, conflicts, served_by = 0, 0, None
        return Post(status, time.monotonic() - started, conflicts, served_by)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)
        for session in self.opened:
            session.close()


def retried(call, what):
    """Return ``call()``'s 200 answer, trying ATTEMPTS times; raise if none came."""
    for _ in range(ATTEMPTS):
        try:
            response = call()
            if response.status_code == 200:
                return response
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} failed {ATTEMPTS} times")


def sign_in(base_url, index):
    """POST /login as a fresh client; return the session key it was given."""
    body = {"userId": f"writer{index}", "userNm": f"Writer {index}"}
    with requests.Session() as client:
        retried(lambda: client.post(f"{base_url}/login", json=body, timeout=TIMEOUT), "login")
        return client.cookies[SESSION_COOKIE]


def read_prefs(base_url, key):
    """GET /prefs with the session ``key``; return the {name: value} it answered."""
    headers = {"Cookie": f"{SESSION_COOKIE}={key}"}
    with requests.Session() as client:
        response = retried(
            lambda: client.get(f"{base_url}/prefs", headers=headers, timeout=TIMEOUT), "GET /prefs"
        )
        return response.json()


def measure(base_url, *, sessions, parallel, rounds, timeout=300.0, progress=None):
    """Sign in ``sessions``, send ``rounds`` x ``parallel`` updates to each; return a Result.

    A round's updates are submitted session by session, so the ``parallel`` updates of one
    session are in flight at once; the next round starts when the round is answered. Rounds
    stop at the deadline (``timeout`` seconds), and the result says how many ran.
    """
    deadline = time.monotonic() + timeout
    keys = [sign_in(base_url, index) for index in range(sessions)]
    result = Result(keys=keys, rounds=0, sent=[{} for _ in keys])
    workers = Workers(base_url, size=parallel)
    try:
        for round_ in range(rounds):
            if time.monotonic() > deadline:
                break
            futures = []
            for index, key in enumerate(keys):
                for i in range(parallel):
                    name, value = f"r{round_}-{i}", f"s{index}-r{round_}-{i}"
                    result.sent[index][name] = value
                    futures.append(workers.pool.submit(workers.post_pref, key, name, value))
            result.posts.extend(future.result() for future in futures)
            result.rounds += 1
            if progress:
                progress(round_ + 1, rounds)
    finally:
        workers.close()
    result.prefs = [read_prefs(base_url, key) for key in keys]
    return result


def run(*, engines, sessions, parallel, rounds, instances, timeout, progress):
    """Return one row per engine: the figures of ``measure`` on its own fresh cluster."""
    rows = []
    for engine in engines:
        progress.start(f"{engine.name} rr")
        with cluster(engine, instances=instances) as running:
            result = measure(
                running.url,
                sessions=sessions,
                parallel=parallel,
                rounds=rounds,
                timeout=timeout,
                progress=progress.draw,
            )
        row = {"engine": engine.name, "parallel": parallel, **result.summary()}
        progress.finish(row)
        rows.append(row)
    return rows


def markdown(rows):
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "| --- |" + " ---: |" * (len(COLUMNS) - 1),
    ]
    lines += ["| " + " | ".join(str(row[key]) for key, _ in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write(rows, *, out, settings):
    """Write out/concurrency.md and out/concurrency.json; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "concurrency.md", out / "concurrency.json"
    md.write_text(markdown(rows))
    js.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    return md, js


class Progress(report.Progress):
    """The HA demo's progress line, counting rounds; one line per engine when done."""

    def draw(self, done, total):
        if not self.tty:
            return
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label:<40} |{bar}| {done}/{total} rounds")
        self.stream.flush()

    def finish(self, summary):
        text = "{lost}/{sent} lost, {conflicts} conflicts, {errors_5xx} 5xx".format(**summary)
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.label:<40} {text}\n")
        self.stream.flush()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m harness.concurrency", description=__doc__)
    parser.add_argument("--engines", default=",".join(SHARED), help="comma-separated: %(default)s")
    parser.add_argument("--sessions", type=int, default=20, help="signed-in sessions (S)")
    parser.add_argument("--parallel", type=int, default=8, help="parallel updates per session (P)")
    parser.add_argument("--rounds", type=int, default=50, help="rounds of updates (R)")
    parser.add_argument("--instances", type=int, default=2, help="gunicorn instances")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per engine")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "out" / "concurrency")
    args = parser.parse_args(argv)
    names = [name for name in args.engines.split(",") if name]
    if unknown := [name for name in names if name not in SHARED]:
        parser.error(
            f"unknown engine: {', '.join(unknown)} (choose from {', '.join(SHARED)}; db on "
            "per-instance SQLite shares no session between instances)"
        )
    args.engines = [ENGINES[name] for name in names]
    for name, limit in {**LIMITS, "instances": 8}.items():
        if not 1 <= getattr(args, name) <= limit:
            parser.error(f"--{name} must be between 1 and {limit}")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    progress = Progress(len(args.engines))
    settings = {
        "sessions": args.sessions,
        "parallel": args.parallel,
        "rounds": args.rounds,
        "instances": args.instances,
        "lb": "rr",
    }
    try:
        rows = run(
            engines=args.engines,
            sessions=args.sessions,
            parallel=args.parallel,
            rounds=args.rounds,
            instances=args.instances,
            timeout=args.timeout,
            progress=progress,
        )
    except KeyboardInterrupt:
        print("\nInterrupted; everything that was started has been stopped.", file=sys.stderr)
        return 130
    written = write(rows, out=args.out, settings=settings)
    print()
    print(
        f"{args.instances} instances behind HAProxy round-robin, {args.sessions} sessions x "
        f"{args.parallel} parallel updates x {args.rounds} rounds:\n"
    )
    print(markdown(rows))
    print("Written:", ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
