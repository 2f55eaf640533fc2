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

from .servers import free_port, require, running, server

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
def moto_server():
    """``python -m moto.server`` (the moto in this venv) over HTTP, its conditional writes
    atomic as DynamoDB's are (``harness.moto_atomic``). Yields its endpoint URL."""
    with moto_server_process() as started:
        yield endpoint(started)


@contextlib.contextmanager
def moto_server_process():
    """``moto_server``'s Server (``harness.servers``): it can be killed and restarted on its
    port, and like any restart of ``moto server`` (in memory) that loses every table."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        args = [sys.executable, "-m", "harness.moto_atomic", "-H", "127.0.0.1", "-p", str(port)]
        with server(args, port=port, log=Path(workdir) / "moto.log", timeout=30, cwd=ROOT) as s:
            yield s


def endpoint(moto):
    """Return the endpoint URL of a ``moto_server_process``."""
    return f"http://127.0.0.1:{moto.port}"


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


def create_table_at(url, name):
    """Create the session table (``session_engines.dynamodb_table``'s schema) at the endpoint
    ``url`` with the fake credentials, in this process: no Django start-up in the way."""
    import boto3

    from session_engines import dynamodb_table

    credentials = {key.lower(): value for key, value in FAKE_CREDENTIALS.items()}
    region = credentials.pop("aws_default_region")
    client = boto3.client("dynamodb", endpoint_url=url, region_name=region, **credentials)
    dynamodb_table.create_table(client, name)


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
