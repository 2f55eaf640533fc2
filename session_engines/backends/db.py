"""Django's db engine, with two changes: ``SESSION_ENGINE = "session_engines.backends.db"``.

1. The primary key is the SHA-256 hex digest of the session key, never the key itself, so a
   leaked table or backup holds no live credential. The raw key exists only in the cookie.
2. A ``user_id`` column (indexed) holds the user id found at SESSION_USER_ID_PATH in the
   session data, rewritten by every save: storing, changing or clearing UserInfo keeps the
   per-user index right, and "log out everywhere" is one DELETE.

Everything else is Django's ``django.contrib.sessions.backends.db.SessionStore``: the same
queries, the same round trips (one SELECT to load, one INSERT or UPDATE to save, one DELETE),
the same CreateError/UpdateError semantics, ``clearsessions`` support. Needs
``session_engines`` in INSTALLED_APPS and its migration.

One failure is told apart: Django's save() reports *any* database error on an update as
UpdateError ("the session was deleted": a 400 and a logout). A database that is down, read-only
after a failover or locked is an outage instead: SessionStoreUnavailable, a 503 with Retry-After.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.utils import timezone

from ..exceptions import SessionStoreUnavailable, outage_errors
from ..ids import session_id


def outage_or_update_error(exc):
    """Return the UpdateError Django raised, or SessionStoreUnavailable when an outage caused it."""
    if isinstance(exc.__context__, outage_errors()):
        return SessionStoreUnavailable(f"session save failed: {exc.__context__}")
    return exc


class SessionStore(db.SessionStore):
    operator = "session_engines.operators.db.DbOperator"  # sees and ends its sessions

    @classmethod
    def get_model_class(cls):
        from ..models import Session

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
        return bool(session_key) and super().exists(session_id(session_key))

    async def aexists(self, session_key):
        return bool(session_key) and await super().aexists(session_id(session_key))

    def save(self, must_create=False):
        try:
            return super().save(must_create)
        except UpdateError as exc:
            raise outage_or_update_error(exc) from exc.__context__

    async def asave(self, must_create=False):
        try:
            return await super().asave(must_create)
        except UpdateError as exc:
            raise outage_or_update_error(exc) from exc.__context__

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
