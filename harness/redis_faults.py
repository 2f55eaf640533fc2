"""Redis refusing requests, on real servers: every error an engine must answer with a 503.

``Faults`` runs one redis-server (a primary), its replica, and a ``Link`` (a TCP relay on
loopback) in front of the primary; engines talk to the Link's URL. ``faults.inject(name)`` is a
context manager during which the store fails in one way, then recovers:

- ``oom``: ``maxmemory 1`` with ``noeviction``: writes refused (``OOM``), reads and ``DEL`` served.
- ``misconf``: a ``BGSAVE`` that fails (its directory removed) with ``stop-writes-on-bgsave-error
  yes``: writes refused (``MISCONF``).
- ``readonly``: the Link's connections now reach the replica: writes refused (``READONLY``).
- ``noreplicas``: ``min-replicas-to-write 1`` with no replica attached: writes refused.
- ``busy``: a script that loops (``busy-reply-threshold`` 1 ms): every command refused (``BUSY``)
  until ``SCRIPT KILL``.
- ``timeout``: the server SIGSTOPped: connections open, nothing answers (a client's timeout).
- ``dropped``: the Link closes every connection and every new one at once.
- ``clusterdown``, ``tryagain``, ``loading``: the Link answers each command with that error, as a
  cluster without a primary for a slot, a slot mid-migration, or a server loading its dataset do.
"""

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import redis

from .redis import redis_node, replicate, wait_until
from .servers import free_port

# Errors the Link answers every command with (what Redis itself sends).
CANNED = {
    "clusterdown": b"-CLUSTERDOWN The cluster is down\r\n",
    "tryagain": b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    "loading": b"-LOADING Redis is loading the dataset in memory\r\n",
}

# Which operations each fault refuses: "read" (GET, EXISTS, SCAN), "write" (SET, scripts) and
# "delete" (DEL). What a fault does not refuse must succeed as if nothing had happened.
REFUSES = {
    "oom": {"write"},  # DEL frees memory: Redis serves it
    "misconf": {"write", "delete"},
    "readonly": {"write", "delete"},
    "noreplicas": {"write", "delete"},
    "busy": {"read", "write", "delete"},
    "timeout": {"read", "write", "delete"},
    "dropped": {"read", "write", "delete"},
    "clusterdown": {"read", "write", "delete"},
    "tryagain": {"read", "write", "delete"},
    "loading": {"read", "write", "delete"},
}
FAULTS = list(REFUSES)


def commands(buffer):
    """Split complete RESP commands (arrays of bulk strings, as clients send) off ``buffer``:
    (the commands' first words, upper-cased; the bytes left over)."""
    words, position = [], 0
    while True:
        end = buffer.find(b"\r\n", position)
        if end < 0 or buffer[position : position + 1] != b"*":
            return words, buffer[position:]
        count, cursor, first = int(buffer[position + 1 : end]), end + 2, None
        for _ in range(count):
            line_end = buffer.find(b"\r\n", cursor)
            if line_end < 0:
                return words, buffer[position:]
            size = int(buffer[cursor + 1 : line_end])
            if len(buffer) < line_end + 2 + size + 2:
                return words, buffer[position:]
            if first is None:
                first = buffer[line_end + 2 : line_end + 2 + size].upper()
            cursor = line_end + 2 + size + 2
        words.append(first)
        position = cursor


class Link:
    """A TCP relay on loopback in front of a Redis server, which can misbehave on demand.

    ``upstream``: the port each connection is relayed to; changing it moves the connections
    already open as well, between two commands (the client never notices). ``mode``: "relay",
    "drop" (close every connection, accept and close new ones) or a canned error's name.
    """

    def __init__(self, upstream):
        self.port = free_port()
        self._upstream = upstream
        self.mode = "relay"
        self._lock = threading.Lock()
        self._pairs = {}  # id: [client socket, upstream socket]
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def upstream(self):
        return self._upstream

    @upstream.setter
    def upstream(self, port):
        with self._lock:
            self._upstream = port
            for pair in self._pairs.values():  # the old upstream's socket closed: its reader stops
                old, pair[1] = pair[1], socket.create_connection(("127.0.0.1", port))
                threading.Thread(target=self._downstream, args=(pair, pair[1]), daemon=True).start()
                shut(old)

    def drop(self):
        """Close every connection now; new ones are closed as they come (mode "drop")."""
        self.mode = "drop"
        with self._lock:
            for pair in self._pairs.values():
                shut(pair[0])

    def close(self):
        self._closed = True
        shut(self._listener)
        self.drop()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "drop":
                shut(client)
                continue
            with self._lock:
                pair = [client, socket.create_connection(("127.0.0.1", self._upstream))]
                self._pairs[id(pair)] = pair
            threading.Thread(target=self._upstream_loop, args=(pair,), daemon=True).start()
            threading.Thread(target=self._downstream, args=(pair, pair[1]), daemon=True).start()

    def _upstream_loop(self, pair):
        """Client to server: relayed, or answered here with a canned error."""
        pending = b""
        try:
            while chunk := pair[0].recv(65536):
                if self.mode in CANNED:
                    words, pending = commands(pending + chunk)
                    for word in words:  # the handshake (CLIENT SETINFO) still gets its OK
                        pair[0].sendall(b"+OK\r\n" if word == b"CLIENT" else CANNED[self.mode])
                    continue
                with self._lock:
                    upstream = pair[1]
                upstream.sendall(chunk)
        except OSError:
            pass
        finally:
            self._forget(pair)

    def _downstream(self, pair, upstream):
        """Server to client, until this upstream socket is replaced or closed."""
        try:
            while chunk := upstream.recv(65536):
                pair[0].sendall(chunk)
        except OSError:
            return
        if pair[1] is upstream:  # the server closed it: so does the client's side
            self._forget(pair)

    def _forget(self, pair):
        with self._lock:
            self._pairs.pop(id(pair), None)
        shut(pair[0])
        shut(pair[1])


def shut(sock):
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Faults:
    """A primary, its replica and a Link in front of the primary: ``url`` is the Link's."""

    def __init__(self, primary, replica, link):
        self.primary, self.replica, self.link = primary, replica, link
        self.url = link.url

    def client(self):
        return self.primary.client()

    @contextlib.contextmanager
    def inject(self, fault):
        """The store fails as ``fault`` says (FAULTS) inside the block; recovered after it."""
        injector = getattr(self, f"_{fault}", None)
        with injector() if injector else self._canned(fault):
            yield

    @contextlib.contextmanager
    def _config(self, **values):
        client = self.client()
        new = {name.replace("_", "-"): value for name, value in values.items()}
        old = {name: client.config_get(name)[name] for name in new}
        config_set(client, new)
        try:
            yield
        finally:
            config_set(self.client(), old)

    def _oom(self):
        return self._config(maxmemory="1", maxmemory_policy="noeviction")

    @contextlib.contextmanager
    def _misconf(self):
        client = self.client()
        doomed = Path(tempfile.mkdtemp(prefix="redis-misconf-"))
        old_dir = client.config_get("dir")["dir"]
        client.config_set("dir", str(doomed))
        shutil.rmtree(doomed)  # the BGSAVE child cannot create its file: it fails
        try:
            with self._config(save="3600 1", stop_writes_on_bgsave_error="yes"):
                wait_until(lambda: failed_save(client))
                yield
        finally:
            client.config_set("dir", old_dir)

    @contextlib.contextmanager
    def _readonly(self):
        offset = self.client().info("replication")["master_repl_offset"]
        wait_until(lambda: replicated(self.replica) >= offset)  # the replica has every write
        self.link.upstream = self.replica.port
        try:
            yield
        finally:
            self.link.upstream = self.primary.port

    @contextlib.contextmanager
    def _noreplicas(self):
        self.replica.client().replicaof("NO", "ONE")
        try:
            with self._config(min_replicas_to_write="1"):
                wait_until(lambda: self.client().info("replication")["connected_slaves"] == 0)
                yield
        finally:
            replicate(self.replica, self.primary)

    @contextlib.contextmanager
    def _busy(self):
        looping = threading.Thread(target=self._loop, daemon=True)
        with self._config(busy_reply_threshold="1"):
            looping.start()
            wait_until(lambda: busy(self.client()))
            try:
                yield
            finally:
                wait_until(lambda: kill_script(self.client()))
                looping.join(30)

    def _loop(self):
        with contextlib.suppress(redis.ResponseError):  # "Script killed by user"
            redis.Redis(port=self.primary.port).eval("while true do end", 0)

    @contextlib.contextmanager
    def _timeout(self):
        with self.primary.frozen():
            yield

    @contextlib.contextmanager
    def _dropped(self):
        self.link.drop()
        try:
            yield
        finally:
            self.link.mode = "relay"

    @contextlib.contextmanager
    def _canned(self, fault):
        if fault not in CANNED:
            raise ValueError(f"no such fault: {fault}")
        self.link.mode = fault
        try:
            yield
        finally:
            self.link.mode = "relay"


def replicated(replica):
    """The replication offset ``replica`` has reached."""
    return replica.client().info("replication")["master_repl_offset"]


def config_set(client, values):
    client.execute_command("CONFIG", "SET", *[word for pair in values.items() for word in pair])


def failed_save(client):
    """Start a BGSAVE unless one runs; True once the last one failed."""
    client.bgsave()  # "already in progress" (a replica's sync, a retry): asked again
    while (persistence := client.info("persistence"))["rdb_bgsave_in_progress"]:
        time.sleep(0.01)
    return persistence["rdb_last_bgsave_status"] == "err"


def busy(client):
    try:
        client.ping()
    except redis.exceptions.BusyLoadingError:
        return False
    except redis.ResponseError as exc:
        return str(exc).startswith("BUSY")
    return False


def kill_script(client):
    """SCRIPT KILL; True once no script runs."""
    try:
        client.script_kill()
    except redis.ResponseError as exc:
        return "NOTBUSY" in str(exc)
    return False


@contextlib.contextmanager
def faults():
    """A primary and its replica (real redis-servers) behind a Link: yields ``Faults``."""
    with redis_node("--enable-protected-configs", "yes") as primary, redis_node() as replica:
        replicate(replica, primary)
        link = Link(primary.port)
        try:
            yield Faults(primary, replica, link)
        finally:
            link.close()
