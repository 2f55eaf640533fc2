"""See and end sessions of the native Redis engine (``session_engines.redis``).

Listing walks the keyspace with ``SCAN`` and a cursor (never ``KEYS``, which blocks the server),
matching session keys only (``<prefix>:`` + 64 hex characters), not the per-user indexes. A
user's sessions come from their index (a sorted set of session digests scored by expiry); members
whose session has gone or now belongs to someone else are pruned as they are found.
"""

import re
import time
from datetime import UTC, datetime

from redis.exceptions import RedisError

from .. import redis as engine
from ..exceptions import SessionStoreUnavailable
from ..users import user_id_of
from . import Page, SessionRecord

DIGEST = re.compile(r"[0-9a-f]{64}")


def glob_escape(text):
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


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


def run(command, *args):
    try:
        return command(*args)
    except RedisError as exc:
        raise SessionStoreUnavailable(f"Redis failed: {exc}") from exc


def record(session_digest, value, ttl, now):
    user_digest, encoded = engine.unpack(value)
    data = engine.SessionStore().decode(encoded)
    return SessionRecord(
        id=session_digest,
        user_id=user_id_of(data),
        expires=datetime.fromtimestamp(now + ttl, tz=UTC) if ttl >= 0 else None,
        size=len(value),
        data=data,
    )


class RedisOperator:
    supports_user_index = True

    def __init__(self):
        self.prefix = engine.options()["KEY_PREFIX"]

    def list(self, *, cursor=None, limit=50):
        pattern = glob_escape(f"{self.prefix}:") + "?" * 64
        position, digests = int(cursor or 0), []
        while True:
            position, keys = run(engine.connection().scan, position, pattern, limit)
            digests += [
                d for d in (key.decode().rpartition(":")[2] for key in keys) if DIGEST.fullmatch(d)
            ]
            if position == 0 or len(digests) >= limit:
                break
        return Page(records=self._records(digests), cursor=str(position) if position else None)

    def get(self, id):
        if not DIGEST.fullmatch(id or ""):
            return None
        records = self._records([id])
        return records[0] if records else None

    def delete(self, id):
        return bool(DIGEST.fullmatch(id or "")) and engine.delete_by_digest(id, self.prefix)

    def for_user(self, user_id):
        index = engine.user_index_name(str(user_id), self.prefix)
        client, now = engine.connection(), time.time()
        members = [m.decode() for m in run(client.zrangebyscore, index, now, "+inf")]
        replies = fetch([engine.session_key_name(d, self.prefix) for d in members])
        records, stale = [], []
        for session_digest, (value, ttl) in zip(members, replies, strict=True):
            # Gone, or no longer this user's (a write elsewhere changed it): not theirs any more.
            if value is None or engine.unpack(value)[0] != engine.digest(str(user_id)):
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
