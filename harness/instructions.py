"""The Redis engines' work per operation in CPU instructions: ``python -m harness.instructions``.

    python -m harness.instructions [--calls 1000] [--operations raw_get,redis_load,...]
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
same django-redis cache). Writes instructions.md and instructions.json.
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
RAW = {"load": "raw_get", "save": "raw_set"}
WARM_UP = 50


def child(operation, calls):
    """Run ``operation`` WARM_UP + ``calls`` times in this process (under callgrind)."""
    engine, _, what = operation.partition("_")
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS.get(engine, SETTINGS["redis"])
    import django

    django.setup()

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
    for _ in range(WARM_UP + calls):
        call()


def instructions(operation, calls, env):
    """Return the instructions callgrind counts for ``operation`` run ``calls`` times."""
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
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{operation} under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(operations, calls):
    """Return {operation: instructions per call}, on a throwaway Redis."""
    with redis_node() as node:
        env = os.environ | {
            "REDIS_URL": node.url,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONHASHSEED": "0",
        }
        per_call = {}
        for operation in operations:
            print(f"callgrind: {operation}", file=sys.stderr)
            many, none = (instructions(operation, n, env) for n in (calls, 0))
            per_call[operation] = round((many - none) / calls)
        return per_call


def markdown(per_call):
    out = [
        "| operation | instructions per call | raw client's | ratio |\n",
        "| --- | ---: | ---: | ---: |\n",
    ]
    for operation, count in per_call.items():
        engine, _, what = operation.partition("_")
        raw = per_call.get(RAW.get(what, ""))
        ratio = "" if engine == "raw" or raw is None else f"{count / raw:.2f}x"
        raw_text = "" if engine == "raw" or raw is None else f"{raw:,}"
        out.append(f"| {engine} {what} | {count:,} | {raw_text} | {ratio} |\n")
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.instructions", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))
    operations = args.operations.split(",")
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    per_call = measure(operations, args.calls)
    text = markdown(per_call)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "instructions.md").write_text(text)
    (args.out / "instructions.json").write_text(json.dumps(per_call, indent=2) + "\n")
    print(text, end="")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
