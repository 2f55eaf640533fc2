"""The session policy, enforced on the server for every engine: ``SESSION_POLICY``.

=========================================  =============  ====================================
key                                        default        meaning
=========================================  =============  ====================================
``IDLE_TIMEOUT``                           None           seconds without a request after
                                                          which a session ends; None: off
``ABSOLUTE_TIMEOUT``                       None           seconds after sign-in (after creation
                                                          for a session nobody signed in to)
                                                          after which it ends, however active,
                                                          whatever ``set_expiry()`` said
``LAST_SEEN_INTERVAL``                     60             last-seen is rewritten at most once
                                                          per this many seconds
``END_OTHER_SESSIONS_ON_PASSWORD_CHANGE``  False          a saved password change ends all the
                                                          user's sessions in the store (the one
                                                          ``update_session_auth_hash`` rotates
                                                          lives on under its new key)
``MAX_SESSIONS_PER_USER``                  None           at most this many sessions per user:
                                                          a new one ends the soonest-expiring
                                                          others in the same atomic write
``CLIENT_ADDRESS``                         "truncated"    "full", "truncated" (/24, /48), "none"
=========================================  =============  ====================================

How. ``session_engines.middleware.SessionMiddleware`` builds each request's session from
``enforcing(SessionStore)``, the engine's class with ``PolicyMixin`` in front: when the session
loads (lazily, as ever: a request that never touches it pays nothing), a session past either
timeout is flushed and reads as signed out (empty, the user anonymous, the cookie deleted),
never an error; a live one gets its last-seen rewritten when it is ``LAST_SEEN_INTERVAL`` old
(so a read-only request writes at most once per interval, and a rejected one, answered 4xx,
never does; the idle time is counted from that coarse mark, so a session may end up to
``LAST_SEEN_INTERVAL`` early, never late). The expiry the engine stores and the cookie's
Max-Age are capped at the absolute deadline.
``session_engines.devices`` holds the record under ``_session_engines``; the sign-in, sign-out
and password-change hooks are signal receivers connected in ``AppConfig.ready()``. The per-user
limit is applied by the engines themselves, inside the write that creates a session
(``session_limit()``). The clock is ``now()``: tests patch it.
"""

import logging
import time
from datetime import timedelta
from functools import cache

from asgiref.sync import sync_to_async
from django.utils import timezone

from . import devices, signals
from .conf import setting
from .display import safe_text
from .ids import session_id
from .users import auth_user_id, user_id_of

DEFAULTS = {
    "IDLE_TIMEOUT": None,
    "ABSOLUTE_TIMEOUT": None,
    "LAST_SEEN_INTERVAL": 60,
    "END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": False,
    "MAX_SESSIONS_PER_USER": None,
    "CLIENT_ADDRESS": "truncated",
}
ADDRESS_MODES = ("full", "truncated", "none")

logger = logging.getLogger("session_engines")


def options():
    """Return SESSION_POLICY over the defaults, read now (never at import)."""
    return DEFAULTS | setting("SESSION_POLICY", {})


def now():
    """Return the policy's clock: epoch seconds, an int (tests patch this function)."""
    return int(time.time())


def log(event, *, key=None, id=None, user=None, **fields):
    """Log one lifecycle event: the session's id (the key's digest, never the key), the user."""
    parts = [f"session {event}", f"id={id or (session_id(key) if key else '-')}"]
    parts.append(f"user={'-' if user is None else safe_text(user, 100)}")
    parts += [f"{name}={safe_text(value, 100)}" for name, value in fields.items()]
    logger.info(" ".join(parts))


def _number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def started(record):
    """Return when the absolute timeout starts counting: sign-in, else creation (or None)."""
    start = record.get("signed_in", record.get("created"))
    return start if _number(start) else None


def expired_by(record, opts, at):
    """Return "absolute" or "idle" when the session with ``record`` is over at ``at``."""
    start, seen = started(record), record.get("seen")
    if opts["ABSOLUTE_TIMEOUT"] is not None and start is not None:
        if at - start >= opts["ABSOLUTE_TIMEOUT"]:
            return "absolute"
    if opts["IDLE_TIMEOUT"] is not None and _number(seen):
        if at - seen >= opts["IDLE_TIMEOUT"]:
            return "idle"
    return None


def session_limit(session_data):
    """Return ``(user id, MAX_SESSIONS_PER_USER)`` when a session of a user is limited."""
    limit = options()["MAX_SESSIONS_PER_USER"]
    user_id = None if limit is None else user_id_of(session_data)
    return None if user_id is None else (user_id, limit)


class PolicyMixin:
    """The policy on an engine's ``SessionStore``: put in front of it by ``enforcing()``."""

    def load(self):
        data = super().load()
        if not data:
            return data
        at, record = now(), devices.record_of(data)
        if not record:  # written before the policy, or outside the middleware: start counting
            self._stamp(data, {"created": at, "seen": at})
            return data
        why = expired_by(record, options(), at)
        if why is not None:
            log("expired", key=self.session_key, user=user_id_of(data), policy=why)
            with signals.ending(self, "expired"):
                self.flush()  # deleted in the store; empty, keyless: signed out
            return {}
        seen = record.get("seen")
        if not _number(seen) or at - seen >= options()["LAST_SEEN_INTERVAL"]:
            self._stamp(data, {**record, "seen": at})
        return data

    # ``changed``: whether anything but the policy's own stamp (last-seen, a first record) was
    # modified since the last save. The middleware writes a stamp alone only for a request
    # that succeeded: a rejected one (4xx) leaves the stored session as it was.
    @property
    def modified(self):
        return self._modified

    @modified.setter
    def modified(self, value):
        self._modified = self.changed = value

    def _stamp(self, data, record):
        data[devices.STAMP] = record
        self._modified = True  # to be saved, yet not ``changed``

    async def aload(self):
        return await sync_to_async(self.load)()

    def seconds_left(self, **kwargs):
        """Return the seconds until the absolute deadline, or None when there is none.

        None too when asked about a given ``expiry`` (an engine checking a stored date) or
        before the session is loaded (it never loads it).
        """
        timeout, loaded = options()["ABSOLUTE_TIMEOUT"], getattr(self, "_session_cache", None)
        if timeout is None or loaded is None or "expiry" in kwargs:
            return None
        start = started(devices.record_of(loaded))
        return None if start is None else max(0, start + timeout - now())

    def get_expiry_age(self, **kwargs):
        age = super().get_expiry_age(**kwargs)
        left = self.seconds_left(**kwargs)
        return age if left is None else min(age, left)

    def get_expiry_date(self, **kwargs):
        date = super().get_expiry_date(**kwargs)
        left = self.seconds_left(**kwargs)
        return date if left is None else min(date, timezone.now() + timedelta(seconds=left))

    def cycle_key(self):
        old = self.session_key
        super().cycle_key()
        self._log_rotation(old)

    async def acycle_key(self):
        old = self.session_key
        await super().acycle_key()
        self._log_rotation(old)

    def _log_rotation(self, old):
        if old is not None:
            user = user_id_of(self._session)
            log("rotated", key=self.session_key, user=user, previous=session_id(old))

    def stamp_new(self, request):
        """Record the device of a session that is about to be written for the first time."""
        record = devices.record_of(self._session)
        if "agent" not in record:
            fresh = devices.new_record(request, at=now(), address_mode=options()["CLIENT_ADDRESS"])
            self[devices.STAMP] = fresh | record


@cache
def enforcing(store_class):
    """Return ``store_class`` with the policy applied (one class per engine class)."""
    return type(store_class.__name__, (PolicyMixin, store_class), {"__module__": __name__})


# --- signal receivers, connected in AppConfig.ready() ---------------------------------------


def signed_in(sender, request, user, **kwargs):
    """Start the session's record afresh at sign-in (``login()`` has just given it a new key)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    at = now()
    record = devices.new_record(request, at=at, address_mode=options()["CLIENT_ADDRESS"])
    session[devices.STAMP] = record | {"signed_in": at}
    log("signed-in", key=session.session_key, user=auth_user_id(user))


def signed_out(sender, request, user, **kwargs):
    """Log a sign-out (``logout()`` flushes the session next)."""
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        log(
            "signed-out", key=session.session_key, user=None if user is None else auth_user_id(user)
        )


def remember_password(sender, instance, **kwargs):
    """Keep the password hash a user was loaded with (unless deferred: never a query)."""
    instance._session_engines_password = instance.__dict__.get("password")


def password_saved(sender, instance, created, raw=False, **kwargs):
    """End every session of a user whose new password was just saved, when the policy says so.

    Connected to the user model's ``post_save``: auth has no password-changed signal, and a
    saved hash that differs from the loaded one is a password change whoever made it (a view,
    the admin, ``changepassword``, a shell). The request that changed it, if any, keeps its
    session when it calls ``update_session_auth_hash()``: its session lives on under the new key
    that call gives it, written at the end of the request.
    """
    loaded = getattr(instance, "_session_engines_password", None)
    current = instance.__dict__.get("password")
    instance._session_engines_password = current
    if created or raw or loaded is None or current == loaded:
        return
    if not options()["END_OTHER_SESSIONS_ON_PASSWORD_CHANGE"]:
        return
    from .operators import get_operator

    user_id = auth_user_id(instance)
    ended = get_operator().delete_for_user(user_id)
    log("revoked", user=user_id, by="password-change", ended=ended)
