"""Django's db engine, with two changes: ``SESSION_ENGINE = "session_engines.db"``.

1. The primary key is the SHA-256 hex digest of the session key, never the key itself, so a
   leaked table or backup holds no live credential. The raw key exists only in the cookie.
2. A ``user_id`` column (indexed) holds the user id found at SESSION_USER_ID_PATH in the
   session data, rewritten by every save: storing, changing or clearing UserInfo keeps the
   per-user index right, and "log out everywhere" is one DELETE.

Everything else is Django's ``django.contrib.sessions.backends.db.SessionStore``: the same
queries, the same round trips (one SELECT to load, one INSERT or UPDATE to save, one DELETE),
the same CreateError/UpdateError semantics, ``clearsessions`` support. Needs
``session_engines`` in INSTALLED_APPS and its migration.
"""

from django.contrib.sessions.backends import db
from django.utils import timezone

from .operators import session_id


class SessionStore(db.SessionStore):
    @classmethod
    def get_model_class(cls):
        from .models import Session

        return Session

    # Django's queries, with the digest where Django puts the key.

    def _get_session_from_db(self):
        if self.session_key is None:
            return None
        try:
            return self.model.objects.get(
                session_key=session_id(self.session_key), expire_date__gt=timezone.now()
            )
        except self.model.DoesNotExist:
            self._session_key = None

    async def _aget_session_from_db(self):
        if self.session_key is None:
            return None
        try:
            return await self.model.objects.aget(
                session_key=session_id(self.session_key), expire_date__gt=timezone.now()
            )
        except self.model.DoesNotExist:
            self._session_key = None

    def exists(self, session_key):
        return super().exists(session_id(session_key))

    async def aexists(self, session_key):
        return await super().aexists(session_id(session_key))

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        obj.session_key = session_id(obj.session_key)
        obj.user_id = self.model.indexed_user_id(data)
        return obj

    async def acreate_model_instance(self, data):
        obj = await super().acreate_model_instance(data)
        obj.session_key = session_id(obj.session_key)
        obj.user_id = self.model.indexed_user_id(data)
        return obj

    def delete(self, session_key=None):
        # One DELETE (Django fetches the row first: two round trips).
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=session_id(session_key)).delete()

    async def adelete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        await self.model.objects.filter(session_key=session_id(session_key)).adelete()
