"""Signals for what operators watch: sessions created, rotated and ended, store operations,
write conflicts, outages, the near cache's hits and misses.

Every ``session_id`` is the session's id, the SHA-256 digest of its key (``ids.session_id``),
never the key. The sender is the engine's ``SessionStore`` class (``engine_of``): connect with
``sender=session_engines.backends.redis.SessionStore`` to hear one engine only.

==========================  ================================================  ===================
signal                      arguments                                         sent when
==========================  ================================================  ===================
``session_created``         ``session_id``                                    a new session is
                                                                              written
``session_rotated``         ``old_session_id``, ``session_id``                a new key replaces
                                                                              the old (login)
``session_ended``           ``session_id`` (None for several), ``reason``     deleted: "logout",
                            ("logout", "expired", "revoked"), ``count``       "expired" (policy,
                                                                              clearsessions),
                                                                              "revoked" (operator,
                                                                              session limit)
``write_conflict``          ``session_id``, ``attempt`` (1, 2, ...)           a compare-and-set
                                                                              found the version
                                                                              moved: retried
``store_unavailable``       ``operation``, ``exception``                      the middleware
                                                                              answers 503
``store_operation``         ``operation`` ("read", "exists", "create",        each store call,
                            "update", "delete"), ``duration`` (seconds),      ended or failed
                            ``found`` (reads: bool; else None)
``near_cache_hit``          ``session_id``                                    the near cache
``near_cache_miss``         ``session_id``                                    answers / cannot
==========================  ================================================  ===================

Sending costs nothing without receivers (``has_listeners``). ``quiet()`` silences every signal
in its block: an engine that runs another engine's operations inside its own (the migrating
engine) sends them once, as its own.
"""

import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from django.dispatch import Signal

from .exceptions import SessionStoreUnavailable

session_created = Signal()
session_rotated = Signal()
session_ended = Signal()
write_conflict = Signal()
store_unavailable = Signal()
store_operation = Signal()
near_cache_hit = Signal()
near_cache_miss = Signal()

ENDED_REASONS = ("logout", "expired", "revoked")

_quiet: ContextVar[bool] = ContextVar("session_engines_quiet", default=False)
_timing: ContextVar[bool] = ContextVar("session_engines_timing", default=False)


@contextmanager
def quiet():
    """Send no signal inside the block."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


@contextmanager
def ending(store, reason):
    """Have ``store``'s deletes in the block signal ``session_ended`` with ``reason``."""
    store.ending = reason
    try:
        yield
    finally:
        del store.ending  # the class's again: "logout"


@cache
def engine_of(store_class):
    """Return the engine class ``store_class`` is or derives from: the first class in its MRO
    that its module names ``SessionStore`` (not the policy's or a test's subclass)."""
    for klass in store_class.__mro__:
        if getattr(sys.modules.get(klass.__module__), "SessionStore", None) is klass:
            return klass
    return store_class


def send(signal, sender, **arguments):
    """Send ``signal`` from ``sender`` (a store, its class, or an operator), unless quiet."""
    if not signal.receivers or _quiet.get():
        return
    if not isinstance(sender, type):
        sender = type(sender)
    sender = engine_of(sender)
    if signal.has_listeners(sender):
        signal.send(sender=sender, **arguments)


class Operation:
    """A store operation being timed; set ``found`` on a read."""

    found: bool | None = None


class operation:  # noqa: N801 (used as a function: ``with signals.operation(store, name)``)
    """Time the store operation ``name`` in the block, and send ``store_operation`` after it.

    A failure is timed too (``found`` None) and a ``SessionStoreUnavailable`` is marked with
    the operation's name, for ``store_unavailable``. Operations nested in it (an engine's
    inside another's) are timed as part of it, not sent apart. A class, not a generator: it
    runs at every store operation, and costs a third as much.
    """

    __slots__ = ("store", "name", "result", "token", "started")

    def __init__(self, store, name):
        self.store, self.name, self.result = store, name, Operation()
        self.token = None

    def __enter__(self):
        if store_operation.receivers and not _timing.get():
            self.token, self.started = _timing.set(True), time.perf_counter()
        return self.result

    def __exit__(self, kind, exc, traceback):
        if self.token is None:  # nested, or nobody times it: no clock
            if not store_operation.receivers and isinstance(exc, SessionStoreUnavailable):
                exc.operation = self.name  # the outermost operation's: its exit runs last
            return
        if isinstance(exc, SessionStoreUnavailable) and getattr(exc, "operation", None) is None:
            exc.operation = self.name
        _timing.reset(self.token)
        duration = time.perf_counter() - self.started
        found = self.result.found
        send(store_operation, self.store, operation=self.name, duration=duration, found=found)
