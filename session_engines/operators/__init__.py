"""See and end sessions, whatever the engine: one small protocol, one implementation per engine.

``get_operator()`` returns the operator for ``settings.SESSION_ENGINE``. Ids are never raw
session keys: they are the SHA-256 hex digest of the key (what our engines store), so an id can
be shown to an operator, logged or put in a URL without handing out a live credential.
"""

from __future__ import annotations

import builtins  # the Protocol's list() shadows list[...] in its body
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .. import signals

# Django's own engines cannot name their operator; ours do (``SessionStore.operator``).
DJANGO_ENGINES = {
    "django.contrib.sessions.backends.db": "session_engines.operators.db.DbOperator",
    "django.contrib.sessions.backends.cache": "session_engines.operators.cache.CacheOperator",
}


class NoOperator(ImproperlyConfigured):
    """SESSION_ENGINE is one this app cannot inspect (Django's file or signed-cookie engines)."""


class UserIndexUnavailable(Exception):
    """This engine keeps no per-user index (Django's cache-backed engine): say so plainly."""


@dataclass(frozen=True)
class SessionRecord:
    id: str  # ids.session_id(key), never the key
    user_id: str | None
    expires: datetime | None  # aware, UTC
    size: int  # bytes stored
    data: dict = field(default_factory=dict, repr=False)  # decoded session dict
    # The raw key, only from a store that holds raw keys (Django's engines), for the bulk copy's
    # lookups; never shown.
    key: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Page:
    records: list[SessionRecord]
    cursor: str | None  # pass back to list() for the next page; None at the end


class Operator(Protocol):
    supports_user_index: bool

    def __init__(self, session_engine: str | None = None):
        """Operate ``session_engine``'s sessions (None: settings.SESSION_ENGINE)."""

    def list(self, *, cursor: str | None = None, limit: int = 50) -> Page:
        """One page of live sessions. Every session appears exactly once across all pages."""

    def get(self, id: str) -> SessionRecord | None: ...

    def delete(self, id: str) -> bool:
        """End one session; True when it existed."""

    def for_user(self, user_id: str) -> builtins.list[SessionRecord]:
        """All live sessions of one user, from the index (UserIndexUnavailable without one)."""

    def delete_for_user(self, user_id: str) -> int:
        """End all of one user's sessions ("log out everywhere"); how many were ended."""


def operator_path(engine: str) -> str | None:
    """Return the dotted path of ``engine``'s operator class, or None when it has none."""
    if engine in DJANGO_ENGINES:
        return DJANGO_ENGINES[engine]
    try:
        store_class = import_string(f"{engine}.SessionStore")
    except ImportError:
        return None
    return getattr(store_class, "operator", None)


def has_operator() -> bool:
    """Return whether SESSION_ENGINE has an operator (Django's file and signed-cookie don't)."""
    return operator_path(settings.SESSION_ENGINE) is not None


def get_operator() -> Operator:
    """Return the operator of ``settings.SESSION_ENGINE`` (NoOperator when it has none), which
    signals the sessions it ends (``session_ended``, reason "revoked")."""
    engine = settings.SESSION_ENGINE
    return revoking(operator_class(engine))(engine)


class Revoking:
    """Signal the sessions an operator ends, once each: the operators it uses inside (the
    migrating engine's) and the engines they call send nothing."""

    _engine: str

    def __init__(self, session_engine=None):
        self._engine = session_engine or settings.SESSION_ENGINE
        super().__init__(session_engine)

    def delete(self, id):
        with signals.quiet():
            ended = super().delete(id)
        if ended:
            self._ended(session_id=id, count=1)
        return ended

    def delete_for_user(self, user_id):
        with signals.quiet():
            ended = super().delete_for_user(user_id)
        if ended:
            self._ended(session_id=None, count=ended)
        return ended

    def _ended(self, **arguments):
        sender = import_string(f"{self._engine}.SessionStore")
        signals.send(signals.session_ended, sender, reason="revoked", **arguments)


@cache
def revoking(operator_class):
    """Return ``operator_class`` with ``Revoking`` in front (one class per operator class)."""
    attributes = {"__module__": operator_class.__module__}
    return type(operator_class.__name__, (Revoking, operator_class), attributes)


def operator_for(engine: str) -> Operator:
    """Return the operator of ``engine``, configured or not (NoOperator when it has none); it
    signals nothing (the bulk copy's moves are no revokes)."""
    return operator_class(engine)(engine)


def operator_class(engine: str) -> type:
    """Return the operator class of ``engine`` (NoOperator when it has none)."""
    path = operator_path(engine)
    if path is None:
        raise NoOperator(f"No session operator for {engine!r}")
    return import_string(path)
