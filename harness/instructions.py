"""The Redis engines' work per operation in CPU instructions: ``python -m harness.instructions``.

    python -m harness.instructions [--calls 1000] [--requests 100]
                                   [--operations raw_get,redis_load,redis_read,...]
                                   [--out out/bench]

A time ratio (``harness.bench --overhead-only``) moves with whatever else the machine runs; an
instruction count does not. Each operation runs in a child process under valgrind's callgrind
twice, after 50 warm-up calls: once with ``--calls`` more calls, once with none; the difference
over ``--calls`` is its instructions per call. Counted: this process's user-space instructions
only (redis-py's included), not the kernel's socket work nor Redis's own, so a ratio here is
larger than the same ratio in time. The operations: redis-py's own ``GET`` and ``SET`` (the
raw client), then each engine's ``load()`` and ``save()`` of a signed-in session on the same
server: Django's own cache engine (``djangocache``, on django-redis with its JSON serializer),
``redis`` (session_engines.backends.redis) and ``cache`` (session_engines.backends.cache, on the
same django-redis cache). Then whole requests, ``--requests`` of each type, through the demo's
Django stack (every middleware, the view; Django's test client in place of gunicorn, the same
for every engine) on Django's cache engine and on ``redis``: the benchmark's five types, a new
visitor's sign-in, a read, a modify, a re-login and a logout, each on a session of its own made
before the count starts, as in ``harness.bench``. Writes instructions.md and instructions.json.
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from .bench import engine_ops
from .redis import redis_node
from .servers import require

SETTINGS = {"redis": "sessiondemo.settings.redis", "cache": "sessiondemo.settings.cache"}
SETTINGS["djangocache"] = SETTINGS["cache"]  # Django's own cache engine, on the same cache
MODULES = {"djangocache": "django.contrib.sessions.backends.cache"}
OPERATIONS = ["raw_get", "raw_set", "djangocache_load", "djangocache_save"]
OPERATIONS += ["redis_load", "redis_save", "cache_load", "cache_save"]
REQUESTS = ["signin", "read", "modify", "relogin", "logout"]  # harness/wrk/<type>.lua's
REQUEST_ENGINES = ["djangocache", "redis"]
OPERATIONS += [f"{engine}_{what}" for what in REQUESTS for engine in REQUEST_ENGINES]
RAW = {"load": "raw_get", "save": "raw_set"}
WARM_UP = 50
REQUEST_WARM_UP = 20
SIGN_IN = json.dumps({"userId": "bench", "userNm": "Bench User"})


def requests(what, count):
    """Return request(n), sending the n-th request of type ``what`` through Django's stack;
    the sessions it needs (REQUEST_WARM_UP + ``count``, signed in) are made now."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def sign_in():
        response = client.post("/login", SIGN_IN, content_type="application/json")
        assert response.status_code == 200, response.content
        return response

    cookies = []
    for _ in range(0 if what == "signin" else REQUEST_WARM_UP + count):
        client.cookies.clear()
        cookies.append(sign_in().cookies["sessionid"].value)
    send = {
        "signin": sign_in,
        "read": lambda: client.get("/session"),
        "modify": lambda: client.post(
            "/prefs", json.dumps({"name": "theme", "value": "dark"}), "application/json"
        ),
        "relogin": sign_in,
        "logout": lambda: client.post("/logout"),
    }[what]

    def request(n):
        client.cookies.clear()
        if cookies:
            client.cookies["sessionid"] = cookies[n]
        response = send()
        assert response.status_code == 200, response.content

    return request


def child(operation, calls, runs):
    """Run ``operation`` WARM_UP + ``runs`` times in this process (under callgrind), after
    making what ``calls`` of them need (the same whatever ``runs``)."""
    engine, _, what = operation.partition("_")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS.get(engine, SETTINGS["redis"])
    if what in REQUESTS and engine == "djangocache":  # Django's engine as SESSION_ENGINE
        os.environ |= {"DJANGO_SETTINGS_MODULE": "sessiondemo.settings.stock"}
        os.environ["STOCK_SESSION_ENGINE"] = "cache"
    import django

    django.setup()
    if what in REQUESTS:
        request = requests(what, calls)
        for n in range(REQUEST_WARM_UP + runs):
            request(n)
        return

    import redis

    raw = redis.Redis.from_url(os.environ["REDIS_URL"])
    value = b'{"userInfo":{"userId":"bench","userNm":"Bench User"}}'
    raw.set("raw:bench", value)
    if engine == "raw":
        run = {"get": lambda: raw.get("raw:bench"), "set": lambda: raw.set("raw:bench", value)}
        call = run[what]
    else:
        module = MODULES.get(engine, f"session_engines.backends.{engine}")
        data = {"_auth_user_id": "bench", "userInfo": {"userId": "bench"}}
        call = dict(zip(("load", "save"), engine_ops(module, data), strict=True))[what]
    for _ in range(WARM_UP + runs):
        call()


def instructions(operation, calls, runs, env):
    """Return the instructions callgrind counts for ``operation`` run ``runs`` times, set up
    for ``calls``."""
    command = [
        require("valgrind"),
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "harness.instructions",
        "--child",
        operation,
        str(calls),
        str(runs),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{operation} under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(operations, calls, request_calls=100):
    """Return {operation: instructions per call}, on a throwaway Redis: ``calls`` of each
    operation, ``request_calls`` of each request."""
    with redis_node() as node:
        env = os.environ | {
            "REDIS_URL": node.url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONHASHSEED": "0",
            "DJANGO_HTTPS": "0",  # plain HTTP, as behind the benchmark's HAProxy
        }
        per_call = {}
        for operation in operations:
            print(f"callgrind: {operation}", file=sys.stderr)
            n = request_calls if operation.partition("_")[2] in REQUESTS else calls
            many, none = (instructions(operation, n, runs, env) for runs in (n, 0))
            per_call[operation] = round((many - none) / n)
        return per_call


def markdown(per_call):
    """Return the operations' table, then the requests' (redis beside Django's cache engine)."""
    out = [
        "| operation | instructions per call | raw client's | ratio |\n",
        "| --- | ---: | ---: | ---: |\n",
    ]
    for operation, count in per_call.items():
        engine, _, what = operation.partition("_")
        if what in REQUESTS:
            continue
        raw = per_call.get(RAW.get(what, ""))
        ratio = "" if engine == "raw" or raw is None else f"{count / raw:.2f}x"
        raw_text = "" if engine == "raw" or raw is None else f"{raw:,}"
        out.append(f"| {engine} {what} | {count:,} | {raw_text} | {ratio} |\n")
    rows = [(w, [per_call.get(f"{e}_{w}") for e in REQUEST_ENGINES]) for w in REQUESTS]
    rows = [(what, counts) for what, counts in rows if any(counts)]
    if rows:
        out += [
            "\n| request | Django's cache engine | redis | redis over Django's |\n",
            "| --- | ---: | ---: | ---: |\n",
        ]
    for what, (stock, ours) in rows:
        ratio = f"{ours / stock:.2f}x" if stock and ours else ""
        cells = [f"{count:,}" if count else "" for count in (stock, ours)]
        out.append(f"| {what} | {cells[0]} | {cells[1]} | {ratio} |\n")
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.instructions", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100, help="of each request type")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]), int(args.child[2]))
    operations = args.operations.split(",")
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    per_call = measure(operations, args.calls, args.requests)
    text = markdown(per_call)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "instructions.md").write_text(text)
    (args.out / "instructions.json").write_text(json.dumps(per_call, indent=2) + "\n")
    print(text, end="")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
