"""Sessions in Django's cache-backed engine on django-redis (``SESSION_CACHE_ALIAS``).

The engine writes one Redis key per session: the cache's key function (``KEY_PREFIX``,
version) around the engine's ``cache_key_prefix`` + the raw session key. This operator walks
them with ``SCAN ... MATCH`` (never ``KEYS``) on django-redis's own connection, reads a page's
values and TTLs in one pipelined round trip, and shows only the digest of each key.

Works for Django's engine (Redis keys hold the raw session key: ids are their digests, and
finding one id hashes every key in a full SCAN) and for a subclass that keys by the digest
(the id is then in the key). Neither keeps a per-user index, and cannot: the cache holds only
``key -> session dict``. ``for_user`` and ``delete_for_user`` raise UserIndexUnavailable.
Like every SCAN, a key may show up twice if Redis resizes its keyspace mid-walk; keys present
throughout appear at least once.
"""

import datetime

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string
from django_redis import get_redis_connection

from ..exceptions import unavailable_on_outage
from ..ids import glob_escape, is_session_id, session_id
from ..users import user_id_of
from . import Page, SessionRecord, UserIndexUnavailable


class CacheOperator:
    supports_user_index = False

    def __init__(self, session_engine=None):
        self.client = caches[settings.SESSION_CACHE_ALIAS].client
        self.redis = get_redis_connection(settings.SESSION_CACHE_ALIAS)
        # Where the engine puts a session: ask it (no I/O) for a probe key's cache key, and see
        # whether it stores the raw key (Django's engine) or its digest (an engine of ours).
        store_class = import_string(f"{session_engine or settings.SESSION_ENGINE}.SessionStore")
        probe = "probe" * 8
        cache_key = store_class(probe).cache_key
        self.hashed = cache_key.endswith(session_id(probe))
        if not self.hashed and not cache_key.endswith(probe):
            raise ImproperlyConfigured(f"Cannot tell where {store_class} keeps a session.")
        engine_prefix = cache_key[: -len(session_id(probe) if self.hashed else probe)]
        self.pattern = self.client.make_pattern(glob_escape(engine_prefix) + "*")
        self.prefix = str(self.client.make_key(engine_prefix))
        if str(self.client.make_key(engine_prefix + probe)) != self.prefix + probe:
            raise ImproperlyConfigured("The sessions cache's KEY_FUNCTION must end with the key.")

    def _id(self, redis_key):
        suffix = redis_key[len(self.prefix) :]
        return suffix if self.hashed else session_id(suffix)

    def _scan(self, cursor, count):
        with unavailable_on_outage("Redis SCAN"):
            cursor, keys = self.redis.scan(cursor=cursor, match=self.pattern, count=count)
        return int(cursor), [key.decode() if isinstance(key, bytes) else key for key in keys]

    def _records(self, keys):
        """The live sessions among ``keys``: values and TTLs in one pipelined round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        with unavailable_on_outage("Redis GET"):
            replies = pipe.execute()
        now = timezone.now()
        records = []
        for key, value, ttl in zip(keys, replies[::2], replies[1::2], strict=True):
            if value is None:  # expired or deleted since the SCAN
                continue
            data = self.client.decode(value)
            records.append(
                SessionRecord(
                    id=self._id(key),
                    user_id=user_id_of(data),
                    expires=now + datetime.timedelta(milliseconds=ttl) if ttl >= 0 else None,
                    size=len(value),
                    data=data,
                    key=None if self.hashed else key[len(self.prefix) :],
                )
            )
        return records

    def list(self, *, cursor=None, limit=50):
        """At least ``limit`` sessions per page (but the last), fewer than twice that."""
        if cursor is not None and not cursor.isdigit():
            raise ValueError(f"Not a cursor: {cursor!r}")
        position, keys = int(cursor or 0), []
        while True:
            position, batch = self._scan(position, limit)
            keys += [key for key in batch if key not in keys]
            if position == 0 or len(keys) >= limit:
                break
        return Page(records=self._records(keys), cursor=str(position) if position else None)

    def _key(self, id):
        if not is_session_id(id):
            return None
        if self.hashed:  # the id is in the key: no need to look
            return self.prefix + id
        position = 0
        while True:
            position, keys = self._scan(position, 1000)
            for key in keys:
                if self._id(key) == id:
                    return key
            if position == 0:
                return None

    def get(self, id):
        key = self._key(id)
        records = self._records([key]) if key else []
        return records[0] if records else None

    def delete(self, id):
        key = self._key(id)
        with unavailable_on_outage("Redis DEL"):
            return bool(key) and self.redis.delete(key) > 0

    def for_user(self, user_id):
        raise UserIndexUnavailable(
            "Django's cache-backed session engine keeps no per-user index: "
            "it cannot list or end one user's sessions."
        )

    def delete_for_user(self, user_id):
        return self.for_user(user_id)
