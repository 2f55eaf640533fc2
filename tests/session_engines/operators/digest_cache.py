"""A cache engine that keys Redis by the digest of the session key, for CacheOperator's tests."""

from django.contrib.sessions.backends import cache

from session_engines.ids import session_id


class SessionStore(cache.SessionStore):
    cache_key_prefix = "digest-sessions:"

    @property
    def cache_key(self):
        return self.cache_key_prefix + session_id(self._get_or_create_session_key())

    def exists(self, session_key):
        return bool(session_key) and self.cache_key_prefix + session_id(session_key) in self._cache

    def delete(self, session_key=None):
        session_key = session_key or self.session_key
        if session_key:
            self._cache.delete(self.cache_key_prefix + session_id(session_key))
