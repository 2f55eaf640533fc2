"""See and end sessions of the native Redis engine (``session_engines.backends.redis``).

Listing walks the keyspace with ``SCAN`` and a cursor (never ``KEYS``, which blocks the server),
matching session keys only (``<prefix>:`` + 64 hex characters), not the per-user indexes; on a
cluster, every primary in turn (the cursor says which, then where on it). A user's sessions
come from their index (a sorted set of session digests scored by expiry); members
whose session has gone or now belongs to someone else are pruned as they are found.
"""

import time
from datetime import UTC, datetime

from ..backends import redis as engine
from ..exceptions import unavailable_on_outage
from ..ids import digest, glob_escape, is_session_id
from ..users import user_id_of
from . import Page, SessionRecord


def fetch(keys):
    """[(value or None, ttl seconds)] for session keys, in one round trip."""
    if not keys:
        return []
    pipe = engine.connection().pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
        pipe.ttl(key)
    replies = run(pipe.execute)
    return list(zip(replies[::2], replies[1::2], strict=True))


def run(command, *args, **kwargs):
    with unavailable_on_outage("Redis"):
        return command(*args, **kwargs)


def session_digests(keys):
    return [d for d in (key.decode().rpartition(":")[2] for key in keys) if is_session_id(d)]


def record(session_digest, value, ttl, now):
    data = engine.SessionStore().decode(engine.unpack(value).encoded)
    return SessionRecord(
        id=session_digest,
        user_id=user_id_of(data),
        expires=datetime.fromtimestamp(now + ttl, tz=UTC) if ttl >= 0 else None,
        size=len(value),
        data=data,
    )


class RedisOperator:
    supports_user_index = True

    def __init__(self, session_engine=None):  # one engine, whatever its name
        self.prefix = engine.options()["KEY_PREFIX"]

    def list(self, *, cursor=None, limit=50):
        client = engine.connection()
        if engine.is_cluster(client):
            return self._list_cluster(client, cursor, limit)
        position, digests = int(cursor or 0), []
        while True:
            position, keys = run(client.scan, position, self._pattern(), limit)
            digests += session_digests(keys)
            if position == 0 or len(digests) >= limit:
                break
        return Page(records=self._records(digests), cursor=str(position) if position else None)

    def _list_cluster(self, client, cursor, limit):
        """SCAN each primary in turn (sorted by address); the cursor is ``<node>:<position>``."""
        nodes = sorted(run(client.get_primaries), key=lambda node: node.name)
        node, position = (int(part) for part in (cursor or "0:0").split(":"))
        digests = []
        while node < len(nodes):
            cursors, keys = run(
                client.scan, position, self._pattern(), limit, target_nodes=nodes[node]
            )
            (position,) = cursors.values()  # {node name: its cursor}
            digests += session_digests(keys)
            if position == 0:
                node += 1
            if len(digests) >= limit:
                break
        more = node < len(nodes)
        return Page(records=self._records(digests), cursor=f"{node}:{position}" if more else None)

    def _pattern(self):
        return glob_escape(f"{self.prefix}:") + "?" * 64  # no user indexes

    def get(self, id):
        if not is_session_id(id):
            return None
        records = self._records([id])
        return records[0] if records else None

    def delete(self, id):
        return is_session_id(id) and engine.delete_by_digest(id, self.prefix)

    def for_user(self, user_id):
        index = engine.user_index_name(str(user_id), self.prefix)
        client, now = engine.connection(), time.time()
        members = [m.decode() for m in run(client.zrangebyscore, index, now, "+inf")]
        replies = fetch([engine.session_key_name(d, self.prefix) for d in members])
        records, stale = [], []
        for session_digest, (value, ttl) in zip(members, replies, strict=True):
            # Gone, or no longer this user's (a write elsewhere changed it): not theirs any more.
            if value is None or engine.unpack(value).user != digest(str(user_id)):
                stale.append(session_digest)
            else:
                records.append(record(session_digest, value, ttl, now))
        if stale:
            run(client.zrem, index, *stale)
        return records

    def delete_for_user(self, user_id):
        return sum(self.delete(r.id) for r in self.for_user(user_id))

    def _records(self, digests):
        now = time.time()
        replies = fetch([engine.session_key_name(d, self.prefix) for d in digests])
        return [
            record(d, value, ttl, now)
            for d, (value, ttl) in zip(digests, replies, strict=True)
            if value is not None
        ]
