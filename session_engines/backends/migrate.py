"""Switch session engines without logging anyone out: ``SESSION_ENGINE =
"session_engines.backends.migrate"`` while sessions move from one store to another.

Configuration: ``SESSION_MIGRATE = {"FROM": <engine>, "TO": <engine>}``, read at use time and
checked by ``session_engines.checks.migrate``. FROM is the engine the site ran on: any engine
that keeps sessions by key (Django's ``db``, ``cache``, ``cached_db``, ``file``, or one of ours).
TO is one of ours built on the compare-and-set (``db``, ``redis``, ``dynamodb``).

- **Reads**: the new store first, then the old. A session found only in the old store *moves*:
  it is created in the new store (a conditional create), then deleted from the old one, in the
  same request; written before deleted, never the reverse. Its expiry restarts at the move, as
  a save would restart it.
- **The cookie is only ever a key**: each store is asked for the cookie's value the way its
  own engine looks a key up (ours hash it; Django's take it as is), and nothing read from a
  store is ever used as a key. A session id (a key's digest) sent as a cookie finds nothing.
- **Writes** go to the new store only, with its guarantees (``session_engines.backends.base``):
  every save a compare-and-set, key rotation writing before it deletes, nothing resurrected.
- **Logout** (``delete``, ``flush``) ends the session in both stores; so do revoke and "log
  out everywhere" (``session_engines.operators.migrate``).

Two requests moving one session at once: the second create fails (``CreateError``) and that
request reads the first one's copy instead. A logout or revoke that ends the old session
between a move's read and its create would be undone by the copy, so a move checks that the old
session still exists after its create: when it is gone, the copy is deleted and the session is
gone too. A delete of the old session that fails (an outage) leaves it in both stores; the new
one is read first, and a logout ends both.

Deploying it: every instance at once (blue/green), never beside instances still on FROM: an
instance on FROM cannot see a session the migrating engine has moved, and answers as if it
were logged out. ``manage.py sessions migrate`` then moves the sessions no request has read
(``session_engines.migration``), and a rolling deploy to TO alone ends the migration.

Cost per request, besides what the TO engine costs: a session already moved, none; a request
with no session cookie, none; a cookie the new store does not know (not moved yet, or unknown),
one read of the old store; a move (once per session), a create in the new store, then an
exists and a delete in the old one. A logout: one delete in each store.
"""

from typing import Any

from django.contrib.sessions.backends.base import CreateError
from django.utils.module_loading import import_string

from .. import signals
from ..conf import setting
from ..exceptions import unavailable_on_outage
from .base import ConditionalSessionBase, Stored

DEFAULTS: dict[str, Any] = {"FROM": None, "TO": None}


def options() -> dict[str, Any]:
    """Return SESSION_MIGRATE over the defaults, read now (never at import)."""
    return DEFAULTS | setting("SESSION_MIGRATE", {})


# Django's own cache engine takes any error on load for "no session": read through it, a
# store outage would log the user out. Ours reads the same keys and raises the outage (a 503).
STRICT_READERS = {"django.contrib.sessions.backends.cache": "session_engines.backends.cache"}


def store_classes():
    """Return the (old, new) engines' SessionStore classes."""
    opts = options()
    old = STRICT_READERS.get(opts["FROM"], opts["FROM"])
    return (import_string(f"{old}.SessionStore"), import_string(f"{opts['TO']}.SessionStore"))


class SessionStore(ConditionalSessionBase):
    operator = "session_engines.operators.migrate.MigrateOperator"  # sees and ends both

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self.old_class, new_class = store_classes()
        self.new = new_class()  # the new store's engine: every read, write and delete

    def _new(self, data=None):
        """Return the new store's engine on this session's key and data (its expiry)."""
        self.new._session_key = self._session_key
        self.new._session_cache = {} if data is None else data
        return self.new

    # --- the store operations, on the new store (and, for reads and deletes, the old) -------

    def _read(self, session_key):
        stored = self._new()._read(session_key)
        if stored is None:
            with signals.quiet():  # a move is this engine's read, not the old engine's deletes
                stored = self._move(session_key)
        return stored

    def _create_record(self, data, replacing):
        return self._new(data)._create_record(data, replacing)

    def _update_record(self, data, version):
        return self._new(data)._update_record(data, version)

    def _delete_record(self, session_key):
        self._new()._delete_record(session_key)
        with signals.quiet(), old_store("delete"):  # one session ended, signalled once
            self.old_class().delete(session_key)

    def exists(self, session_key):
        # No move: only whether either store has it.
        if not session_key:
            return False
        with signals.operation(self, "exists") as operation, signals.quiet():
            found = self._new()._read(session_key) is not None
            if not found:
                with old_store("exists"):
                    found = self.old_class().exists(session_key)
            operation.found = found
        return found

    @classmethod
    def clear_expired(cls):
        """Delete the expired sessions of both stores."""
        for store_class in store_classes():
            store_class.clear_expired()

    # --- the move ------------------------------------------------------------------------------

    def _move(self, session_key):
        """Move the session ``session_key`` from the old store to the new; its Stored or None."""
        old = self.old_class(session_key)
        with old_store("load"):
            data = old.load()  # the old engine's own lookup: expiry checked, the cookie a key
        if old.session_key is None:
            return None  # in neither store
        mover = type(self.new)(session_key)
        mover._session_cache = data  # its expiry (_session_expiry) comes with it
        try:
            version = mover._create_record(data, None)
        except CreateError:  # another request moved it first: its copy is the session
            return self._new()._read(session_key)
        with old_store("exists"):
            ended = not self.old_class().exists(session_key)
        if ended:  # (a logout, a revoke) after we read it: the copy must not bring it back
            mover._delete_record(session_key)
            return None
        with old_store("delete"):
            old.delete(session_key)  # the new copy is written: now the old one goes
        return Stored(data, version)


def old_store(what):
    """An outage of the old store (any engine's, Django's own too) as SessionStoreUnavailable."""
    return unavailable_on_outage(f"the old session store's {what}")
