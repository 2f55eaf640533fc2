"""HAProxy as the ALB stand-in: round-robin or cookie-sticky, health checks on /healthz.

The generated configuration mirrors the ALB's behaviour where it matters here:
- health checks every 200 ms, two failures mark a target down (a killed instance is noticed
  in well under a second; the ALB's fastest is 5 s x 2, so the demo is kinder than AWS);
- a connection refused by a dead target is retried on another one (``option redispatch``);
- sticky mode inserts an ``AWSALB`` cookie with a lifetime, like the ALB's duration-based
  stickiness; a client pinned to a dead target is re-stuck to a healthy one;
- the client's address is appended to X-Forwarded-For (``option forwardfor``), as the ALB
  appends it;
- a deploy deregisters a target first (``maint`` through the admin socket, in-flight requests
  finish), as the ALB's deregistration delay does.
"""

import contextlib
import csv
import io
import socket
import tempfile
import time
from pathlib import Path

from .servers import free_port, require, running

BACKEND = "app"
STICKY_COOKIE = "AWSALB"
STICKY_SECONDS = 24 * 60 * 60  # the ALB's default stickiness duration: one day

CONFIG = """\
global
    maxconn 2000
    stats socket {socket} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout queue 5s
    retries 3
    option redispatch 1
    # A fresh server connection per request: a request is never sent on an idle connection to
    # an instance that has just died (which HAProxy answers by closing the client's
    # connection), so only the requests in flight on a killed instance fail.
    option http-server-close
    # The client's address appended to X-Forwarded-For, as the ALB does (TRUSTED_PROXY_HOPS=1).
    option forwardfor
    default-server inter 200ms fastinter 100ms downinter 200ms rise 2 fall 2
{check_timeout}
frontend web
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz
{cookie}{servers}
"""


def config(*, port, socket_path, servers, sticky, check_timeout=None):
    """servers: [(name, port)]. Returns the haproxy.cfg text. ``check_timeout`` (e.g. "10s"):
    how long a health check may wait (default: ``inter``, 200 ms), for a benchmark's queues."""
    cookie = ""
    if sticky:
        cookie = f"    cookie {STICKY_COOKIE} insert indirect nocache maxlife {STICKY_SECONDS}s\n"
    lines = "".join(
        f"    server {name} 127.0.0.1:{server_port} check"
        + (f" cookie {name}" if sticky else "")
        + "\n"
        for name, server_port in servers
    )
    return CONFIG.format(
        port=port,
        socket=socket_path,
        backend=BACKEND,
        cookie=cookie,
        servers=lines,
        check_timeout=f"    timeout check {check_timeout}\n" if check_timeout else "",
    )


class LoadBalancer:
    def __init__(self, *, port, socket_path):
        self.port = port
        self.socket_path = socket_path

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self, line):
        """One line on the admin socket; returns the answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self):
        """{name: {"status": "UP"|"DOWN"|"MAINT"|..., "in_flight": int}} from ``show stat``."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").lstrip("# ")))
        return {
            row["svname"]: {"status": row["status"], "in_flight": int(row["scur"] or 0)}
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def set_state(self, name, state):
        """ready, drain or maint (maint: no new requests, the ALB's deregistration)."""
        answer = self.command(f"set server {BACKEND}/{name} state {state}").strip()
        if answer:
            raise RuntimeError(f"haproxy: {answer}")

    def wait_for(self, name, predicate, *, timeout=15.0, what="state"):
        deadline = time.monotonic() + timeout
        server = None
        while time.monotonic() < deadline:
            try:
                server = self.servers()[name]
            except (FileNotFoundError, ConnectionRefusedError):
                pass  # the port is open before the admin socket exists: not up yet
            else:
                if predicate(server):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"haproxy: {name} not {what} after {timeout}s: {server}")

    def wait_up(self, name, timeout=15.0):
        self.wait_for(name, lambda s: s["status"] == "UP", timeout=timeout, what="UP")

    def wait_drained(self, name, timeout=15.0):
        self.wait_for(name, lambda s: s["in_flight"] == 0, timeout=timeout, what="drained")


@contextlib.contextmanager
def haproxy(servers, *, sticky=False, port=None, check_timeout=None):
    """HAProxy in front of ``servers`` ([(name, port)]); yields a LoadBalancer once all are UP."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="haproxy-") as workdir:
        workdir = Path(workdir)
        socket_path = workdir / "admin.sock"
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(
            config(
                port=port,
                socket_path=socket_path,
                servers=servers,
                sticky=sticky,
                check_timeout=check_timeout,
            )
        )
        args = [require("haproxy"), "-f", str(cfg), "-db"]
        with running(args, port=port, log=workdir / "haproxy.log"):
            balancer = LoadBalancer(port=port, socket_path=socket_path)
            for name, _ in servers:
                balancer.wait_up(name)
            yield balancer
