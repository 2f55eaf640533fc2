"""DynamoDB servers for the tests: ``moto server`` and dynalite, on free loopback ports.

Each yields its endpoint URL and stops the server on exit. dynalite comes from npm
(package.json at the repository root; ``make test`` runs ``npm ci`` when node_modules is missing).
"""

import contextlib
import http.client
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

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
def moto_server(log=None):
    """``python -m moto.server`` (the moto in this venv) over HTTP, its conditional writes
    atomic as DynamoDB's are (``harness.moto_atomic``). ``log`` receives its output, one line
    per API call (``"POST / HTTP/1.1" 200``): the benchmark counts them. Yields its endpoint URL."""
    with moto_server_process(log) as started:
        yield endpoint(started)


@contextlib.contextmanager
def moto_server_process(log=None):
    """``moto_server``'s Server (``harness.servers``): it can be killed and restarted on its
    port, and like any restart of ``moto server`` (in memory) that loses every table."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="moto-") as workdir:
        args = [sys.executable, "-m", "harness.moto_atomic", "-H", "127.0.0.1", "-p", str(port)]
        log = log or Path(workdir) / "moto.log"
        with server(args, port=port, log=log, timeout=30, cwd=ROOT) as started:
            yield started


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


class Rewriting(ThreadingHTTPServer):
    """An HTTP proxy on loopback in front of a DynamoDB endpoint whose answers it can rewrite.

    ``rewrite``: None (relay as is), or ``f(operation, status, headers, body)`` returning the
    (status, headers, body) to answer instead, for each request (``operation``: "GetItem", ...).
    """

    daemon_threads = True

    def __init__(self, upstream):
        super().__init__(("127.0.0.1", free_port()), RewritingHandler)
        self.upstream = urlsplit(upstream)
        self.rewrite = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class RewritingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        upstream = http.client.HTTPConnection(self.server.upstream.netloc, timeout=30)
        try:
            upstream.request("POST", self.path, body, dict(self.headers))
            answer = upstream.getresponse()
            status, headers, content = answer.status, dict(answer.getheaders()), answer.read()
        finally:
            upstream.close()
        if self.server.rewrite is not None:
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            status, headers, content = self.server.rewrite(operation, status, headers, content)
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def rewriting(upstream):
    """A ``Rewriting`` proxy in front of the endpoint ``upstream``, served until the block ends."""
    with Rewriting(upstream) as proxy:
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            proxy.shutdown()
            thread.join(10)


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
