"""Measure the native Redis engine's near cache: revocation delay, memory, and read cost.

    python -m harness.nearcache [--revokes 200] [--sessions 2000] [--reads 2000] [--quick]
                                [--server redis|valkey] [--out DIR]

Starts a redis-server (or valkey-server) on loopback and two instances of the engine with
``SESSION_REDIS["NEAR_CACHE"]`` on, each a process of its own (this one, the reader, and a child,
the revoker, both on the demo's settings):

- **Revocation delay**: the reader holds a session in its near cache; the revoker ends it (the
  operator's revoke, ``delete_by_digest``) and notes when Redis answered; the reader, reading
  the session in a loop, notes its first refused read (an empty session). The delay is the
  second time less the first (``time.monotonic``, one clock for every process on Linux);
  negative when the reader heard the invalidation before the revoker heard its answer.
- **Memory per cached session**: ``tracemalloc``'s growth over filling the near cache with
  ``--sessions`` signed-in sessions, divided by their number.
- **Read cost**: ``SessionStore(key).load()`` in µs, from the near cache and with it off (one
  ``GET``), in this process: loopback has no network distance, which the cache saves too; and
  the cost of reading the stored form alone, Django's signed form against ours and plain JSON.
  And ``GET /session`` signed in, through Django's test client in this process (no gunicorn, no
  HTTP), beside Django's signed-cookie engine (the floor: no store at all). Each timing is the
  median of 7 rounds, the variants taking turns.

Also the instance the tests use (``Instance``): ``python -m harness.nearcache serve`` reads one
JSON request per line on stdin and answers one per line on stdout.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

USER = {
    "_auth_user_id": "1",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": "0" * 64,  # the length of Django's session auth hash
}


def environment(url, max_entries=10000):
    """Return the environment of an instance of the demo on the Redis at ``url``."""
    return {
        "DJANGO_SETTINGS_MODULE": "sessiondemo.settings.redis",
        "DJANGO_SECRET_KEY": "nearcache-harness-only-secret-key-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_HTTPS": "0",  # plain HTTP: Django's test client
        "DJANGO_LOG_LEVEL": "WARNING",
        "REDIS_URL": url,
        "REDIS_KEY_PREFIX": "nearcache",
        "SESSION_REDIS_NEAR_CACHE": str(max_entries) if max_entries else "",
    }


def setup_django(url, max_entries=10000):
    os.environ.update(environment(url, max_entries))
    import django

    django.setup()


# --- One instance: requests on stdin, answers on stdout ---------------------------------------


def handle(request):
    """Run one request against this instance's engine; return its answer."""
    from session_engines.backends import redis
    from session_engines.backends.redis import SessionStore
    from session_engines.ids import session_id

    op, key = request["op"], request.get("key")
    if op == "create":
        session = SessionStore()
        session.update(request["data"])
        session.save()
        return {"key": session.session_key}
    if op == "load":
        return {"data": SessionStore(key).load()}
    if op == "set":  # a request that modifies the session
        session = SessionStore(key)
        session.update(request["data"])
        session.save()
    elif op == "logout":  # Django's logout(): flush() without a load first
        SessionStore(key).flush()
    elif op == "revoke":  # the operator's revoke, by digest
        redis.delete_by_digest(session_id(key))
    elif op == "stats":
        cache = redis.near_cache()
        return {"entries": len(cache), "flushes": cache.flushes}
    else:
        raise ValueError(f"unknown op {op!r}")
    return {"at": time.monotonic()}  # when Redis had answered


OVERRIDES = "NEARCACHE_SETTINGS"  # the environment variable with Instance's overrides


def serve():
    from django.conf import settings

    for name, value in json.loads(os.environ.get(OVERRIDES, "{}")).items():
        setattr(settings, name, value)  # read at use time by the engine
    for line in sys.stdin:
        try:
            answer = handle(json.loads(line))
        except Exception as exc:  # reported to the caller, which fails its test
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


class Instance:
    """Another instance of the engine: a child process with its own client and near cache, on
    the demo's settings for ``url``, or on ``settings_module`` with ``overrides`` (JSON) set
    over it (a test suite's own settings)."""

    def __init__(self, url=None, max_entries=10000, settings_module=None, overrides=None):
        if settings_module is None:
            env = {**os.environ, **environment(url, max_entries)}
        else:
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module}
        env[OVERRIDES] = json.dumps(overrides or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.nearcache", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def send(self, op, **args):
        """Send a request; read its answer with ``answer()``."""
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()

    def answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the instance exited")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def __call__(self, op, **args):
        self.send(op, **args)
        return self.answer()

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# --- The measurements ---------------------------------------------------------------------------


def revocation_delays(revoker, revokes, deadline_s=5.0):
    """Return the delays (ms) from each revoke's answer to this instance's first refused read."""
    from session_engines.backends.redis import SessionStore

    delays = []
    for _ in range(revokes):
        key = revoker("create", data=USER)["key"]
        assert SessionStore(key).load() == USER  # a miss: now held by this process
        assert SessionStore(key).load() == USER  # a hit
        revoker.send("revoke", key=key)
        give_up = time.monotonic() + deadline_s
        while SessionStore(key).load():
            if time.monotonic() > give_up:
                raise RuntimeError(f"a revoke was not seen within {deadline_s} s")
        refused = time.monotonic()
        delays.append((refused - revoker.answer()["at"]) * 1000)
    return delays


def memory_per_session(sessions):
    """Return the bytes the near cache holds per signed-in session."""
    from session_engines.backends import redis
    from session_engines.backends.redis import SessionStore

    keys = []
    for _ in range(sessions):
        session = SessionStore()
        session.update(USER)
        session.save()
        keys.append(session.session_key)
    cache = redis.near_cache()
    cache.close()  # empty, and the connection's set-up outside the count
    SessionStore(keys[0]).load()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for key in keys[1:]:
        SessionStore(key).load()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(cache) == sessions, "MAX_ENTRIES must hold every session measured"
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / (sessions - 1)


ROUNDS = 7  # timings interleaved round by round, so a busy machine's drift hits each alike


def interleaved(timed, reads, within=None):
    """Return {name: the median over ROUNDS of µs per call} of ``timed`` ({name: callable}),
    the callables taking turns round by round, each inside ``within[name]()`` when given."""
    rounds: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(ROUNDS):
        for name, call in timed.items():
            with (within or {}).get(name, contextlib.nullcontext)():
                call()  # warm: the first call of a round may connect or miss
                started = time.perf_counter()
                for _ in range(reads):
                    call()
                rounds[name].append((time.perf_counter() - started) / reads * 1e6)
    return {name: round(statistics.median(values), 2) for name, values in rounds.items()}


def read_cost(reads):
    """Return µs per load of one session: from the near cache, and with it off (one GET)."""
    from django.test import override_settings

    from session_engines.backends.redis import SessionStore, options

    session = SessionStore()
    session.update(USER)
    session.save()
    key = session.session_key

    def load():
        SessionStore(key).load()

    def uncached():
        return override_settings(SESSION_REDIS={**options(), "NEAR_CACHE": None})

    return interleaved({"near_cache": load, "get": load}, reads, within={"get": uncached})


SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


def request_cost(reads):
    """Return µs per signed-in ``GET /session`` through Django in this process (its test
    client: no HTTP server) for Django's signed cookies (the floor: no store at all), the
    native engine with its near cache, and with one ``GET``."""
    from django.test import Client, override_settings

    from session_engines.backends.redis import options

    variants = {
        "signed_cookies": {"SESSION_ENGINE": SIGNED_COOKIES},
        "near_cache": {},
        "get": {"SESSION_REDIS": {**options(), "NEAR_CACHE": None}},
    }
    clients = {}
    for name, overrides in variants.items():
        with override_settings(**overrides):
            client = clients[name] = Client()
            client.post("/login", {"userId": "alice", "userNm": "Alice"}, "application/json")
            assert client.get("/session").json()["userId"] == "alice"

    def within(name):
        return lambda: override_settings(**variants[name])

    timed = {name: lambda client=client: client.get("/session") for name, client in clients.items()}
    return interleaved(timed, reads, within={name: within(name) for name in variants})


def decode_cost(reads):
    """Return µs to read one signed-in session's stored form: Django's signed form (format 1),
    ours (format 2, HMAC + JSON), and the plain JSON the stock cache engine reads from
    django-redis's JSON serializer (no integrity check at all)."""
    from django.contrib.sessions.backends.base import SessionBase

    from session_engines.backends.redis import SessionStore

    store = SessionStore()
    format_1, format_2 = SessionBase.encode(store, USER), store.encode(USER)
    plain = json.dumps(USER).encode()
    return interleaved(
        {
            "format_1": lambda: store.decode(format_1),
            "format_2": lambda: store.decode(format_2),
            "plain_json": lambda: json.loads(plain),
        },
        reads,
    )


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(url, revokes, sessions, reads):
    setup_django(url, max_entries=max(sessions, 1000))
    with Instance(url, max_entries=max(sessions, 1000)) as revoker:
        delays = revocation_delays(revoker, revokes)
    return {
        "decode_us": decode_cost(reads),
        "load_us": read_cost(reads),
        "request_us": request_cost(max(reads // 4, 1)),
        "revokes": revokes,
        "revocation_delay_ms": {
            "p50": round(statistics.median(delays), 3),
            "p99": round(percentile(delays, 0.99), 3),
            "max": round(max(delays), 3),
        },
        "sessions": sessions,
        "bytes_per_cached_session": round(memory_per_session(sessions)),
        "load_average": round(os.getloadavg()[0], 1),  # a busy machine stretches the p99
    }


def markdown(result, server):
    delay, load, decode = result["revocation_delay_ms"], result["load_us"], result["decode_us"]
    request = result["request_us"]
    return "\n".join(
        [
            f"Near cache on {server} (loopback, `python -m harness.nearcache`, load average "
            f"{result['load_average']}):",
            "",
            "| measure | value |",
            "|---|---|",
            f"| revocation delay p50 / p99 / max ({result['revokes']} revokes) "
            f"| {delay['p50']} / {delay['p99']} / {delay['max']} ms |",
            f"| memory per cached session ({result['sessions']} sessions) "
            f"| {result['bytes_per_cached_session']} bytes |",
            "| `load()` from the near cache / one `GET` "
            f"| {load['near_cache']} / {load['get']} µs |",
            "| `GET /session` in-process: signed cookies / near cache / one `GET` "
            f"| {request['signed_cookies']} / {request['near_cache']} / {request['get']} µs |",
            "| reading the stored form: Django's signed (format 1) / ours (format 2) / plain "
            f"JSON | {decode['format_1']} / {decode['format_2']} / {decode['plain_json']} µs |",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["measure", "serve"], default="measure")
    parser.add_argument("--revokes", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=2000, help="per timing round")
    parser.add_argument("--quick", action="store_true", help="a few of each: CI's smoke run")
    parser.add_argument("--server", choices=["redis", "valkey"], default="redis")
    parser.add_argument("--out", type=Path, help="write nearcache.json and nearcache.md here")
    args = parser.parse_args(argv)
    if args.mode == "serve":  # the environment came from Instance
        import django

        django.setup()
        serve()
        return 0
    if args.quick:
        args.revokes, args.sessions, args.reads = 5, 20, 50
    from .redis import redis_node

    with redis_node(server=args.server) as node:
        result = measure(node.url, args.revokes, args.sessions, args.reads)
    result["server"] = args.server
    table = markdown(result, args.server)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "nearcache.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "nearcache.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
