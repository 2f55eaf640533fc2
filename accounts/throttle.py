"""Failed sign-ins counted per username and per client address, in a cache every instance sees.

Configuration, read at use time::

    AUTH_THROTTLE = {
        "CACHE_ALIAS": "throttle",  # shared: Redis when the engine uses it, else the database
        "USERNAME_FAILURES": 5,  # failures per username ...
        "ADDRESS_FAILURES": 20,  # ... and per client address (offices share one) ...
        "WINDOW_SECONDS": 300,  # ... counted from the first failure, for this long
    }

A scope (one username, or one client address) that reaches its limit is locked for
WINDOW_SECONDS: every sign-in in it answers 429 with Retry-After, the right password too, and
no password is checked. A success clears its username's count, never its address's (signing in
to one known account must not reset an attacker's address).

Keys: ``signin:<scope>:<value>`` holds the count (its TTL the window, set by the first
failure), ``signin-lock:<scope>:<value>`` the time the lock ends. Usernames are keyed by the
SHA-256 of their case-folded form, so "Alice" and "alice" share a count and no username is
stored; IPv6 addresses by their /64 (one host usually holds a whole /64).

The client address is the one the outermost trusted proxy saw (``client_address``).
"""

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

DEFAULTS = {
    "CACHE_ALIAS": "throttle",
    "USERNAME_FAILURES": 5,
    "ADDRESS_FAILURES": 20,
    "WINDOW_SECONDS": 300,
}
# What an unreachable throttle cache raises: django-redis, redis-py, the database cache.
OUTAGES = (ConnectionInterrupted, RedisError, DatabaseError)


class ThrottleUnavailable(Exception):
    """The throttle's cache cannot be read or written: sign-in is refused (503), not unguarded."""


def options():
    configured = getattr(settings, "AUTH_THROTTLE", {})
    if unknown := set(configured) - set(DEFAULTS):
        raise ValueError(f"AUTH_THROTTLE: unknown keys {sorted(unknown)}")
    return {**DEFAULTS, **configured}


def client_address(request):
    """Return the client's IP address as the outermost trusted proxy saw it.

    Each of the TRUSTED_PROXY_HOPS proxies in front of us (the ALB; HAProxy in the harness)
    appends the address it was connected from to X-Forwarded-For, so the entry that many from
    the end is the outermost one's, and the first one a client cannot forge: whatever comes
    before it is the client's own text. With no trusted proxy, or a header too short to have
    passed through them all, or an entry that is not an address: REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    entries = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if hops and len(entries) >= hops:
        try:
            return str(ipaddress.ip_address(entries[-hops].strip()))
        except ValueError:
            pass
    return remote


@dataclass(frozen=True)
class Scope:
    key: str
    limit: int


def scopes(*, username, address):
    """Return the username's scope and the address's, with their limits."""
    config = options()
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()
    scope = [Scope(f"username:{digest}", config["USERNAME_FAILURES"])]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return scope  # no address (a test client without REMOTE_ADDR): the username's only
    network = ipaddress.ip_network(f"{ip}/64", strict=False) if ip.version == 6 else ip
    return [*scope, Scope(f"address:{network}", config["ADDRESS_FAILURES"])]


def _cache():
    return caches[options()["CACHE_ALIAS"]]


def locked_for(*, username, address):
    """Return the seconds until a sign-in is allowed again (0: allowed now)."""
    keys = [f"signin-lock:{scope.key}" for scope in scopes(username=username, address=address)]
    try:
        ends = _cache().get_many(keys).values()
    except OUTAGES as exc:
        raise ThrottleUnavailable(exc) from exc
    return max((seconds_until(end) for end in ends), default=0)


def record_failure(*, username, address):
    """Count one failed sign-in in each scope; return the seconds locked (0: not locked)."""
    cache, window = _cache(), options()["WINDOW_SECONDS"]
    locked = 0
    try:
        for scope in scopes(username=username, address=address):
            count_key = f"signin:{scope.key}"
            cache.add(count_key, 0, timeout=window)  # the window starts at the first failure
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between add and incr: a new window
                cache.set(count_key, count := 1, timeout=window)
            if count >= scope.limit:
                cache.set(f"signin-lock:{scope.key}", time.time() + window, timeout=window)
                locked = window
    except OUTAGES as exc:
        raise ThrottleUnavailable(exc) from exc
    return locked


def record_success(*, username):
    """Forget the username's failures (the address's stay counted)."""
    (scope, *_) = scopes(username=username, address="")
    try:
        _cache().delete(f"signin:{scope.key}")
    except OUTAGES as exc:
        raise ThrottleUnavailable(exc) from exc


def seconds_until(end):
    return max(1, math.ceil(end - time.time()))
