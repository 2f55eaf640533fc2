"""Prometheus metrics for the session store, fed by ``session_engines.signals``: optional,
``pip install django-aws-session-engines[prometheus]`` (prometheus-client).

Configuration: the ``SESSION_METRICS`` dict, read at use time, checked by
``session_engines.checks.metrics`` (E501-E506).

==============  ========  ==========================================================================
key             default   meaning
==============  ========  ==========================================================================
``ENABLED``     False     count (receivers connected in ``AppConfig.ready()``) and serve
                          ``metrics_view``; off, the view answers 404 and nothing is counted
``ADDRESSES``   []        client addresses or networks (``"10.0.0.0/8"``) that may scrape with no
                          token: ``REMOTE_ADDR``, the peer (behind a proxy, the proxy's address)
``TOKEN``       None      a scraper sending ``Authorization: Bearer <TOKEN>`` may scrape
==============  ========  ==========================================================================

Any other client gets a 403 JSON answer, unless it is signed in as a staff user. Mount the view
yourself: ``path("metrics", session_engines.metrics.metrics_view)``.

The metrics (label ``engine``: the engine's module, as in SESSION_ENGINE):

- ``session_store_operation_seconds`` (histogram; ``engine``, ``operation``: read, exists,
  create, update, delete): each store operation's duration, failed ones included.
- ``session_store_misses_total`` (``engine``): loads that found no session (unknown, expired,
  deleted; not the ``exists`` check of a fresh key, nor a failed read).
- ``session_write_conflicts_total`` (``engine``): compare-and-set writes retried because
  another request saved the session meanwhile.
- ``session_store_unavailable_total`` (``engine``, ``operation``; "unknown" outside one): 503
  answers for a store outage.
- ``sessions_created_total``, ``sessions_rotated_total`` (``engine``), ``sessions_ended_total``
  (``engine``, ``reason``: logout, expired, revoked).
- ``session_near_cache_requests_total`` (``engine``, ``result``: hit, miss).

Counters live in the process: gunicorn's workers each keep their own, so scrape each instance
with one worker, or set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode,
which this view then reads).
"""

import hmac
import ipaddress
import os
from functools import cache
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from . import signals
from .conf import setting

DEFAULTS: dict[str, Any] = {"ENABLED": False, "ADDRESSES": [], "TOKEN": None}

# Store operations take about a millisecond; a timeout, one or two seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def options() -> dict[str, Any]:
    """Return SESSION_METRICS over the defaults, read now (never at import)."""
    return DEFAULTS | setting("SESSION_METRICS", {})


@cache
def collectors():
    """Return the metrics, made once per process in prometheus-client's default registry."""
    from prometheus_client import Counter, Histogram

    engine = ["engine"]
    return {
        "seconds": Histogram(
            "session_store_operation_seconds",
            "Duration of each session store operation.",
            [*engine, "operation"],
            buckets=BUCKETS,
        ),
        "misses": Counter("session_store_misses", "Session reads that found no session.", engine),
        "conflicts": Counter(
            "session_write_conflicts", "Session writes retried after a conflict.", engine
        ),
        "unavailable": Counter(
            "session_store_unavailable",
            "503 answers for a session store outage.",
            [*engine, "operation"],
        ),
        "created": Counter("sessions_created", "Sessions created.", engine),
        "rotated": Counter("sessions_rotated", "Session keys rotated (sign-in).", engine),
        "ended": Counter("sessions_ended", "Sessions ended.", [*engine, "reason"]),
        "near_cache": Counter(
            "session_near_cache_requests",
            "Session reads answered (hit) or not (miss) by the near cache.",
            [*engine, "result"],
        ),
    }


def engine(sender):
    return sender.__module__


# --- receivers ---------------------------------------------------------------------------------


def operation_done(sender, operation, duration, found, **kwargs):
    metrics = collectors()
    metrics["seconds"].labels(engine(sender), operation).observe(duration)
    if operation == "read" and found is False:  # not "exists": a fresh key's check finds nothing
        metrics["misses"].labels(engine(sender)).inc()


def conflicted(sender, **kwargs):
    collectors()["conflicts"].labels(engine(sender)).inc()


def unavailable(sender, operation, **kwargs):
    collectors()["unavailable"].labels(engine(sender), operation or "unknown").inc()


def created(sender, **kwargs):
    collectors()["created"].labels(engine(sender)).inc()


def rotated(sender, **kwargs):
    collectors()["rotated"].labels(engine(sender)).inc()


def ended(sender, reason, count, **kwargs):
    collectors()["ended"].labels(engine(sender), reason).inc(count)


def near_cache_hit(sender, **kwargs):
    collectors()["near_cache"].labels(engine(sender), "hit").inc()


def near_cache_miss(sender, **kwargs):
    collectors()["near_cache"].labels(engine(sender), "miss").inc()


RECEIVERS = [
    (signals.store_operation, operation_done),
    (signals.write_conflict, conflicted),
    (signals.store_unavailable, unavailable),
    (signals.session_created, created),
    (signals.session_rotated, rotated),
    (signals.session_ended, ended),
    (signals.near_cache_hit, near_cache_hit),
    (signals.near_cache_miss, near_cache_miss),
]


def connect():
    """Count from now on (``AppConfig.ready()`` calls it when ENABLED)."""
    collectors()
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"session_engines.metrics.{receiver.__name__}")


def disconnect():
    for signal, receiver in RECEIVERS:
        signal.disconnect(receiver, dispatch_uid=f"session_engines.metrics.{receiver.__name__}")


# --- the endpoint ------------------------------------------------------------------------------


def allowed_address(address, allowed):
    """Return whether the client ``address`` is one of the ``allowed`` addresses or networks."""
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(entry, strict=False) for entry in allowed)


def has_token(request, token):
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(sent, token)


def may_scrape(request, opts):
    """Return whether ``request`` may read the metrics: an allowed address, the token, staff."""
    if allowed_address(request.META.get("REMOTE_ADDR", ""), opts["ADDRESSES"]):
        return True
    if has_token(request, opts["TOKEN"]):
        return True
    user = getattr(request, "user", None)  # with AuthenticationMiddleware: a session read
    return bool(user is not None and user.is_active and user.is_staff)


def registry():
    """Return the registry to expose: the process's, or every worker's in multiprocess mode."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined


@never_cache
def metrics_view(request):
    """Answer the Prometheus text format to an allowed scraper; 403 JSON to anyone else."""
    opts = options()
    if not opts["ENABLED"]:
        return JsonResponse({"error": "Not found."}, status=404)
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"error": "Use GET."}, status=405, headers={"Allow": "GET, HEAD"})
    if not may_scrape(request, opts):
        return JsonResponse({"error": "Not allowed to read the metrics."}, status=403)
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
