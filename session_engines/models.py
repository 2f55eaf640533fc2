"""The session model of ``session_engines.backends.db``: keyed by a digest, indexed by user."""

from typing import ClassVar

from django.contrib.sessions.base_session import AbstractBaseSession, BaseSessionManager
from django.db import models

from .ids import encodable, session_id
from .users import user_id_of

# Longer user ids, and those UTF-8 cannot encode, are not indexed (the column stays NULL).
USER_ID_MAX_LENGTH = 255


class SessionManager(BaseSessionManager):
    def save(self, session_key, session_dict, expire_date):
        """Django's ``Session.objects.save()``, keyed by the digest and indexed by user."""
        s = self.model(
            session_key=session_id(session_key),
            session_data=self.encode(session_dict),
            expire_date=expire_date,
            user_id=self.model.indexed_user_id(session_dict),
        )
        if session_dict:
            s.save()
        else:
            s.delete()  # Clear sessions with no data.
        return s


class Session(AbstractBaseSession):
    # The SHA-256 hex digest of the session key: a leaked table holds no live credential.
    session_key = models.CharField("SHA-256 of the session key", max_length=64, primary_key=True)
    # The per-user index: SESSION_USER_ID_PATH's value, kept by every save.
    user_id = models.CharField(
        "user id", max_length=USER_ID_MAX_LENGTH, null=True, blank=True, db_index=True
    )

    # Each save is a compare-and-set on it (session_engines.backends.base).
    version = models.PositiveBigIntegerField("version", default=1)

    objects: ClassVar[SessionManager] = SessionManager()

    class Meta(AbstractBaseSession.Meta):  # type: ignore[name-defined]  # the stub omits Meta
        db_table = "session_engines_session"

    @staticmethod
    def indexed_user_id(session_dict):
        user_id = user_id_of(session_dict)
        if user_id is None or len(user_id) > USER_ID_MAX_LENGTH or not encodable(user_id):
            return None
        return user_id

    @classmethod
    def get_session_store_class(cls):
        from .backends.db import SessionStore

        return SessionStore
