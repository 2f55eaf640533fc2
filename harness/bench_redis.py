"""Benchmark the Redis session engines in one run: round trips and relative latency.

    python -m harness.bench_redis [--rounds 5] [--sessions 40]

Starts a redis-server primary and one replica on loopback, then runs the same workload through
Django (the test client, in-process) for the cache-backed engine, the native engine, and the
native engine with WAIT 1: per operation, the round trips Redis received (MONITOR) and the median
latency as a ratio to the native engine without WAIT. Variants are interleaved round by round,
so drift hits them alike. Ratios, not absolute numbers, are the result: loopback has none of a
cloud network's latency, where each extra round trip costs about 0.2-1 ms.
"""

import argparse
import contextlib
import json
import os
import statistics
import time
from importlib import import_module

VARIANTS = [
    ("cache-backed", "session_engines.backends.cache", 0),
    ("native", "session_engines.backends.redis", 0),
    ("native + WAIT 1", "session_engines.backends.redis", 1),
]
BASELINE = "native"


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sessiondemo.settings.redis")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-0123456789abcdef")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def store_operations(store_class):
    """Each operation of Django's session contract, as a callable taking the shared state."""

    def create(state):
        session = store_class()
        session["userInfo"] = {"userId": "alice", "userNm": "Alice"}
        session.save()
        state["key"] = session.session_key

    def load(state):
        store_class(state["key"]).load()

    def modify(state):
        session = store_class(state["key"])
        session["cart"] = [1, 2, 3]
        session.save()

    def delete(state):
        store_class(state["key"]).flush()

    return {"create": create, "load": load, "load + modify": modify, "delete": delete}


def http_operations(client_class):
    def client():
        return client_class(headers={"X-Forwarded-Proto": "https"})

    def post(c, path, body=None):
        return c.post(path, json.dumps(body or {}), content_type="application/json")

    def login(state):
        state["client"] = client()
        post(state["client"], "/login", {"userId": "alice", "userNm": "Alice"})

    def read(state):
        state["client"].get("/session")

    def relogin(state):
        post(state["client"], "/login", {"userId": "alice", "userNm": "Alice K."})

    def logout(state):
        post(state["client"], "/logout")

    return {
        "POST /login": login,
        "GET /session": read,
        "POST /login again": relogin,
        "POST /logout": logout,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=40, help="sessions per variant and round")
    parser.add_argument("--rtt-ms", type=float, default=0.5, help="round-trip time to model")
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.test import Client, override_settings

    from harness.redis import Recorder, delayed, redis_node, replicate
    from session_engines.exceptions import SessionStoreUnavailable

    networks = ["loopback", f"+{args.rtt_ms:g} ms RTT"]
    with contextlib.ExitStack() as stack:
        # Per network, a primary and its replica; on the far one, both the app's connections
        # and the replication link (so WAIT's acknowledgement) pay the round-trip time.
        urls = {}
        for network, rtt in zip(networks, [0, args.rtt_ms], strict=True):
            primary, replica = stack.enter_context(redis_node()), stack.enter_context(redis_node())
            if rtt:
                relay_url = stack.enter_context(delayed(primary.port, rtt))
                replicate(replica, primary, port=int(relay_url.rsplit(":", 1)[1].split("/")[0]))
                urls[network] = stack.enter_context(delayed(primary.port, rtt))
            else:
                replicate(replica, primary)
                urls[network] = recorded_url = primary.url

        def configured(engine, wait, network):
            location = {**settings.CACHES["sessions"], "LOCATION": urls[network]}
            return override_settings(
                SESSION_ENGINE=engine,
                SESSION_CACHE_ALIAS="sessions",
                CACHES={**settings.CACHES, "sessions": location},
                SESSION_REDIS={
                    **settings.SESSION_REDIS,
                    "WAIT_REPLICAS": wait,
                    "WAIT_TIMEOUT_MS": 500,
                },
            )

        def operations(engine):
            return store_operations(import_module(engine).SessionStore) | http_operations(Client)

        round_trips, timings, refused = {}, {}, {}
        for name, engine, wait in VARIANTS:  # round trips: one sequence each, after a warm-up
            with configured(engine, wait, networks[0]):
                ops, state = operations(engine), {}
                for op in ops.values():
                    op(state)
                for op_name, op in ops.items():
                    with Recorder(recorded_url) as seen:
                        op(state)
                    round_trips[name, op_name] = len(
                        [c for c in seen.commands if not c.startswith("WAIT")]
                    )
        for _ in range(args.rounds):
            for network in networks:
                for name, engine, wait in VARIANTS:
                    with configured(engine, wait, network):
                        ops = operations(engine)
                        for _ in range(args.sessions):
                            state = {}
                            for op_name, op in ops.items():
                                started = time.perf_counter()
                                try:
                                    op(state)
                                except SessionStoreUnavailable:  # WAIT timed out: not acknowledged
                                    refused[name] = refused.get(name, 0) + 1
                                    break
                                elapsed = time.perf_counter() - started
                                timings.setdefault((network, name, op_name), []).append(elapsed)

    def ratio(network, name, op_name):
        mean = statistics.median(timings[network, name, op_name])
        return mean / statistics.median(timings[network, BASELINE, op_name])

    print(
        f"median latency relative to '{BASELINE}' on the same network (1.00x = as fast); "
        f"{args.rounds} rounds x {args.sessions} sessions; WAIT 1 = one replica acknowledged\n"
    )
    print(f"{'':<20}" + "".join(f"{name:>36}" for name, _, _ in VARIANTS))
    header = f"{'round trips':>12}{'loopback':>12}{networks[1]:>12}"
    print(f"{'operation':<20}" + header * len(VARIANTS))
    for op_name in operations(VARIANTS[0][1]):
        cells = [
            f"{round_trips[name, op_name]:>12}"
            + "".join(f"{ratio(n, name, op_name):>11.2f}x" for n in networks)
            for name, _, _ in VARIANTS
        ]
        print(f"{op_name:<20}" + "".join(cells))
    for name, count in refused.items():
        print(f"{name}: {count} writes refused (WAIT saw no replica in time), left out above")


if __name__ == "__main__":
    main()
