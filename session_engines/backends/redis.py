"""Sessions in Redis (ElastiCache), one round trip per operation: ``SESSION_ENGINE =
"session_engines.backends.redis"``.

Layout. A session is the string ``<KEY_PREFIX>:<sha256(session key)>`` (the raw key, a live
credential, is never stored) holding ``<version>|<sha256(user id) or nothing>|<encoded session>``
with Redis's own TTL derived from the session's expiry; the encoded session is stored format 2,
``2|<hex HMAC-SHA256 of the JSON>|<the session's JSON>`` (format 1, Django's signed base64
``signing.dumps``, is still read). When the session holds a user id
(``session_engines.users.user_id_of``) the session's digest is a member of the user's index,
the sorted set ``<KEY_PREFIX>:user:<sha256(user id)>``, scored by expiry epoch and expiring with
its longest-lived member. Small Lua scripts keep the index inside the same
round trip as the write, reading the user a session *had* from its stored value, so a user
change, a logout, or a delete from anywhere leave no member behind. With
``SESSION_POLICY["MAX_SESSIONS_PER_USER"]``, the ``CREATE`` script also ends the user's sessions
beyond the limit (soonest to expire first): one script, so simultaneous sign-ins never leave
more than the limit.

Round trips: load = ``GET``; create = ``SET NX EX`` at version 1 (no ``EXISTS`` first: a
collision is a failed ``NX``), or the ``CREATE`` script with a user index; update = the
``UPDATE`` script, a compare-and-set on the version (never resurrects a session deleted
elsewhere; on a conflict it hands back the stored value, so a retry costs one more round trip);
delete = ``DEL`` (the ``DELETE`` script when the session has a user); ``cycle_key()`` costs
nothing until the save, whose ``CREATE`` writes the new key and deletes the old one atomically.
With ``WAIT_REPLICAS`` set, ``WAIT n ms`` is pipelined behind each write: still one round trip,
answered once n replicas have the write.

Cluster mode (``CLUSTER``: ElastiCache Serverless, cluster-mode-enabled replication groups, a
Redis Cluster; Valkey or Redis). The keys are the same, and each hashes to its own slot, so
sessions spread over every shard. A script may touch only keys of one slot, and a session's slot
cannot be its user's: a load finds the session from the cookie alone, which does not name the
user. So on a cluster each script touches only the key it declares, and the user index is
written by its own command *in the same pipeline* (redis-py writes to every node before it
reads a reply: one round trip's wait), not inside the session's script. Guarantees:

- The session write keeps every single-node guarantee: created only if new (``SET NX``),
  updated only at the expected version (``UPDATE_SESSION``, a compare-and-set in one slot),
  never resurrected.
- An acknowledged write (no 503) has its index entry: the session's digest is in its user's
  index, scored by its expiry. A write that fails half-way answers 503.
- The index may hold members that are not, or no longer, that user's (a failed ``NX``, a
  conflict, a user change, a delete whose user was not known): readers check each member's
  session and prune the ones that are gone or belong to someone else (the operator's
  ``for_user``). It never lacks a live session of the user it indexes, except for a write that
  answered 503 half-way, until that session's next write.

Round trips on a cluster: load 1 (``GET``), create 1 (``SET NX EX`` + ``INDEX_ADD``), modify 2
(``GET``; ``UPDATE_SESSION`` + ``INDEX_ADD``), delete after a load 1 (``DEL`` + ``ZREM``), as on
one node. More where one script cannot span two slots: a rotation (``cycle_key()``, Django's
login) costs 2, the new key written first, then the old one deleted (``DEL`` + ``ZREM``): a
failure between them leaves both keys, never neither; a write that changes a session's user
costs 1 more (``ZREM`` from the old user's index, sent only once the compare-and-set has
succeeded). A delete whose user is not known (a logout without a load) is a lone ``DEL``, its
index member left to be pruned when read; the operator's delete by digest reads the user as it
deletes (``GETDEL``), then ``ZREM``: 2. With ``WAIT_REPLICAS``, a ``WAIT`` goes to every node
the pipeline wrote to, on the connection that wrote (a command redirected by ``MOVED``
mid-failover is resent alone by redis-py, outside that WAIT). Not used on a cluster: ``KEYS``,
``SELECT``, ``CONFIG``, a script over two slots.

Configuration: the ``SESSION_REDIS`` dict, checked by ``session_engines.checks``, read at first
use (never at import) and then once per settings object and process (``context()``):
``override_settings`` and any ``setting_changed`` read it anew. The connection comes, in this
order, from ``URL`` (a ``redis://`` or ``rediss://`` URL, AUTH/ACL in it: the engine's own
client, one per process, made on first use and again after a fork, with ``CONNECTION_KWARGS``
over ``CONNECTION_DEFAULTS``; with
``CLUSTER`` a ``redis.cluster.RedisCluster`` from the URL of any node, which follows ``MOVED`` and
``ASK``; ``"auto"`` asks the server with ``INFO cluster`` on first connect), else from
the cache ``CACHE_ALIAS``: a django-redis cache (its pool, timeouts, Sentinel) or Django's own
``django.core.cache.backends.redis.RedisCache`` (its first server, the primary, for every
command). Failures are explicit: any Redis error becomes ``SessionStoreUnavailable`` (the
middleware answers 503), never an empty session.
"""

import functools
import hashlib
import hmac
import json
import logging
import os
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.crypto import salted_hmac
from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, RedisClusterException, RedisError
from redis.retry import Retry

from .. import near_cache as near
from .. import signals
from ..clients import Clients
from ..conf import setting
from ..exceptions import SessionStoreUnavailable
from ..ids import digest, session_id
from ..policy import session_limit
from ..users import user_id_of
from .base import ConditionalSessionBase, Stored, VersionConflict

DEFAULTS: dict[str, Any] = {
    "URL": None,  # redis:// or rediss://: the engine's own client; None: the cache's
    "CONNECTION_KWARGS": {},  # with URL: redis-py connection options over CONNECTION_DEFAULTS
    "CACHE_ALIAS": "sessions",  # without URL: a django-redis cache or Django's RedisCache
    "KEY_PREFIX": "session_engines.redis",
    "WAIT_REPLICAS": 0,  # WAIT for this many replicas after each write; 0: off
    "WAIT_TIMEOUT_MS": 100,
    "CLUSTER": False,  # True: a Redis Cluster (needs URL); "auto": ask the server (INFO cluster)
    "NEAR_CACHE": None,  # {"MAX_ENTRIES": 10000}: reads with no round trip (near_cache.py)
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

# On a cluster, redis-py retries a command once the node it went to fails (ConnectionError,
# TimeoutError, CLUSTERDOWN), after reloading the slot map: after a failover that finds the
# promoted replica. ``retry`` is then the cluster's own: one attempt more, no backoff.
CLUSTER_DEFAULTS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
    "retry": Retry(NoBackoff(), 1),
}

# A store that cannot answer now: down, timed out, READONLY, out of memory, a slot with no
# primary during a cluster's failover (SlotNotCoveredError is not a RedisError).
OUTAGES = (RedisError, RedisClusterException)

UNKNOWN = object()  # which user a session key holds in the store, before we have read it


def options():
    """Return SESSION_REDIS over the defaults, read now (never at import)."""
    return DEFAULTS | setting("SESSION_REDIS", {})


def connection(opts=None):
    """Return the redis-py client for the session store: URL's own, else the cache's."""
    opts = opts or options()
    if opts["URL"] is not None:
        return own_client(opts["URL"], opts["CONNECTION_KWARGS"], opts["CLUSTER"])
    return cache_client(opts["CACHE_ALIAS"])


_clients = Clients()  # one per process and configuration, made after fork


def own_client(url, kwargs, cluster=False):
    return _clients.get_or_make(
        (url, repr(sorted(kwargs.items())), cluster), lambda: new_client(url, kwargs, cluster)
    )


def new_client(url, kwargs, cluster):
    """Return a client for ``url``: a RedisCluster when ``cluster`` is True, or is "auto" and
    the server says it runs in cluster mode."""
    if cluster == "auto":
        try:
            with Redis.from_url(url, **CONNECTION_DEFAULTS | kwargs) as probe:
                cluster = probe.info("cluster").get("cluster_enabled") == 1
        except RedisError as exc:  # asked again on the next request
            raise SessionStoreUnavailable(f"Redis INFO cluster failed: {exc}") from exc
    if cluster:
        try:  # connects now, to learn the slot map
            return RedisCluster.from_url(url, **CLUSTER_DEFAULTS | kwargs)
        except OUTAGES as exc:
            raise SessionStoreUnavailable(f"Redis Cluster unreachable: {exc}") from exc
    return Redis.from_url(url, **CONNECTION_DEFAULTS | kwargs)


_near_caches = Clients()  # one per process and client


def near_cache(opts=None):
    """Return this process's near cache of sessions, None when ``NEAR_CACHE`` is off."""
    opts = opts or options()
    if opts["NEAR_CACHE"] is None:
        return None
    client = connection(opts)
    config = near.DEFAULTS | opts["NEAR_CACHE"]
    size, interval = config["MAX_ENTRIES"], config["HEALTH_CHECK_INTERVAL"]
    return _near_caches.get_or_make(
        (id(client), size, interval), lambda: near.NearCache(client.connection_pool, size, interval)
    )


class Context(NamedTuple):
    """What every operation reads before its round trip, read once per settings object and
    process (``context()``): a session's load or delete would otherwise merge SESSION_REDIS,
    look up the client and the near cache and read SECRET_KEY several times (about 10 µs)."""

    opts: dict
    client: Any  # Redis or RedisCluster, as connection() returns it
    cluster: bool
    near: Any  # this process's near.NearCache, None when NEAR_CACHE is off
    prefix: str  # KEY_PREFIX
    macs: tuple  # keyed_hmac() of SECRET_KEY, then of each of SECRET_KEY_FALLBACKS


_context: list = [(None, None)]  # [(the settings object, its Context)], this process's


def context():
    """Return the ``Context`` of the settings in force: made anew when they change
    (``override_settings``, a setting changed), and in a forked worker."""
    wrapped, ctx = _context[0]
    if wrapped is not settings._wrapped or ctx is None:
        wrapped, opts = settings._wrapped, options()
        client = connection(opts)
        near, prefix, macs = near_cache(opts), opts["KEY_PREFIX"], keyed_secrets()
        ctx = Context(opts, client, is_cluster(client), near, prefix, macs)
        _context[0] = (wrapped, ctx)  # one assignment: a thread sees the old pair or the new
    return ctx


def _forget_context(**kwargs):
    _context[0] = (None, None)


os.register_at_fork(after_in_child=_forget_context)  # a worker makes its own clients
setting_changed.connect(_forget_context)  # a setting set in place (settings.X = ...)


def get(key, store=None, id=None, ctx=None):
    """Return the value stored under ``key``: from the near cache when on (no round trip for a
    session it holds; ``store`` signals each hit or miss for session ``id``), else one ``GET``."""
    ctx = ctx or context()
    if ctx.near is None:
        return call("GET", key, ctx=ctx)
    try:
        value, held = ctx.near.lookup(key)
    except OUTAGES as exc:
        raise SessionStoreUnavailable(f"Redis GET failed: {exc}") from exc
    if store is not None:
        signal = signals.near_cache_hit if held else signals.near_cache_miss
        signals.send(signal, store, session_id=id)
    return value


def forget(*keys, ctx=None):
    """Drop ``keys`` from this process's near cache, if on: it just wrote or deleted them."""
    cache = (ctx or context()).near
    for key in keys if cache is not None else ():
        cache.forget(key)


def is_cluster(client):
    return isinstance(client, RedisCluster)


_cache_clients = Clients()  # the redis-py client of each cache alias, per process


@receiver(setting_changed)
def _forget_cache_clients(setting, **kwargs):
    if setting == "CACHES":  # another server behind an alias (tests): its client anew
        _cache_clients.clear()


def cache_client(alias):
    """Return the redis-py client of the cache ``alias``, looked up once per process (Django's
    ``caches[alias]`` is a per-thread lookup, and redis-py's clients are thread-safe)."""
    return _cache_clients.get_or_make((alias,), lambda: client_of(caches[alias], alias))


def client_of(cache, alias):
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
    encoded: str  # "2|<mac>|<JSON>", or Django's signed form (format 1, which has no "|")


FORMAT = "2"  # the stored format encode() writes; decode() reads it and format 1
COMPACT = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps(separators=) each call
MAC_SALT = "session_engines.backends.redis"


def mac(text, secret=None):
    """Return the hex HMAC-SHA256 of a session's JSON under SECRET_KEY (or ``secret``): Django's
    ``salted_hmac(MAC_SALT, text, secret, algorithm="sha256")``, its key derived once."""
    return signed(keyed_hmac(settings.SECRET_KEY if secret is None else secret), text.encode())


def signed(keyed, data):
    """Return the hex HMAC of ``data`` (bytes) under ``keyed``, a ``keyed_hmac()``. (A copy of
    a keyed ``hmac.HMAC`` costs less than ``hmac.digest``, which looks the digest up in
    OpenSSL 3 at every call.)"""
    keyed = keyed.copy()
    keyed.update(data)
    return keyed.hexdigest()


def keyed_secrets():
    """Return ``keyed_hmac()`` of SECRET_KEY, then of each of SECRET_KEY_FALLBACKS: OpenSSL's
    HMAC object itself where ``hmac.HMAC`` wraps one (its ``copy`` and ``hexdigest`` are then
    one C call each, not two Python calls more)."""
    secrets = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    return tuple(getattr(keyed, "_hmac", keyed) for keyed in map(keyed_hmac, secrets))


@functools.lru_cache(maxsize=8)
def keyed_hmac(secret):
    """Return the HMAC-SHA256 of nothing yet under ``salted_hmac``'s key for ``secret``."""
    return salted_hmac(MAC_SALT, b"", secret=secret, algorithm="sha256")


def verified_json(encoded, macs=None):
    """Return the JSON text of a format 2 encoded session, None when its MAC matches no key of
    SECRET_KEY and SECRET_KEY_FALLBACKS (``macs``: the context's keyed HMACs of them), or
    ValueError: not format 2."""
    version, tag, text = encoded.split("|", 2)
    if version != FORMAT:
        raise ValueError(f"unknown stored format {version!r}")
    macs = keyed_secrets() if macs is None else macs
    tag, data = tag.encode(), text.encode()  # the tag may hold anything: compare bytes
    for keyed in macs:
        if hmac.compare_digest(tag, signed(keyed, data).encode()):
            return text
    return None


def user_digest(user_id):
    """Return the digest of a user id, as the stored value and the index name hold it (None for
    no user)."""
    return None if user_id is None else digest(user_id)


def pack(encoded, user):
    """Return the stored value, less its version (the scripts put that in front); ``user``:
    the user id's digest, or None."""
    return f"{user or ''}|{encoded}"


def unpack(value):
    """Return the ``Value`` of a stored session (ValueError when it has no such layout)."""
    value = value.decode() if isinstance(value, bytes) else value
    version, user, encoded = value.split("|", 2)
    return Value(int(version), user or None, encoded)


SOURCES: dict[str, str] = {}  # sha1 -> source, of every Script


class Script:
    """A Lua script run by EVALSHA, and by EVAL when the server lacks it (restart, failover).

    EVALSHA names its keys, so a cluster client sends it to the node of its first key.
    """

    def __init__(self, source):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        SOURCES[self.sha] = source

    def __call__(self, keys, args, *, wait=False, ctx=None):
        return send(self.command(keys, args), wait=wait, ctx=ctx)[0]

    def command(self, keys, args):
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


# Lua shared by the scripts: put a session in its user's index (scored by expiry; expired members
# pruned; the index expires with its longest-lived member), and take one out of its old user's.
INDEX = """
local function names(key)  -- a session's key, "<KEY_PREFIX>:<digest>": its index member, prefix
  return string.sub(key, -64), string.sub(key, 1, -66) .. ':user:'
end
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

# Lua: end a user's sessions beyond a limit, but the one just created, soonest to expire first;
# members whose session is gone or another user's now are pruned, not counted. The ended digests.
LIMIT = """
local function end_oldest(index, member, limit, session_prefix, user)
  local live = {}
  for _, other in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if other ~= member then
      local value = redis.call('GET', session_prefix .. other)
      if value and string.match(value, '^%d+|(%x*)|') == user then
        table.insert(live, other)
      else
        redis.call('ZREM', index, other)
      end
    end
  end
  local ended = {}
  for i = 1, #live - limit + 1 do
    redis.call('DEL', session_prefix .. live[i])
    redis.call('ZREM', index, live[i])
    table.insert(ended, live[i])
  end
  return ended
end
"""

# Create a session at version 1, only if its key is new; then delete the session it replaces
# (cycle_key): written before deleted, in one atomic step; then, with a limit, end the user's
# sessions beyond it. Returns 0 (the key is taken) or {1, the digests of the sessions ended}.
# KEYS: the session, its user's index (when ARGV[4] == '1'), the replaced session (when any).
# ARGV: value less its version, ttl seconds, session digest, '1' with an index, user index
# prefix, the replaced session's digest or '', the limit or '0', the user's digest, the
# session key prefix ("<KEY_PREFIX>:").
CREATE = Script(
    INDEX
    + LIMIT
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
local ended = {}
if ARGV[4] == '1' and ARGV[7] ~= '0' then
  ended = end_oldest(KEYS[2], ARGV[3], tonumber(ARGV[7]), ARGV[9], ARGV[8])
end
local reply = {1}
for _, member in ipairs(ended) do table.insert(reply, member) end
return reply
"""
)

# Update a session only if it still exists at the expected version: the new version; 0 when the
# session is gone; {the stored value} when another request saved it meanwhile (a conflict).
# KEYS[1]: the session. ARGV: value less its version, ttl seconds, expected version.
COMPARE_AND_SET = """
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
local version = string.match(old, '^(%d+)|')
if version ~= ARGV[3] then return {old} end
local new = tonumber(version) + 1
redis.call('SET', KEYS[1], new .. '|' .. ARGV[1], 'XX', 'EX', ARGV[2])
"""

# COMPARE_AND_SET, and the session moved to its user's index in the same step.
# KEYS: the session, its user's index (when present). ARGV: value less its version, ttl seconds,
# expected version. (The index member and prefix come from KEYS[1], as in DELETE.)
UPDATE = Script(
    INDEX
    + COMPARE_AND_SET
    + """
local member, users = names(KEYS[1])
index_remove(old, users, member, KEYS[2])
if KEYS[2] then index_add(KEYS[2], member, ARGV[2]) end
return new
"""
)

# On a cluster, one key per script: COMPARE_AND_SET alone, and the index written beside it.
UPDATE_SESSION = Script(COMPARE_AND_SET + "return new\n")

# Put a session in a user's index. KEYS[1]: the index. ARGV: session digest, ttl seconds.
INDEX_ADD = Script(INDEX + "index_add(KEYS[1], ARGV[1], ARGV[2])\nreturn 1\n")

# Delete a session and take it out of its user's index. KEYS[1]: the session,
# "<KEY_PREFIX>:<its 64-hex digest>", which names both the member and the index prefix: no ARGV
# (each argument more costs redis-py's encoding on every logout).
DELETE = Script(
    INDEX
    + """
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', KEYS[1])
local member, users = names(KEYS[1])
index_remove(old, users, member, nil)
return 1
"""
)


def call(*command, wait=False, ctx=None):
    """Send one command, not a script, in one round trip (WAIT pipelined behind a write when
    configured)."""
    return pipelined((command,), wait, ctx)[0]


def send(*commands, wait=False, ctx=None):
    """Send ``commands`` in one round trip and return their replies: one pipeline, which a
    cluster client writes to every node it reaches before reading any reply. With ``wait`` and
    WAIT_REPLICAS, a WAIT follows the writes on each node's connection. A script the server
    lacks (restart, failover, a new node) is sent again as EVAL, alone: the other commands ran.
    ``ctx``: ``context()``, when the caller has it already.
    """
    replies = pipelined(commands, wait, ctx)
    missing = [n for n, reply in enumerate(replies) if is_no_script(reply)]
    if missing:
        scripts = [("EVAL", SOURCES[commands[n][1]], *commands[n][2:]) for n in missing]
        for n, reply in zip(missing, pipelined(scripts, wait, ctx), strict=True):
            replies[n] = reply
    return replies


def is_no_script(reply):
    return isinstance(reply, NoScriptError)


def pipelined(commands, wait, ctx=None):
    """Return the replies to ``commands`` (a NoScriptError as a reply), WAIT checked."""
    ctx = ctx or context()
    opts, client = ctx.opts, ctx.client
    wait = wait and opts["WAIT_REPLICAS"] > 0
    try:
        if len(commands) == 1 and not wait:
            try:
                return [client.execute_command(*commands[0])]
            except NoScriptError as missing:
                return [missing]
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command, **route(client, command))
        waits = wait_targets(client, commands) if wait else {}
        for target in waits.values():
            pipe.execute_command("WAIT", opts["WAIT_REPLICAS"], opts["WAIT_TIMEOUT_MS"], **target)
        replies = pipe.execute(raise_on_error=False)
        errors = [r for r in replies if isinstance(r, Exception) and not is_no_script(r)]
        if errors:
            raise errors[0]
    except OUTAGES as exc:
        # Down, timed out, still READONLY after one reconnect, out of memory, a cluster slot
        # with no primary (mid-failover): retry later.
        raise SessionStoreUnavailable(f"Redis {commands[0][0]} failed: {exc}") from exc
    replies, counts = replies[: len(commands)], replies[len(commands) :]
    # A node that lacked a script is WAITed on with the EVAL sent next: that WAIT covers all it
    # was sent before (a node replicates in order); this one may count no write at all.
    scriptless = [c for c, r in zip(commands, replies, strict=True) if is_no_script(r)]
    retried = {node_name(client, command) for command in scriptless}
    acknowledged = [n for name, n in zip(waits, counts, strict=True) if name not in retried]
    if any(count < opts["WAIT_REPLICAS"] for count in acknowledged):
        # Written on the primary only: a failover now could lose it, so do not acknowledge it.
        raise SessionStoreUnavailable(
            f"{commands[0][0]} reached {min(acknowledged)} of {opts['WAIT_REPLICAS']} replicas "
            f"within {opts['WAIT_TIMEOUT_MS']} ms"
        )
    return replies


def route(client, command):
    """Return where a pipelined command goes: on a cluster, its key's node, named here (else
    redis-py asks a server for a script's keys, COMMAND GETKEYS: a round trip more)."""
    if not is_cluster(client):
        return {}
    key = command[3] if command[0] in ("EVALSHA", "EVAL") else command[1]
    return {"target_nodes": client.get_node_from_key(key)}


def node_name(client, command):
    """Return the name of the node ``command`` goes to ("" on one node)."""
    return route(client, command)["target_nodes"].name if is_cluster(client) else ""


def wait_targets(client, commands):
    """Return {node name: the options of its WAIT}, one per node the commands write to."""
    return {node_name(client, c): route(client, c) for c in commands}


def delete_by_digest(session_digest, prefix=None, ctx=None):
    """End a session and drop it from its user's index; True when it existed."""
    ctx = ctx or context()
    prefix = prefix or ctx.prefix
    key = session_key_name(session_digest, prefix)
    if ctx.cluster:  # the index is another slot: read the user as we delete
        old = call("GETDEL", key, wait=True, ctx=ctx)
        user = stored_user_of(old)
        if user is not None:
            call("ZREM", user_index_prefix(prefix) + user, session_digest, wait=True, ctx=ctx)
        return old is not None
    existed = DELETE([key], [], wait=True, ctx=ctx)
    forget(key, ctx=ctx)
    return bool(existed)


def stored_user_of(value):
    """Return the user id digest in a stored value (None: no value, no user, no layout)."""
    try:
        return None if value is None else unpack(value).user
    except ValueError:
        return None


def unindex(user, session_digest):
    """Return the command that takes a session out of a user's index (none for no user)."""
    return [] if user is None else [("ZREM", user_index_prefix() + user, session_digest)]


class SessionStore(ConditionalSessionBase):
    operator = "session_engines.operators.redis.RedisOperator"  # sees and ends its sessions

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # The user id digest stored under self.session_key, as last read or written here:
        # None (no user) lets writes skip the index script.
        self._stored_user = UNKNOWN
        self._last_id = (None, None)  # (a session key, its session_id): see _id

    def _id(self, session_key):
        """Return ``session_id(session_key)``, kept for the last key: a request that reads a
        session and then writes or deletes it digests its key once."""
        if self._last_id[0] != session_key:
            self._last_id = (session_key, session_id(session_key))
        return self._last_id[1]

    def _read(self, session_key):
        ctx = context()
        id = self._id(session_key)
        value = get(session_key_name(id, ctx.prefix), self, id, ctx)
        if value is None:
            return None
        try:
            stored = unpack(value)
        except ValueError:
            suspicious.warning("Session data corrupted: no version in the stored value")
            return None
        if session_key == self.session_key:
            self._stored_user = stored.user
        data, source = self._decoded(stored.encoded, ctx.macs)
        return Stored(data, stored.version, source)

    # The stored format: the session's JSON as it is, behind an HMAC of it. Reading it costs
    # one HMAC-SHA256 and one json.loads, as the stock cache engine's plain JSON costs a load;
    # Django's signed form (format 1) adds base64, a zlib check and its own HMAC. JSON only:
    # never pickle, so a store writer without SECRET_KEY can at worst log a user out.

    def encode(self, session_dict, ctx=None):
        text = COMPACT.encode(session_dict)
        self._written = (session_dict, text)  # the fingerprints' source once it is written
        keyed = keyed_hmac(settings.SECRET_KEY) if ctx is None else ctx.macs[0]
        return f"{FORMAT}|{signed(keyed, text.encode())}|{text}"

    def decode(self, session_data):
        return self._decoded(session_data)[0]

    def _decoded(self, encoded, macs=None):
        """Return (the session's data, its JSON text or None) from its encoded form: ``{}``
        when it was not signed with our secret (logged, as Django does) or is not JSON."""
        if "|" not in encoded:  # format 1: Django's signing.dumps
            return super().decode(encoded), None
        try:
            text = verified_json(encoded, macs)
            if text is None:
                suspicious.warning("Session data corrupted: its HMAC does not match")
                return {}, None
            data = json.loads(text)
        except ValueError as exc:  # an unknown format, or not JSON
            suspicious.warning("Session data corrupted: %s", exc)
            return {}, None
        if not isinstance(data, dict):
            suspicious.warning("Session data corrupted: not a JSON object")
            return {}, None
        return data, text

    def _create_record(self, data, replacing):
        ttl = self.get_expiry_age()
        if ttl <= 0:  # an expiry already past: nothing to keep
            return 0
        ctx = context()
        session_digest = self._id(self.session_key)
        key = session_key_name(session_digest, ctx.prefix)
        user_id = user_id_of(data)
        user = user_digest(user_id)
        value = pack(self.encode(data, ctx), user)
        if ctx.cluster:  # no per-user session limit there: one slot per script
            return self._create_on_cluster(key, value, ttl, user_id, replacing)
        ended, old = [], []
        if user_id is None and replacing is None:
            written = call("SET", key, f"1|{value}", "NX", "EX", ttl, wait=True, ctx=ctx)
        else:
            users = user_index_prefix(ctx.prefix)
            index = [] if user is None else [users + user]
            replaced = "" if replacing is None else session_id(replacing)
            old = [session_key_name(replaced, ctx.prefix)] if replaced else []
            args = [value, ttl, session_digest, "1" if index else "0", users, replaced]
            limit = session_limit(data)
            args += ["0" if limit is None else limit[1], user or ""]
            args.append(session_key_name("", ctx.prefix))
            written = CREATE([key, *index, *old], args, wait=True, ctx=ctx)
            ended = [d.decode() for d in written[1:]] if written else []
        if not written:
            raise CreateError
        self._stored_user = user
        forget(*old, *(session_key_name(id, ctx.prefix) for id in ended), ctx=ctx)
        self._revoked(ended, user_id)
        return 1

    def _create_on_cluster(self, key, value, ttl, user_id, replacing):
        """Create the session and index it in one pipeline; then delete the one it replaces."""
        session_digest = self._id(self.session_key)
        commands = [("SET", key, f"1|{value}", "NX", "EX", ttl)]
        if user_id is not None:
            commands.append(INDEX_ADD.command([user_index_name(user_id)], [session_digest, ttl]))
        written = send(*commands, wait=True)[0]  # a failed NX leaves a member: pruned on read
        if not written:
            raise CreateError
        replaced_user = self._stored_user  # the user of the key cycle_key() replaced, if read
        self._stored_user = None if user_id is None else digest(user_id)
        if replacing is not None:  # a second round trip, only once the new key is written
            old = session_id(replacing)
            unindexed = [] if replaced_user is UNKNOWN else unindex(replaced_user, old)
            send(("DEL", session_key_name(old)), *unindexed, wait=True)
        return 1

    def _update_record(self, data, version):
        ttl = self.get_expiry_age()
        if ttl <= 0:  # an expiry already past: the session ends now
            with signals.ending(self, "expired"):
                self.delete()
            return version
        ctx = context()
        session_digest = self._id(self.session_key)
        user_id = user_id_of(data)
        user = user_digest(user_id)
        index = [] if user is None else [user_index_prefix(ctx.prefix) + user]
        value = pack(self.encode(data, ctx), user)
        key = session_key_name(session_digest, ctx.prefix)
        if ctx.cluster:
            commands = [UPDATE_SESSION.command([key], [value, ttl, version])]
            commands += [INDEX_ADD.command(index, [session_digest, ttl])] if index else []
            reply = send(*commands, wait=True, ctx=ctx)[0]
        else:
            reply = UPDATE([key, *index], [value, ttl, version], wait=True, ctx=ctx)
        forget(key, ctx=ctx)  # written, or found moved or gone: what this process held is stale
        if isinstance(reply, list):  # saved by another request meanwhile: here it is
            current = unpack(reply[0])
            self._stored_user = current.user
            data, source = self._decoded(current.encoded, ctx.macs)
            raise VersionConflict(Stored(data, current.version, source))
        if not reply:
            raise UpdateError
        if ctx.cluster and self._stored_user not in (UNKNOWN, None, user):
            # The user changed: out of the old one's index, only now that the write stands.
            send(*unindex(self._stored_user, session_digest), wait=True, ctx=ctx)
        self._stored_user = user
        return int(reply)

    def _delete_record(self, session_key):
        ctx = context()
        stored_user = self._stored_user if session_key == self.session_key else UNKNOWN
        session_digest = self._id(session_key)
        key = session_key_name(session_digest, ctx.prefix)
        if stored_user is None:
            call("DEL", key, wait=True, ctx=ctx)
            forget(key, ctx=ctx)
        elif ctx.cluster:
            # The user unknown (not read): its index keeps the member until it is read and
            # pruned (for_user), rather than a round trip more to read the user first.
            unindexed = [] if stored_user is UNKNOWN else unindex(stored_user, session_digest)
            send(("DEL", key), *unindexed, wait=True, ctx=ctx)
        else:
            delete_by_digest(session_digest, ctx=ctx)
        if session_key == self.session_key:
            self._stored_user = UNKNOWN

    @classmethod
    def clear_expired(cls):
        """Nothing to do: Redis expires sessions (and user indexes) by their own TTL."""
