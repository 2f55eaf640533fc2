"""See and end the sessions of ``session_engines.backends.migrate``: the new store's, then the
old store's, through each engine's own operator.

Pages list the new store, then the old one (the cursor says which: ``new:<cursor>`` or
``old:<cursor>``); a session that moves while the walk runs may show up twice, or (moved from
the old store's unwalked part into the walked part of the new) not at all. ``get`` looks in both,
``delete`` and "log out everywhere" end the session in both. A user's sessions in an old store
without a per-user index (Django's engines) are found by walking that store: slower, and only
while the migration runs (the bulk copy empties nothing, but the moves and expiry shrink it).
"""

from ..backends import migrate
from . import Page, operator_for

STORES = ("new", "old")


class MigrateOperator:
    def __init__(self, session_engine=None):
        opts = migrate.options()
        self.new, self.old = operator_for(opts["TO"]), operator_for(opts["FROM"])
        self.supports_user_index = self.new.supports_user_index

    def list(self, *, cursor=None, limit=50):
        store, _, position = (cursor or "new:").partition(":")
        if store not in STORES:
            raise ValueError(f"Not a cursor: {cursor!r}")
        page = getattr(self, store).list(cursor=position or None, limit=limit)
        if page.cursor is not None:
            return Page(records=page.records, cursor=f"{store}:{page.cursor}")
        return Page(records=page.records, cursor="old:" if store == "new" else None)

    def get(self, id):
        return self.new.get(id) or self.old.get(id)

    def delete(self, id):
        ended_new, ended_old = self.new.delete(id), self.old.delete(id)
        return ended_new or ended_old

    def _old_for_user(self, user_id):
        if self.old.supports_user_index:
            return self.old.for_user(user_id)
        records, cursor = [], None
        while True:  # no index in the old store: walk it
            page = self.old.list(cursor=cursor, limit=500)
            records += [record for record in page.records if record.user_id == user_id]
            cursor = page.cursor
            if cursor is None:
                return records

    def for_user(self, user_id):
        records = self.new.for_user(user_id)
        seen = {record.id for record in records}
        return records + [r for r in self._old_for_user(user_id) if r.id not in seen]

    def delete_for_user(self, user_id):
        ended = self.new.delete_for_user(user_id)
        return ended + sum(self.old.delete(record.id) for record in self._old_for_user(user_id))
