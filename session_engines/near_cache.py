"""Reads with no round trip: a near cache of the native Redis engine's sessions in each process.

Opt-in: ``SESSION_REDIS["NEAR_CACHE"] = {"MAX_ENTRIES": 10000}``. Each process keeps the stored
values of the sessions it read, and Redis tells it when one changes: server-assisted client-side
caching (``CLIENT TRACKING ON`` on a RESP3 connection, Redis 6 or later, Valkey). The server
remembers which keys that connection read and, when any client writes, deletes or expires one
(a save, a logout, an operator's revoke, on any instance), pushes an ``invalidate`` message to it.

Round trips: reading a session this process holds costs none; the pending invalidations are
read from the socket, without waiting, before every read. A miss costs one: ``GET`` and ``PTTL``
pipelined on the tracking connection (the entry keeps the key's expiry, so it is never served
after Redis would have expired it). After ``HEALTH_CHECK_INTERVAL`` seconds without a word from
the server, the next read sends a ``PING`` first: its answer arrives behind every invalidation
sent before it, so a connection that silently stopped delivering them (a network partition) is
found within that interval.

Guarantees: a write, logout or revoke acknowledged by Redis is seen by a read on another process
as soon as its invalidation has crossed the network (the revocation delay: measured by
``python -m harness.nearcache``); a process's own writes are seen at once (the engine forgets
the key). Any doubt flushes the whole cache: a new connection (so a reconnect after a drop, a
failover or a restart), a connection error, a flush of the server (``invalidate`` with no keys).
Writes never trust the cache: the engine's compare-and-set on the version catches a stale read.

Bounds: at most ``MAX_ENTRIES`` sessions, least recently read evicted first; a missing key is
never cached. Not on a cluster (a tracking connection per node and slot moves to follow; not
built): the system check refuses ``NEAR_CACHE`` with ``CLUSTER``. redis-py's own client-side
cache (``cache_config``) is not used: it refuses any server but Redis 7.4 or later, so Valkey.
"""

import threading
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from redis._parsers import _RESP3Parser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULTS: dict[str, Any] = {
    "MAX_ENTRIES": 10000,  # sessions held per process, least recently read evicted first
    "HEALTH_CHECK_INTERVAL": 1.0,  # seconds without a word from Redis before a read PINGs
}

LOST = (RedisConnectionError, RedisTimeoutError, OSError)  # the connection, so invalidations


class Entry(NamedTuple):
    value: bytes
    expires: float  # time.monotonic() at which Redis expires the key


class NearCache:
    """The stored values of sessions this process read, kept exact by Redis's invalidations."""

    def __init__(self, pool: Any, max_entries: int, health_check_interval: float) -> None:
        # A connection of its own, like the client's (address, TLS, AUTH, timeouts), in RESP3,
        # parsed by redis-py's own parser (its push handling, with or without hiredis).
        kwargs = {**pool.connection_kwargs, "protocol": 3, "parser_class": _RESP3Parser}
        self._connection = pool.connection_class(**kwargs)
        self._connection.register_connect_callback(self._on_connect)
        self.max_entries = max_entries
        self.health_check_interval = health_check_interval
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()  # one reader of the connection, one writer of entries
        self._fetching: str | None = None  # the key a miss is fetching, until it is stored
        self._fetch_invalidated = False
        self._heard = 0.0  # time.monotonic() of the server's last answer
        self.flushes = 0  # times the whole cache was dropped (tests, harness)

    def __len__(self):
        return len(self._entries)

    def __contains__(self, key):
        return key in self._entries

    def get(self, key: str) -> bytes | None:
        """Return the value stored under ``key`` (see ``lookup``)."""
        return self.lookup(key)[0]

    def lookup(self, key: str) -> tuple[bytes | None, bool]:
        """Return the value stored under ``key`` and whether this process held it: from this
        process when held, else from Redis (one round trip). Raises redis-py's errors when Redis
        cannot answer twice running: a dead connection (Redis restarted) is retried once on a
        new one."""
        with self._lock:
            connected = self._connection._sock is not None
            try:
                return self._get(key)
            except LOST:
                self._lost()
                if not connected:  # Redis is unreachable, not a stale socket: no retry
                    raise
            try:
                return self._get(key)
            except LOST:
                self._lost()
                raise

    def _get(self, key):
        """Return ``key``'s value, held or fetched, once the pending invalidations are in."""
        self._catch_up()
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires > time.monotonic():
                self._entries.move_to_end(key)
                return entry.value, True
            del self._entries[key]
        return self._fetch(key), False

    def forget(self, key: str) -> None:
        """Drop ``key`` (this process just wrote or deleted it)."""
        with self._lock:
            self._entries.pop(key, None)
            if key == self._fetching:
                self._fetch_invalidated = True

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()
        self._fetch_invalidated = True
        self.flushes += 1

    def close(self) -> None:
        """Disconnect and drop every entry (the next read connects again)."""
        with self._lock:
            self._connection.disconnect()
            self.clear()

    # --- the tracking connection ------------------------------------------------------------

    def _on_connect(self, connection):
        # A new connection tracks nothing yet: whatever the old one would have been told about
        # is unknown, so everything goes.
        connection._parser.set_invalidation_push_handler(self._invalidated)
        connection.send_command("CLIENT", "TRACKING", "ON")
        connection.read_response()
        self.clear()

    def _invalidated(self, message):
        """Handle a push ``["invalidate", [keys]]`` (or ``None``: the server was flushed)."""
        keys = message[1]
        if keys is None:
            self.clear()
            return
        for key in keys:
            key = key.decode() if isinstance(key, bytes) else key
            self._entries.pop(key, None)
            if key == self._fetching:
                self._fetch_invalidated = True

    def _catch_up(self):
        """Handle the invalidations already received, without waiting; PING first when the
        server has been silent longer than the health check interval."""
        connection = self._connection
        if time.monotonic() - self._heard > self.health_check_interval:
            connection.send_command("PING")
            while connection.read_response(push_request=True) not in (b"PONG", "PONG"):
                pass  # an invalidation, handled by the push handler
            self._heard = time.monotonic()
        while connection.can_read(timeout=0):
            connection.read_response(push_request=True)  # EOF: ConnectionError
            self._heard = time.monotonic()

    def _fetch(self, key):
        """Read ``key`` and its expiry in one round trip, and keep it."""
        connection = self._connection
        self._fetching, self._fetch_invalidated = key, False
        started = time.monotonic()
        try:
            connection.send_packed_command(connection.pack_commands([("GET", key), ("PTTL", key)]))
            value = connection.read_response()  # invalidations before it: handled first
            pttl = connection.read_response()  # one between the two: _fetch_invalidated
        finally:
            self._fetching = None
        self._heard = time.monotonic()
        if value is not None and pttl > 0 and not self._fetch_invalidated:
            self._entries[key] = Entry(value, started + pttl / 1000)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def _lost(self):
        """The connection failed: invalidations may be lost, so nothing held can be trusted."""
        self._connection.disconnect()
        self.clear()
