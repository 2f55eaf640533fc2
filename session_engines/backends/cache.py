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

Round trips, as Django's engine makes them: creating a session costs 2 (``EXISTS`` for a fresh
key, then ``SET NX``), and saving a modified one 3 (``GET`` to load, another ``GET`` before
the ``SET``). ``session_engines.backends.redis`` does each in one.
"""

from django.contrib.sessions.backends import cache

from ..exceptions import outage_errors, unavailable_on_outage


class SessionStore(cache.SessionStore):
    operator = "session_engines.operators.cache.CacheOperator"  # sees and ends its sessions

    # Each call to the cache, with an outage translated: SessionStoreUnavailable, not a reset.

    def load(self):
        with unavailable_on_outage("session cache GET"):
            try:
                session_data = self._cache.get(self.cache_key)
            except outage_errors():
                raise
            except Exception:
                session_data = None  # as Django: an invalid key or undecodable data resets it
        return self._loaded(session_data)

    async def aload(self):
        with unavailable_on_outage("session cache GET"):
            try:
                session_data = await self._cache.aget(await self.acache_key())
            except outage_errors():
                raise
            except Exception:
                session_data = None
        return self._loaded(session_data)

    def _loaded(self, session_data):
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}

    def exists(self, session_key):
        with unavailable_on_outage("session cache EXISTS"):
            return super().exists(session_key)

    async def aexists(self, session_key):
        with unavailable_on_outage("session cache EXISTS"):
            return await super().aexists(session_key)

    def save(self, must_create=False):
        with unavailable_on_outage("session cache SET"):
            return super().save(must_create)

    async def asave(self, must_create=False):
        with unavailable_on_outage("session cache SET"):
            return await super().asave(must_create)

    def delete(self, session_key=None):
        with unavailable_on_outage("session cache DEL"):
            return super().delete(session_key)

    async def adelete(self, session_key=None):
        with unavailable_on_outage("session cache DEL"):
            return await super().adelete(session_key)
