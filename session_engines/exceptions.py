"""The two errors engines raise, and the one place that decides what counts as an outage.

Engines and operators translate their store's failures into ``SessionStoreUnavailable``; the
middleware and the management commands only ever catch that (and ``SessionTooLarge``).
"""

from functools import cache

from django.utils.module_loading import import_string


class SessionStoreUnavailable(Exception):
    """The session store could not be reached or refused the request for now (retry later).

    Engines raise it instead of the store's own errors; the middleware answers 503.
    """


class SessionTooLarge(Exception):
    """The session does not fit in the store's item size limit; nothing was written.

    Not retryable: the middleware answers a 507 JSON error (and logs it).
    """


# The store errors that mean "unavailable, retry later", for the stores reached through
# Django's cache and database layers. Each is imported only if its library is installed.
OUTAGES = (
    "redis.exceptions.RedisError",  # down, timed out, READONLY, out of memory, ...
    "redis.exceptions.RedisClusterException",  # a slot with no primary (mid-failover), ...
    "django_redis.exceptions.ConnectionInterrupted",
    "django.db.utils.OperationalError",  # down, locked, read-only after a failover
    "django.db.utils.InterfaceError",
)


@cache
def outage_errors():
    """Return the tuple of store exception classes that mean the store is unavailable."""
    errors = []
    for path in OUTAGES:
        try:
            errors.append(import_string(path))
        except ImportError:
            pass
    return tuple(errors)


class unavailable_on_outage:  # noqa: N801 (used as a function: ``with unavailable_on_outage(what)``)
    """Raise ``SessionStoreUnavailable`` for a store outage inside the block; ``what`` says
    which operation failed. A class, not a generator: it runs at every cache and database
    operation, and costs a third as much."""

    __slots__ = ("what",)

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return None

    def __exit__(self, kind, exc, traceback):
        if exc is not None and isinstance(exc, outage_errors()):
            raise SessionStoreUnavailable(f"{self.what} failed: {exc}") from exc


class SessionConflict(SessionStoreUnavailable):
    """Other requests kept saving the session while this one retried its save: retry later.

    Rare: each retry re-reads the session, so it takes many concurrent writers in a row.
    """
