"""See and end sessions, whatever the engine: one small protocol, one implementation per engine.

``get_operator()`` returns the operator for ``settings.SESSION_ENGINE``. Ids are never raw
session keys: they are the SHA-256 hex digest of the key (what our engines store), so an id can
be shown to an operator, logged or put in a URL without handing out a live credential.
"""

from __future__ import annotations  # the Protocol's list() shadows list[...] in its body

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

# SESSION_ENGINE -> the operator class for it.
OPERATORS = {
    "django.contrib.sessions.backends.db": "session_engines.operators.db.DbOperator",
    "session_engines.db": "session_engines.operators.db.DbOperator",
    "django.contrib.sessions.backends.cache": "session_engines.operators.cache.CacheOperator",
    "session_engines.cache": "session_engines.operators.cache.CacheOperator",
    "session_engines.redis": "session_engines.operators.redis.RedisOperator",
    "session_engines.dynamodb": "session_engines.operators.dynamodb.DynamoDBOperator",
}


class NoOperator(ImproperlyConfigured):
    """SESSION_ENGINE is one this app cannot inspect (Django's file or signed-cookie engines)."""


class UserIndexUnavailable(Exception):
    """This engine keeps no per-user index (Django's cache-backed engine): say so plainly."""


def session_id(session_key):
    """The non-secret id of a session: the SHA-256 hex digest of its key."""
    return hashlib.sha256(session_key.encode()).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    id: str  # session_id(key), never the key
    user_id: str | None
    expires: datetime | None  # aware, UTC
    size: int  # bytes stored
    data: dict = field(default_factory=dict, repr=False)  # decoded session dict


@dataclass(frozen=True)
class Page:
    records: list[SessionRecord]
    cursor: str | None  # pass back to list() for the next page; None at the end


class Operator(Protocol):
    supports_user_index: bool

    def list(self, *, cursor: str | None = None, limit: int = 50) -> Page:
        """One page of live sessions. Every session appears exactly once across all pages."""

    def get(self, id: str) -> SessionRecord | None: ...

    def delete(self, id: str) -> bool:
        """End one session; True when it existed."""

    def for_user(self, user_id: str) -> list[SessionRecord]:
        """All live sessions of one user, from the index (UserIndexUnavailable without one)."""

    def delete_for_user(self, user_id: str) -> int:
        """End all of one user's sessions ("log out everywhere"); how many were ended."""


def get_operator() -> Operator:
    try:
        path = OPERATORS[settings.SESSION_ENGINE]
    except KeyError:
        message = f"No session operator for {settings.SESSION_ENGINE!r}"
        raise NoOperator(message) from None
    return import_string(path)()
