"""Sessions in a database: ``session_engines.backends.db`` (indexed) or Django's own db engine.

For ``session_engines.backends.db`` the primary key already is the id (the key's digest) and the
``user_id`` column is the per-user index: every call is one or two indexed queries, and pages
are keyset-paginated on the primary key (the cursor is the last id of the page).

Django's plain ``django.contrib.sessions.backends.db`` stores raw keys and no user: it can be
listed (the cursor is an offset, so a key never leaves the database, not even in a URL),
and one session found by its id by hashing each key in turn; there is no per-user index
(``for_user`` raises UserIndexUnavailable: switch to ``session_engines.backends.db``).
"""

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from ..ids import encodable, session_id
from ..users import user_id_of
from . import Page, SessionRecord, UserIndexUnavailable


class DbOperator:
    def __init__(self, session_engine=None):
        self.store_class = import_string(
            f"{session_engine or settings.SESSION_ENGINE}.SessionStore"
        )
        self.model = self.store_class.get_model_class()
        # session_engines.backends.db keys rows by the digest and keeps the user id in a column.
        self.supports_user_index = hasattr(self.model, "indexed_user_id")

    def _live(self):
        return self.model.objects.filter(expire_date__gt=timezone.now())

    def _record(self, row):
        data = self.store_class().decode(row.session_data)
        return SessionRecord(
            id=row.session_key if self.supports_user_index else session_id(row.session_key),
            user_id=row.user_id if self.supports_user_index else user_id_of(data),
            expires=row.expire_date,
            size=len(row.session_data.encode()),
            data=data,
            key=None if self.supports_user_index else row.session_key,
        )

    def list(self, *, cursor=None, limit=50):
        rows = self._live().order_by("pk")
        if self.supports_user_index:
            if cursor:
                rows = rows.filter(pk__gt=cursor)
            rows = list(rows[:limit])
            next_cursor = rows[-1].pk if len(rows) == limit else None
        else:
            if cursor is not None and not cursor.isdigit():
                raise ValueError(f"Not a cursor: {cursor!r}")
            offset = int(cursor or 0)
            rows = list(rows[offset : offset + limit])
            next_cursor = str(offset + limit) if len(rows) == limit else None
        return Page(records=[self._record(row) for row in rows], cursor=next_cursor)

    def _row(self, id):
        if self.supports_user_index:
            return self._live().filter(pk=id).first()
        # Raw keys in the table: hash them one by one (read-only-ish, fine for an operator).
        for row in self._live().iterator(chunk_size=500):
            if session_id(row.session_key) == id:
                return row
        return None

    def get(self, id):
        row = self._row(id)
        return None if row is None else self._record(row)

    def delete(self, id):
        if self.supports_user_index:
            pk = id  # one DELETE
        else:
            row = self._row(id)
            if row is None:
                return False
            pk = row.pk
        deleted, _ = self.model.objects.filter(pk=pk).delete()
        return deleted > 0

    def _user_rows(self, user_id):
        if not self.supports_user_index:
            raise UserIndexUnavailable(
                f"{settings.SESSION_ENGINE} keeps no per-user index; "
                "use session_engines.backends.db."
            )
        if not encodable(user_id):  # never indexed (models.Session.indexed_user_id)
            return self.model.objects.none()
        return self._live().filter(user_id=user_id)

    def for_user(self, user_id):
        return [self._record(row) for row in self._user_rows(user_id).order_by("expire_date")]

    def delete_for_user(self, user_id):
        deleted, _ = self._user_rows(user_id).delete()
        return deleted
