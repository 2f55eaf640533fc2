"""DynamoDB servers for the tests: ``moto server`` and dynalite, on free loopback ports.

Each yields its endpoint URL and stops the server on exit. dynalite comes from npm
(package.json at the repository root; ``make test`` runs ``npm ci`` when node_modules is missing).
"""

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .servers import free_port, require, running

ROOT = Path(__file__).resolve().parent.parent
# For moto and dynalite: fake keys, so nothing can ever reach real AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
DYNALITE = ROOT / "node_modules" / "dynalite"

# dynalite's CLI listens on every interface; this listens on loopback only, and makes tables
# ACTIVE at once (it keeps them CREATING for 500 ms by default).
DYNALITE_SCRIPT = """
const [port] = process.argv.slice(-1);
require(process.env.DYNALITE)({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0})
  .listen(Number(port), "127.0.0.1");
"""


@contextlib.contextmanager
def moto_server(log=None):
    """``python -m moto.server`` (the moto in this venv) over HTTP, its conditional writes
    atomic as DynamoDB's are (``harness.moto_atomic``). ``log`` receives its output, one line
    per API call (``"POST / HTTP/1.1" 200``): the benchmark counts them."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        args = [sys.executable, "-m", "harness.moto_atomic", "-H", "127.0.0.1", "-p", str(port)]
        log = log or Path(workdir) / "moto.log"
        with running(args, port=port, log=log, timeout=30, cwd=ROOT):
            yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def dynalite():
    """dynalite (npm), an independent DynamoDB implementation that validates strictly."""
    if not (DYNALITE / "package.json").exists():
        raise RuntimeError(f"dynalite is not installed in {DYNALITE.parent}; run: npm ci")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dynalite-") as workdir:
        args = [require("node"), "-e", DYNALITE_SCRIPT, str(port)]
        env = {**os.environ, "DYNALITE": str(DYNALITE)}
        with running(args, port=port, log=Path(workdir) / "dynalite.log", timeout=30, env=env):
            yield f"http://127.0.0.1:{port}"


def create_session_table(env):
    """``manage.py createsessiontable`` with the app instances' environment (table, endpoint)."""
    command = [sys.executable, "manage.py", "createsessiontable"]
    result = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"createsessiontable failed:\n{result.stdout}{result.stderr}")


TRANSACTION_ACTIONS = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem"}


def iam_actions(operation, params):
    """Return the IAM actions an API call needs (a transaction needs each of its items' own)."""
    if operation != "TransactWriteItems":
        return [operation]
    return sorted({TRANSACTION_ACTIONS[kind] for item in params["TransactItems"] for kind in item})


def tables_of(params):
    """Return the tables an API call's parameters name."""
    if "TableName" in params:
        return [params["TableName"]]
    if "TransactItems" in params:
        return sorted(
            {part["TableName"] for item in params["TransactItems"] for part in item.values()}
        )
    return list(params["RequestItems"])
