"""What our engines share: versioned, conditional writes that never lose a concurrent update.

Behind a round-robin load balancer, two requests of one session run at the same moment on two
instances; each loads the session, changes it and saves it. Django's engines write the whole
session back, so the later save silently drops the earlier one's changes. Here:

- **Each request's own changes are tracked**: the keys it set (by any path, including mutating a
  nested value and setting ``modified``: what differs from what was loaded, key by key), the keys
  it deleted, and whether it cleared the session.
- **A save is a compare-and-set** on a version stored with the session. When the version moved
  (another request saved meanwhile), the engine takes the session as it now is, re-applies this
  request's own changes on top and writes again, up to ``conflict_retries`` times
  (``SessionConflict`` then: a retryable 503). Two requests that set the same key: the later
  write wins. A save that changed nothing (``SESSION_SAVE_EVERY_REQUEST``) refreshes the expiry
  and keeps everyone else's keys.
- **No extra round trip without a conflict**: a new key is created by the conditional write
  itself (a collision fails it: ``CreateError``, then another key), with no ``exists()`` read.
- **Key rotation writes before it deletes**: ``cycle_key()`` (Django's ``login()``) keeps the
  data for the next save, which creates the new key and deletes the old one in one atomic write.
  A rotation that fails (the store refuses writes) leaves the old session intact: a 503, never a
  logout.
- A session deleted elsewhere (logout, revoke) is never resurrected: ``UpdateError``.

Engines implement four store operations: ``_read(key)`` -> ``Stored`` or None;
``_create_record(data, replacing)`` -> the new version (``CreateError`` on a taken key);
``_update_record(data, version)`` -> the new version (``VersionConflict`` when the stored version
is not ``version``, ``UpdateError`` when the session is gone); ``_delete_record(key)``.
"""

import json
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import (
    VALID_KEY_CHARS,
    CreateError,
    SessionBase,
    UpdateError,
)
from django.utils.crypto import get_random_string

from .. import signals
from ..exceptions import SessionConflict, SessionStoreUnavailable
from ..ids import session_id
from ..policy import log


class Stored(NamedTuple):
    """A session as the store holds it: its decoded data and its version, and the JSON text the
    data was decoded from when the engine has it (fingerprinted only if the session is saved)."""

    data: dict
    version: int
    source: str | None = None


class VersionConflict(Exception):
    """The stored version moved since it was read. ``current`` is the session as it now is,
    when the store handed it back with the refusal (None: read it again)."""

    def __init__(self, current: Stored | None = None):
        super().__init__("the session was saved by another request meanwhile")
        self.current = current


# One encoder for every fingerprint: json.dumps with options builds a new one at each call.
FINGERPRINT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def fingerprint(value: Any) -> str:
    """Return a stable text form of a session value, to tell whether it changed."""
    try:
        return FINGERPRINT.encode(value)
    except (TypeError, ValueError):
        return repr(value)


def fingerprints(data: dict) -> dict[str, str]:
    """Return {key: fingerprint} of a session's values."""
    return {key: fingerprint(value) for key, value in data.items()}


class ExpiryAge(SessionBase):
    """``get_expiry_age()`` without reading the clock when no date asks for it."""

    def get_expiry_age(self, **kwargs):
        # Django's reads the clock first, though only an expiry set as a date needs it: on
        # every save, and again in SessionMiddleware for the cookie's max-age.
        if kwargs:
            return super().get_expiry_age(**kwargs)
        expiry = self.get("_session_expiry")
        if not expiry:
            return self.get_session_cookie_age()
        if isinstance(expiry, int):  # seconds of idleness
            return expiry
        return super().get_expiry_age()


class ConditionalSessionBase(ExpiryAge):
    conflict_retries = 10  # write conflicts one save may retry before SessionConflict
    ending = "logout"  # why delete() ends a session, for session_ended (the policy: "expired")

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._forget_loaded()
        self._rotated_from = None  # the key cycle_key() replaced: deleted by the next save
        self._unwritten = False  # the key came from cycle_key(): the next save creates it
        self.conflicts = 0  # write conflicts the last save retried

    # --- the store operations, one per engine --------------------------------------------

    def _read(self, session_key: str) -> Stored | None:
        raise NotImplementedError

    def _create_record(self, data: dict, replacing: str | None) -> int:
        raise NotImplementedError

    def _update_record(self, data: dict, version: int) -> int:
        raise NotImplementedError

    def _delete_record(self, session_key: str) -> None:
        raise NotImplementedError

    def _store(self, name, method, *args):
        """Run one store operation, timed for ``signals.store_operation`` when it has receivers;
        an outage is marked with the operation's name either way (``store_unavailable``)."""
        if not signals.store_operation.receivers:  # nobody times it: skip the clock
            try:
                return method(*args)
            except SessionStoreUnavailable as exc:
                exc.operation = name  # the outermost operation's: its handler runs last
                raise
        with signals.operation(self, name) as operation:
            result = method(*args)
            if name in ("read", "exists"):
                operation.found = result is not None
        return result

    @classmethod
    def _swept(cls, count):
        """Signal the ``count`` expired sessions ``clear_expired()`` deleted."""
        if count:
            signals.send(signals.session_ended, cls, session_id=None, reason="expired", count=count)

    def _revoked(self, ids, user):
        """Log and signal the sessions a new one ended (the per-user session limit)."""
        for id in ids:
            log("revoked", id=id, user=user, by="session-limit")
            signals.send(signals.session_ended, self, session_id=id, reason="revoked", count=1)

    # --- what this request loaded and changed ----------------------------------------------

    def _forget_loaded(self):
        self._fingerprints = {}  # key -> fingerprint of its value as loaded (or last written)
        self._source = None  # or the JSON text they are computed from, when first needed
        self._version = None  # the stored version those values have
        self._cleared = False

    def _remember(self, data, version, source=None):
        # A request that only reads never needs the fingerprints: with the JSON text loaded,
        # they are computed from it at the first save, not at every load; after a write, from
        # the JSON the engine just wrote, if its ``encode`` kept it (``_written``: (data, text)).
        written, self._written = getattr(self, "_written", None), None
        if source is None and written is not None and written[0] is data:
            source = written[1]
        self._source = source
        self._fingerprints = None if source else fingerprints(data)
        self._version = version
        self._cleared = False

    @property
    def _loaded(self):
        """Return {key: fingerprint} of the session as loaded or last written."""
        if self._fingerprints is None:
            self._fingerprints = fingerprints(json.loads(self._source))
        return self._fingerprints

    def _own_changes(self, data):
        """Return (cleared, the keys set with their values, the keys deleted) by this request."""
        changed = {k: v for k, v in data.items() if self._loaded.get(k) != fingerprint(v)}
        return self._cleared, changed, set(self._loaded) - set(data)

    def _reapplied(self, current, data):
        """Return ``current`` (as another request left it) with this request's changes on top."""
        cleared, changed, deleted = self._own_changes(data)
        merged = {} if cleared else dict(current)
        for key in deleted:
            merged.pop(key, None)
        return merged | changed

    def clear(self):
        super().clear()
        self._cleared = True

    def flush(self):
        self.clear()
        self.delete()
        if self._rotated_from is not None:  # flushed after cycle_key(): the old key goes too
            self.delete(self._rotated_from)
        self._session_key = None
        self._forget_loaded()
        self._rotated_from, self._unwritten = None, False

    async def aflush(self):
        await sync_to_async(self.flush)()

    # --- Django's contract -----------------------------------------------------------------

    def load(self):
        stored = (
            None if self.session_key is None else self._store("read", self._read, self.session_key)
        )
        if stored is None:
            # Unknown or expired: an empty session with no key, and nothing written.
            self._session_key = None
            self._forget_loaded()
            return {}
        self._remember(stored.data, stored.version, stored.source)
        return stored.data

    def exists(self, session_key):
        return bool(session_key) and self._store("exists", self._read, session_key) is not None

    def _get_new_session_key(self):
        # No exists() read: the conditional write that creates the key catches a collision.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self):
        return self._get_new_session_key()

    def create(self):
        self._session_key = self._get_new_session_key()
        self._create()

    def _create(self):
        """Create the session under its key, or under another one after a collision."""
        while True:
            try:
                return self._create_once()
            except CreateError:
                self._session_key = self._get_new_session_key()

    def _create_once(self):
        data, replaced = self._get_session(no_load=True), self._rotated_from
        version = self._store("create", self._create_record, data, replaced)  # CreateError
        self._rotated_from, self._unwritten = None, False
        self._remember(data, version)
        self.modified = True
        if replaced is None:
            if signals.session_created.receivers:  # no digest for nobody
                signals.send(signals.session_created, self, session_id=session_id(self.session_key))
        elif signals.session_rotated.receivers:
            old, new = session_id(replaced), session_id(self.session_key)
            signals.send(signals.session_rotated, self, old_session_id=old, session_id=new)

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        if must_create:
            return self._create_once()
        if self._unwritten:
            return self._create()
        data = self._get_session()
        if self.session_key is None:  # loading found nothing: deleted or expired meanwhile
            raise UpdateError
        self.conflicts = 0
        version = self._version  # None: never read (data set directly): read it first
        while True:
            try:
                if version is None:
                    raise VersionConflict
                version = self._store("update", self._update_record, data, version)
                break
            except VersionConflict as conflict:
                current = conflict.current or self._store("read", self._read, self.session_key)
                if current is None:
                    raise UpdateError from None  # deleted elsewhere: never resurrect it
                if version is not None:
                    self.conflicts += 1
                    signals.send(
                        signals.write_conflict,
                        self,
                        session_id=session_id(self.session_key),
                        attempt=self.conflicts,
                    )
                    if self.conflicts > self.conflict_retries:
                        message = f"the session changed under {self.conflicts} saves in a row"
                        raise SessionConflict(message) from None
                data, version = self._reapplied(current.data, data), current.version
        self._session_cache = data
        self._remember(data, version)

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self._store("delete", self._delete_record, session_key)
        if not signals.session_ended.receivers:  # no digest for nobody
            return
        if session_key != self.session_key or not self._unwritten:  # not a key never written
            id = session_id(session_key)
            signals.send(signals.session_ended, self, session_id=id, reason=self.ending, count=1)

    def cycle_key(self):
        self._rotate(self._session)

    async def acycle_key(self):
        self._rotate(await self._aget_session())

    def _rotate(self, data):
        """Keep ``data`` under a new key; the next save creates it and deletes the old one."""
        if not self._unwritten:  # rotating twice before a save: the first key still stands
            self._rotated_from = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._unwritten = True
        self.modified = True

    # Async: the same operations, run in a thread (our stores' clients are synchronous).

    async def aload(self):
        return await sync_to_async(self.load)()

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)

    async def acreate(self):
        return await sync_to_async(self.create)()

    async def asave(self, must_create=False):
        return await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        return await sync_to_async(self.delete)(session_key)
