"""What our key-value engines share: Django's SessionBase, paying the fewest writes.

Django's defaults cost extra round trips on a remote store: a new key is checked with an
``exists()`` read before it is written, and ``cycle_key()`` writes the new key with empty data
and then writes it again with the data. Here a new key is created by the conditional write
itself (a collision fails it: ``CreateError``, then another key), and ``cycle_key()`` deletes the
old key and leaves the new one for the save that follows, which creates it once.

Subclasses implement ``_write(data, must_create)``: one conditional write that creates only a
new key (``CreateError`` otherwise) or updates only an existing one (``UpdateError``
otherwise, so a session deleted elsewhere is never resurrected).
"""

from django.contrib.sessions.backends.base import (
    VALID_KEY_CHARS,
    CreateError,
    SessionBase,
    UpdateError,
)
from django.utils.crypto import get_random_string


class ConditionalSessionBase(SessionBase):
    _unwritten = False  # the key came from cycle_key(): the next save creates it

    def _write(self, data, must_create):
        raise NotImplementedError("subclasses of ConditionalSessionBase must provide _write()")

    def _get_new_session_key(self):
        # No exists() read: the conditional write that creates the key catches a collision.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self):
        return self._get_new_session_key()

    def create(self):
        self._session_key = self._get_new_session_key()
        self._create()

    def _create(self):
        while True:
            try:
                self.save(must_create=True)
            except CreateError:
                self._session_key = self._get_new_session_key()  # a collision: another key
                continue
            self._unwritten = False
            self.modified = True
            return

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        if self._unwritten and not must_create:
            return self._create()
        data = self._get_session(no_load=must_create)
        if self.session_key is None:  # loading found nothing: deleted or expired meanwhile
            raise UpdateError
        self._write(data, must_create)

    def cycle_key(self):
        old_key = self._rekey(self._session)
        if old_key:
            self.delete(old_key)

    async def acycle_key(self):
        old_key = self._rekey(await self._aget_session())
        if old_key:
            await self.adelete(old_key)

    def _rekey(self, data):
        """Keep ``data`` under a new key for the next save() to create; the old key."""
        old_key = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._unwritten = True
        self.modified = True
        return old_key
