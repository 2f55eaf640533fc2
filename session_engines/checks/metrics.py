"""System checks for ``SESSION_METRICS`` (E501-E506), run whenever the app is installed."""

import ipaddress

from django.conf import settings
from django.core import checks

from . import missing_library

OBJ = "settings.SESSION_METRICS"


def error(message, id, hint=None):
    return checks.Error(message, hint=hint, obj=OBJ, id=f"session_engines.{id}")


def is_network(value):
    """Return whether ``value`` is an IP address or network, as text."""
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def check_metrics_settings(app_configs=None, **kwargs):
    """Return the errors in SESSION_METRICS."""
    from ..metrics import DEFAULTS

    value = getattr(settings, "SESSION_METRICS", {})
    keys = f"The keys are: {', '.join(DEFAULTS)}."
    if not isinstance(value, dict):
        return [error("SESSION_METRICS must be a dict.", "E501", keys)]
    errors = []
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        errors.append(error(f"SESSION_METRICS has unknown keys: {unknown}.", "E502", keys))
    opts = DEFAULTS | value
    if not isinstance(opts["ENABLED"], bool):
        errors.append(error("SESSION_METRICS['ENABLED'] must be True or False.", "E503"))
    addresses = opts["ADDRESSES"]
    if not isinstance(addresses, list | tuple) or not all(map(is_network, addresses)):
        hint = 'A list of client addresses or networks, e.g. ["127.0.0.1", "10.0.0.0/8"].'
        errors.append(
            error(f"SESSION_METRICS['ADDRESSES'] = {addresses!r} is invalid.", "E504", hint)
        )
    token = opts["TOKEN"]
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        hint = "None (no token), or a secret of at least 16 characters from the environment."
        errors.append(
            error("SESSION_METRICS['TOKEN'] must be None or 16+ characters.", "E505", hint)
        )
    if opts["ENABLED"] is True and missing_library("prometheus_client"):
        hint = "pip install django-aws-session-engines[prometheus]"
        errors.append(
            error("SESSION_METRICS is enabled but prometheus-client is missing.", "E506", hint)
        )
    return errors
