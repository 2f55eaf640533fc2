"""Sessions in the database: ``SESSION_ENGINE = "session_engines.backends.db"``.

Django's db engine, with three changes:

1. The primary key is the SHA-256 hex digest of the session key, never the key itself, so a
   leaked table or backup holds no live credential. The raw key exists only in the cookie.
2. A ``user_id`` column (indexed) holds the user id found at SESSION_USER_ID_PATH in the
   session data, rewritten by every save, so "log out everywhere" is one DELETE.
3. A ``version`` column makes every save a compare-and-set (``session_engines.backends.base``):
   ``UPDATE ... WHERE session_key = %s AND version = %s``, so two requests saving one session at
   once both keep their changes; ``cycle_key()`` inserts the new row and deletes the old one in
   one transaction, at the save.

Queries: load = one SELECT; create = one INSERT; update = one UPDATE (a conflict costs one
SELECT and one UPDATE more); delete = one DELETE (Django's engine SELECTs the row first); a
re-login = one SELECT, then the INSERT and the DELETE in one transaction. With
``SESSION_POLICY["MAX_SESSIONS_PER_USER"]``, a user's new session and the deletion of their
oldest beyond the limit are one transaction (``lock_user()`` says what serialises them).
``clearsessions`` works as in Django. Needs ``session_engines`` in INSTALLED_APPS and its
migrations.

A database that is down, read-only after a failover or locked is an outage
(``SessionStoreUnavailable``, a 503 with Retry-After), never Django's "the session was deleted".
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import CreateError
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from ..exceptions import unavailable_on_outage
from ..ids import digest, session_id
from ..policy import session_limit
from .base import ConditionalSessionBase, Stored, VersionConflict


def lock_user(using, user_id):
    """Serialise one user's session creations until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the user id. SQLite: the INSERT that
    follows takes the database's one write lock. Other databases: the transaction's isolation
    only, so simultaneous sign-ins may leave more than the limit until the user's next one.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(digest(user_id)[:15], 16)])


class SessionStore(ConditionalSessionBase, db.SessionStore):
    operator = "session_engines.operators.db.DbOperator"  # sees and ends its sessions

    @classmethod
    def get_model_class(cls):
        from ..models import Session

        return Session

    @classmethod
    def clear_expired(cls):
        """Delete the expired rows (``manage.py clearsessions``), as Django's engine does."""
        count, _ = cls.get_model_class().objects.filter(expire_date__lt=timezone.now()).delete()
        cls._swept(count)

    def _row_values(self, data):
        return {
            "session_data": self.encode(data),
            "expire_date": self.get_expiry_date(),
            "user_id": self.model.indexed_user_id(data),
        }

    def _read(self, session_key):
        live = self.model.objects.filter(expire_date__gt=timezone.now())
        with unavailable_on_outage("session SELECT"):
            row = live.filter(session_key=session_id(session_key)).first()
        return None if row is None else Stored(self.decode(row.session_data), row.version)

    def _create_record(self, data, replacing):
        row = self.model(session_key=session_id(self.session_key), version=1)
        for name, value in self._row_values(data).items():
            setattr(row, name, value)
        using = router.db_for_write(self.model, instance=row)
        limit = session_limit(data) if row.user_id is not None else None
        with unavailable_on_outage("session INSERT"):
            try:
                with transaction.atomic(using=using):
                    if limit is not None:
                        lock_user(using, row.user_id)
                    row.save(force_insert=True, using=using)
                    if replacing is not None:  # written before the old row is deleted
                        self.model.objects.using(using).filter(
                            session_key=session_id(replacing)
                        ).delete()
                    ended = [] if limit is None else self._end_oldest(using, row, limit[1])
            except IntegrityError:
                raise CreateError from None
        self._revoked(ended, row.user_id)
        return 1

    def _end_oldest(self, using, row, limit):
        """Delete the user's sessions beyond ``limit`` but ``row``, soonest to expire first."""
        others = (
            self.model.objects.using(using)
            .filter(user_id=row.user_id, expire_date__gt=timezone.now())
            .exclude(pk=row.pk)
            .order_by("expire_date", "pk")
        )
        ids = list(others.values_list("pk", flat=True))
        ended = ids[: max(0, len(ids) - limit + 1)]
        if ended:
            self.model.objects.using(using).filter(pk__in=ended).delete()
        return ended

    def _update_record(self, data, version):
        rows = self.model.objects.filter(
            session_key=session_id(self.session_key),
            version=version,
            expire_date__gt=timezone.now(),  # never resurrect an expired row
        )
        with unavailable_on_outage("session UPDATE"):
            updated = rows.update(**self._row_values(data), version=version + 1)
        if not updated:
            raise VersionConflict  # re-read: gone (UpdateError) or saved meanwhile
        return version + 1

    def _delete_record(self, session_key):
        # One DELETE, by primary key, with no transaction around it (Django's engine fetches
        # the row first: two round trips).
        with unavailable_on_outage("session DELETE"):
            self.model(session_key=session_id(session_key)).delete()
