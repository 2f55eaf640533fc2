"""Sessions in Redis (ElastiCache), one round trip per operation: ``SESSION_ENGINE =
"session_engines.backends.redis"``.

Layout. A session is the string ``<KEY_PREFIX>:<sha256(session key)>`` (the raw key, a live
credential, is never stored) holding ``<version>|<sha256(user id) or nothing>|<Django's encoded
session (JSON, signed)>``, with Redis's own TTL derived from the session's expiry. When the
session holds a user id (``session_engines.users.user_id_of``) the session's digest is a member
of the user's index, the sorted set ``<KEY_PREFIX>:user:<sha256(user id)>``, scored by expiry
epoch and expiring with its longest-lived member. Small Lua scripts keep the index inside the same
round trip as the write, reading the user a session *had* from its stored value, so a user
change, a logout, or a delete from anywhere leave no member behind.

Round trips: load = ``GET``; create = ``SET NX EX`` at version 1 (no ``EXISTS`` first: a
collision is a failed ``NX``), or the ``CREATE`` script with a user index; update = the
``UPDATE`` script, a compare-and-set on the version (never resurrects a session deleted
elsewhere; on a conflict it hands back the stored value, so a retry costs one more round trip);
delete = ``DEL`` (the ``DELETE`` script when the session has a user); ``cycle_key()`` costs
nothing until the save, whose ``CREATE`` writes the new key and deletes the old one atomically.
With ``WAIT_REPLICAS`` set, ``WAIT n ms`` is pipelined behind each write: still one round trip,
answered once n replicas have the write.

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
import logging
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, RedisError
from redis.retry import Retry

from ..clients import Clients
from ..exceptions import SessionStoreUnavailable
from ..ids import digest, session_id
from ..users import user_id_of
from .base import ConditionalSessionBase, Stored, VersionConflict

DEFAULTS: dict[str, Any] = {
    "URL": None,  # redis:// or rediss://: the engine's own client; None: the cache's
    "CONNECTION_KWARGS": {},  # with URL: redis-py connection options over CONNECTION_DEFAULTS
    "CACHE_ALIAS": "sessions",  # without URL: a django-redis cache or Django's RedisCache
    "KEY_PREFIX": "session_engines.redis",
    "WAIT_REPLICAS": 0,  # WAIT for this many replicas after each write; 0: off
    "WAIT_TIMEOUT_MS": 100,
}

suspicious = logging.getLogger("django.security.SuspiciousSession")

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


_clients = Clients()  # one per process and configuration, made after fork


def own_client(url, kwargs):
    return _clients.get_or_make(
        (url, repr(sorted(kwargs.items()))), lambda: Redis.from_url(url, **kwargs)
    )


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


class Value(NamedTuple):
    """A stored session: ``<version>|<sha256 of the user id, or nothing>|<encoded session>``."""

    version: int
    user: str | None  # the sha256 of the user id
    encoded: str  # Django's encoding, which never contains "|"


def pack(encoded, user_id):
    """Return the stored value, less its version (the scripts put that in front)."""
    return f"{'' if user_id is None else digest(user_id)}|{encoded}"


def unpack(value):
    """Return the ``Value`` of a stored session (ValueError when it has no such layout)."""
    value = value.decode() if isinstance(value, bytes) else value
    version, user, encoded = value.split("|", 2)
    return Value(int(version), user or None, encoded)


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


# Lua shared by the scripts: put a session in its user's index (scored by expiry; expired members
# pruned; the index expires with its longest-lived member), and take one out of its old user's.
INDEX = """
local function index_add(index, member, ttl)
  local now = tonumber(redis.call('TIME')[1])
  redis.call('ZADD', index, now + tonumber(ttl), member)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('EXPIREAT', index, redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2])
end
local function index_remove(old, prefix, member, except)
  local user = string.match(old, '^%d+|(%x+)|')
  if user and prefix .. user ~= except then redis.call('ZREM', prefix .. user, member) end
end
"""

# Create a session at version 1, only if its key is new; then delete the session it replaces
# (cycle_key): written before deleted, in one atomic step.
# KEYS: the session, its user's index (when ARGV[4] == '1'), the replaced session (when any).
# ARGV: value less its version, ttl seconds, session digest, '1' with an index, user index
# prefix, the replaced session's digest or ''.
CREATE = Script(
    INDEX
    + """
if not redis.call('SET', KEYS[1], '1|' .. ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
local n = 1
if ARGV[4] == '1' then
  n = 2
  index_add(KEYS[2], ARGV[3], ARGV[2])
end
if ARGV[6] ~= '' then
  local old = redis.call('GET', KEYS[n + 1])
  if old then
    redis.call('DEL', KEYS[n + 1])
    index_remove(old, ARGV[5], ARGV[6], nil)
  end
end
return 1
"""
)

# Update a session only if it still exists at the expected version: the new version; 0 when the
# session is gone; {the stored value} when another request saved it meanwhile (a conflict).
# KEYS: the session, its user's index (when present). ARGV: value less its version, ttl seconds,
# expected version, session digest, user index prefix.
UPDATE = Script(
    INDEX
    + """
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local version = string.match(old, '^(%d+)|')
if version ~= ARGV[3] then return {old} end
local new = tonumber(version) + 1
redis.call('SET', KEYS[1], new .. '|' .. ARGV[1], 'XX', 'EX', ARGV[2])
index_remove(old, ARGV[5], ARGV[4], KEYS[2])
if KEYS[2] then index_add(KEYS[2], ARGV[4], ARGV[2]) end
return new
"""
)

# Delete a session and take it out of its user's index. KEYS[1]: the session.
# ARGV: session digest, user index prefix.
DELETE = Script(
    INDEX
    + """
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', KEYS[1])
index_remove(old, ARGV[2], ARGV[1], nil)
return 1
"""
)


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

    def _read(self, session_key):
        value = call("GET", session_key_name(session_id(session_key)))
        if value is None:
            return None
        try:
            stored = unpack(value)
        except ValueError:
            suspicious.warning("Session data corrupted: no version in the stored value")
            return None
        if session_key == self.session_key:
            self._stored_user = stored.user
        return Stored(self.decode(stored.encoded), stored.version)  # corrupt: logged, {}

    def _create_record(self, data, replacing):
        ttl = self.get_expiry_age()
        if ttl <= 0:  # an expiry already past: nothing to keep
            return 0
        session_digest = session_id(self.session_key)
        key = session_key_name(session_digest)
        user_id = user_id_of(data)
        value = pack(self.encode(data), user_id)
        if user_id is None and replacing is None:
            written = call("SET", key, f"1|{value}", "NX", "EX", ttl, wait=True)
        else:
            index = [] if user_id is None else [user_index_name(user_id)]
            old = [] if replacing is None else [session_key_name(session_id(replacing))]
            args = [value, ttl, session_digest, "1" if index else "0", user_index_prefix()]
            args.append("" if replacing is None else session_id(replacing))
            written = CREATE([key, *index, *old], args, wait=True)
        if not written:
            raise CreateError
        self._stored_user = None if user_id is None else digest(user_id)
        return 1

    def _update_record(self, data, version):
        ttl = self.get_expiry_age()
        if ttl <= 0:  # an expiry already past: the session ends now
            self.delete()
            return version
        session_digest = session_id(self.session_key)
        user_id = user_id_of(data)
        index = [] if user_id is None else [user_index_name(user_id)]
        value = pack(self.encode(data), user_id)
        reply = UPDATE(
            [session_key_name(session_digest), *index],
            [value, ttl, version, session_digest, user_index_prefix()],
            wait=True,
        )
        if isinstance(reply, list):  # saved by another request meanwhile: here it is
            current = unpack(reply[0])
            raise VersionConflict(Stored(self.decode(current.encoded), current.version))
        if not reply:
            raise UpdateError
        self._stored_user = None if user_id is None else digest(user_id)
        return int(reply)

    def _delete_record(self, session_key):
        stored_user = self._stored_user if session_key == self.session_key else UNKNOWN
        if stored_user is None:
            call("DEL", session_key_name(session_id(session_key)), wait=True)
        else:
            delete_by_digest(session_id(session_key))
        if session_key == self.session_key:
            self._stored_user = UNKNOWN

    @classmethod
    def clear_expired(cls):
        """Nothing to do: Redis expires sessions (and user indexes) by their own TTL."""
