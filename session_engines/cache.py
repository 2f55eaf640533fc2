"""Django's cache-backed session engine, except that a store outage is not a logout.

``SESSION_ENGINE = "session_engines.cache"`` with ``SESSION_CACHE_ALIAS`` naming a cache
(django-redis for ElastiCache). Everything is Django's ``django.contrib.sessions.backends.cache``
but ``load``: Django's catches *every* exception from ``cache.get`` (it was written for
memcached, which raises on invalid keys, #17810) and answers with a new, empty session. On
Redis, the exception is usually "Redis is down": the user is silently logged out, and the next
save writes an empty session under a fresh key. Here the store's "unavailable" errors go up as
``SessionStoreUnavailable`` (the middleware's 503 with Retry-After); any other error (a key the
backend refuses, data it cannot decode) still resets the session, as in Django.

Round trips, as Django's engine makes them: creating a session costs 2 (``EXISTS`` for a fresh
key, then ``SET NX``), and saving a modified one 3 (``GET`` to load, another ``GET`` before
the ``SET``). ``session_engines.redis`` does each in one.
"""

from django.contrib.sessions.backends import cache

from .exceptions import SessionStoreUnavailable
from .middleware import unavailable_errors


class SessionStore(cache.SessionStore):
    def load(self):
        try:
            session_data = self._cache.get(self.cache_key)
        except unavailable_errors() as exc:
            raise SessionStoreUnavailable(f"session cache unavailable: {exc}") from exc
        except Exception:
            session_data = None  # as Django: an invalid key or undecodable data resets the session
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}

    async def aload(self):
        try:
            session_data = await self._cache.aget(await self.acache_key())
        except unavailable_errors() as exc:
            raise SessionStoreUnavailable(f"session cache unavailable: {exc}") from exc
        except Exception:
            session_data = None
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}
