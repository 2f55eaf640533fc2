"""Django's cache-backed session engine, except that a store outage is not a logout.

``SESSION_ENGINE = "session_engines.backends.cache"`` with ``SESSION_CACHE_ALIAS`` naming a
cache (django-redis for ElastiCache). Everything is Django's
``django.contrib.sessions.backends.cache`` but the failures: Django's ``load`` catches *every*
exception from ``cache.get`` (it was written for memcached, which raises on invalid keys,
#17810) and answers with a new, empty session. On Redis, the exception is usually "Redis is
down": the user is silently logged out, and the next save writes an empty session under a fresh
key. Here a store outage (``session_engines.exceptions.outage_errors``), on load or on any
write, goes up as ``SessionStoreUnavailable`` (the middleware's 503 with Retry-After); any
other error on load (a key the backend refuses, data it cannot decode) still resets the
session, as in Django.

One more change, on django-redis: an update is ``SET XX``, so a session deleted elsewhere (a
logout, an operator's revoke) is never written back; Django's engine ``GET``s and then ``SET``s,
and a logout in between was undone. What it cannot do through the cache API is compare and set:
two requests saving one session at once, the later one's data wins whole (lost updates, measured
in the README). Pick ``session_engines.backends.redis`` when that matters.

Round trips: creating a session costs 2, as in Django (``EXISTS`` for a fresh key, then ``SET
NX``), and saving a modified one 2 (``GET`` to load, ``SET XX``; Django's: 3).
``session_engines.backends.redis`` does each in one.
"""

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import UpdateError

from .. import signals
from ..exceptions import outage_errors, unavailable_on_outage
from ..ids import session_id
from .base import ExpiryAge


class SessionStore(ExpiryAge, cache.SessionStore):
    operator = "session_engines.operators.cache.CacheOperator"  # sees and ends its sessions
    ending = "logout"  # why delete() ends a session, for session_ended
    _rotating = False  # in cycle_key(): its create and delete are one rotation

    # Each call to the cache, timed (signals.operation) and with an outage translated:
    # SessionStoreUnavailable, not a reset.

    def load(self):
        with signals.operation(self, "read") as operation:
            with unavailable_on_outage("session cache GET"):
                try:
                    session_data = self._cache.get(self.cache_key)
                except outage_errors():
                    raise
                except Exception:
                    session_data = None  # as Django: an invalid key or undecodable data resets it
            operation.found = session_data is not None
        return self._loaded(session_data)

    async def aload(self):
        with signals.operation(self, "read") as operation:
            with unavailable_on_outage("session cache GET"):
                try:
                    session_data = await self._cache.aget(await self.acache_key())
                except outage_errors():
                    raise
                except Exception:
                    session_data = None
            operation.found = session_data is not None
        return self._loaded(session_data)

    def _loaded(self, session_data):
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}

    def exists(self, session_key):
        with signals.operation(self, "exists") as operation:
            with unavailable_on_outage("session cache EXISTS"):
                operation.found = super().exists(session_key)
        return operation.found

    async def aexists(self, session_key):
        with signals.operation(self, "exists") as operation:
            with unavailable_on_outage("session cache EXISTS"):
                operation.found = await super().aexists(session_key)
        return operation.found

    def create(self):
        super().create()  # save(must_create=True) under new keys until one is free
        if not self._rotating:
            signals.send(signals.session_created, self, session_id=session_id(self.session_key))

    def save(self, must_create=False):
        if must_create or self.session_key is None or not takes_xx(self._cache):
            creating = must_create or self.session_key is None
            with signals.operation(self, "create" if creating else "update"):
                with unavailable_on_outage("session cache SET"):
                    return super().save(must_create)
        # Update only a session that still exists (SET XX), in one round trip: Django's engine
        # GETs first, so a logout between its GET and its SET was undone.
        data = self._get_session()  # a load (timed on its own) unless the request read it
        if self.session_key is None:  # loading found nothing: deleted or expired meanwhile
            raise UpdateError
        with signals.operation(self, "update"), unavailable_on_outage("session cache SET"):
            updated = self._cache.set(self.cache_key, data, self.get_expiry_age(), xx=True)
        if not updated:
            raise UpdateError

    async def asave(self, must_create=False):
        return await sync_to_async(self.save)(must_create)

    async def acreate(self):
        return await sync_to_async(self.create)()

    def delete(self, session_key=None):
        key = self.session_key if session_key is None else session_key
        with signals.operation(self, "delete"), unavailable_on_outage("session cache DEL"):
            super().delete(session_key)
        if key is not None and not self._rotating:
            id = session_id(key)
            signals.send(signals.session_ended, self, session_id=id, reason=self.ending, count=1)

    async def adelete(self, session_key=None):
        return await sync_to_async(self.delete)(session_key)

    def cycle_key(self):
        old = self.session_key
        self._rotating = True  # Django's: create() a new key, then delete() the old one
        try:
            super().cycle_key()
        finally:
            self._rotating = False
        self._rotated(old)

    async def acycle_key(self):
        old = self.session_key
        self._rotating = True
        try:
            await super().acycle_key()
        finally:
            self._rotating = False
        self._rotated(old)

    def _rotated(self, old):
        new = session_id(self.session_key)
        if old is None:
            signals.send(signals.session_created, self, session_id=new)
        else:
            signals.send(
                signals.session_rotated, self, old_session_id=session_id(old), session_id=new
            )


def takes_xx(cache):
    """Return whether ``cache`` can set a key only if it exists (django-redis can)."""
    try:
        from django_redis.cache import RedisCache
    except ImportError:
        return False
    return isinstance(cache, RedisCache)
