"""Sessions in Redis (ElastiCache), one round trip per operation: ``SESSION_ENGINE =
"session_engines.backends.redis"``.

Layout. A session is the string ``<KEY_PREFIX>:<sha256(session key)>`` (the raw key, a live
credential, is never stored) holding Django's encoded session (JSON, signed), with Redis's own
TTL derived from the session's expiry. When the session holds a user id
(``session_engines.users.user_id_of``) the value starts with ``<sha256(user id)>|`` and the
session's digest is a member of the user's index, the sorted set
``<KEY_PREFIX>:user:<sha256(user id)>``, scored by expiry epoch and expiring with its
longest-lived member. The index is kept by two small Lua scripts inside the same round trip as
the write, reading the user a session *had* from its stored value, so a user change, a logout,
or a delete from anywhere leave no member behind.

Round trips: load = ``GET``; create = ``SET NX EX`` (no ``EXISTS`` first: a collision is a
failed ``NX``); update = ``SET XX EX`` (never resurrects a session deleted elsewhere); delete =
``DEL``; ``cycle_key()`` = the ``DEL`` of the old key, the new one being created by the save
that follows (``session_engines.backends.base``). A session with a user writes through ``EVALSHA``
instead (the same ``SET``/``DEL`` plus the index commands, server-side). With ``WAIT_REPLICAS``
set, ``WAIT n ms`` is pipelined behind each write: still one round trip, answered once n
replicas have the write.

Configuration: the ``SESSION_REDIS`` dict, read at use time and checked by
``session_engines.checks``. The connection comes, in this order, from ``URL`` (a ``redis://``
or ``rediss://`` URL, AUTH/ACL in it: the engine's own client, one per process, made on first
use and again after a fork, with ``CONNECTION_KWARGS`` over ``CONNECTION_DEFAULTS``), else from
the cache ``CACHE_ALIAS``: a django-redis cache (its pool, timeouts, Sentinel) or Django's own
``django.core.cache.backends.redis.RedisCache`` (its first server, the primary, for every
command). Failures are explicit: any Redis error becomes ``SessionStoreUnavailable`` (the
middleware answers 503), never an empty session.
"""

import hashlib
import os
import threading

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, RedisError
from redis.retry import Retry

from ..exceptions import SessionStoreUnavailable
from ..ids import digest, session_id
from ..users import user_id_of
from .base import ConditionalSessionBase

DEFAULTS = {
    "URL": None,  # redis:// or rediss://: the engine's own client; None: the cache's
    "CONNECTION_KWARGS": {},  # with URL: redis-py connection options over CONNECTION_DEFAULTS
    "CACHE_ALIAS": "sessions",  # without URL: a django-redis cache or Django's RedisCache
    "KEY_PREFIX": "session_engines.backends.redis",
    "WAIT_REPLICAS": 0,  # WAIT for this many replicas after each write; 0: off
    "WAIT_TIMEOUT_MS": 100,
}

# The engine's own client (URL set): an outage costs one timeout, then a 503. One retry, on a
# fresh connection, when the pooled one is dead (Redis restarted) or answers READONLY (a
# failover demoted its node): reconnecting follows the new primary. Timeouts are not retried.
CONNECTION_DEFAULTS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
    "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError, ReadOnlyError)),
}

UNKNOWN = object()  # which user a session key holds in the store, before we have read it


def options():
    """Return SESSION_REDIS over the defaults, read now (never at import)."""
    return DEFAULTS | getattr(settings, "SESSION_REDIS", {})


def connection():
    """Return the redis-py client for the session store: URL's own, else the cache's."""
    opts = options()
    if opts["URL"] is not None:
        return own_client(opts["URL"], CONNECTION_DEFAULTS | opts["CONNECTION_KWARGS"])
    return cache_client(opts["CACHE_ALIAS"])


_clients = {}  # (pid, url, options) -> client: one per process, made after fork
_clients_lock = threading.Lock()


def own_client(url, kwargs):
    key = (os.getpid(), url, repr(sorted(kwargs.items())))
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            for stale in [k for k in _clients if k[0] != key[0]]:
                del _clients[stale]  # inherited from the parent process: never shared
            if key not in _clients:
                _clients[key] = Redis.from_url(url, **kwargs)
            client = _clients[key]
    return client


def cache_client(alias):
    cache = caches[alias]
    if isinstance(cache, RedisCache):  # Django's own: server 0 takes the writes, the primary
        return cache._cache.get_client(write=True)
    from django_redis import get_redis_connection  # only for a django-redis cache

    return get_redis_connection(alias, write=True)


def session_key_name(session_digest, prefix=None):
    return f"{prefix or options()['KEY_PREFIX']}:{session_digest}"


def user_index_prefix(prefix=None):
    return f"{prefix or options()['KEY_PREFIX']}:user:"


def user_index_name(user_id, prefix=None):
    return user_index_prefix(prefix) + digest(user_id)


def pack(encoded, user_id):
    return f"{digest(user_id)}|{encoded}" if user_id is not None else encoded


def unpack(value):
    """(sha256 of the user id or None, Django's encoded session) from a stored value."""
    value = value.decode() if isinstance(value, bytes) else value
    user, bar, encoded = value.partition("|")  # Django's encoding never contains "|"
    return (user, encoded) if bar else (None, value)


class Script:
    """A Lua script run by EVALSHA, and by EVAL when the server lacks it (restart, failover)."""

    def __init__(self, source):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, keys, args, *, wait=False):
        try:
            return call("EVALSHA", self.sha, len(keys), *keys, *args, wait=wait)
        except NoScriptError:
            return call("EVAL", self.source, len(keys), *keys, *args, wait=wait)


# KEYS[1]: the session; KEYS[2] (when present): its user's index.
# ARGV: value, ttl seconds, "NX" (create) or "XX" (update), session digest, user index prefix.
WRITE = Script("""
local old = false
if ARGV[3] == 'XX' then
  old = redis.call('GET', KEYS[1])
  if not old then return 0 end
end
if not redis.call('SET', KEYS[1], ARGV[1], ARGV[3], 'EX', ARGV[2]) then return 0 end
if old then
  local user = string.match(old, '^(%x+)|')
  if user and ARGV[5] .. user ~= KEYS[2] then redis.call('ZREM', ARGV[5] .. user, ARGV[4]) end
end
if KEYS[2] then
  local now = tonumber(redis.call('TIME')[1])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('EXPIREAT', KEYS[2], redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2])
end
return 1
""")

# KEYS[1]: the session. ARGV: session digest, user index prefix.
DELETE = Script("""
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', KEYS[1])
local user = string.match(old, '^(%x+)|')
if user then redis.call('ZREM', ARGV[2] .. user, ARGV[1]) end
return 1
""")


def call(*command, wait=False):
    """Send one command in one round trip (WAIT pipelined behind a write when configured)."""
    opts = options()
    wait = wait and opts["WAIT_REPLICAS"] > 0
    client = connection()
    try:
        if not wait:
            return client.execute_command(*command)
        pipe = client.pipeline(transaction=False)
        pipe.execute_command(*command)
        pipe.execute_command("WAIT", opts["WAIT_REPLICAS"], opts["WAIT_TIMEOUT_MS"])
        replies = pipe.execute()
    except NoScriptError:
        raise
    except RedisError as exc:
        # Down, timed out, still READONLY after one reconnect, out of memory: retry later.
        raise SessionStoreUnavailable(f"Redis {command[0]} failed: {exc}") from exc
    if replies[1] < opts["WAIT_REPLICAS"]:
        # Written on the primary only: a failover now could lose it, so do not acknowledge it.
        raise SessionStoreUnavailable(
            f"{command[0]} reached {replies[1]} of {opts['WAIT_REPLICAS']} replicas "
            f"within {opts['WAIT_TIMEOUT_MS']} ms"
        )
    return replies[0]


def delete_by_digest(session_digest, prefix=None):
    """End a session and drop it from its user's index; True when it existed."""
    return bool(
        DELETE(
            [session_key_name(session_digest, prefix)],
            [session_digest, user_index_prefix(prefix)],
            wait=True,
        )
    )


class SessionStore(ConditionalSessionBase):
    operator = "session_engines.operators.redis.RedisOperator"  # sees and ends its sessions

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # The user id digest stored under self.session_key, as last read or written here:
        # None (no user) lets writes skip the index script.
        self._stored_user = UNKNOWN

    def load(self):
        if self.session_key is not None:
            value = call("GET", session_key_name(session_id(self.session_key)))
            if value is not None:
                self._stored_user, encoded = unpack(value)
                return self.decode(encoded)  # corrupt: logs SuspiciousSession, returns {}
        self._session_key = None
        return {}

    def exists(self, session_key):
        return bool(session_key) and bool(call("EXISTS", session_key_name(session_id(session_key))))

    def _write(self, data, must_create):
        ttl = self.get_expiry_age()
        if ttl <= 0:  # an expiry already past: the session ends now
            if not must_create:
                self.delete()
            return
        session_digest = session_id(self.session_key)
        key = session_key_name(session_digest)
        user_id = user_id_of(data)
        value = pack(self.encode(data), user_id)
        mode = "NX" if must_create else "XX"
        if user_id is None and (must_create or self._stored_user is None):
            written = call("SET", key, value, mode, "EX", ttl, wait=True)
        else:
            keys = [key] if user_id is None else [key, user_index_name(user_id)]
            written = WRITE(
                keys, [value, ttl, mode, session_digest, user_index_prefix()], wait=True
            )
        if not written:
            raise CreateError if must_create else UpdateError
        self._stored_user = None if user_id is None else digest(user_id)

    def delete(self, session_key=None):
        if session_key is None or session_key == self.session_key:
            session_key, stored_user = self.session_key, self._stored_user
        else:
            stored_user = UNKNOWN
        if session_key is None:
            return
        if stored_user is None:
            call("DEL", session_key_name(session_id(session_key)), wait=True)
        else:
            delete_by_digest(session_id(session_key))
        if session_key == self.session_key:
            self._stored_user = UNKNOWN

    @classmethod
    def clear_expired(cls):
        """Nothing to do: Redis expires sessions (and user indexes) by their own TTL."""
