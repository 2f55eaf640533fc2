"""Our native Redis session engine, ``session_engines.backends.redis``: the recommended one.

One round trip per load, create, update and delete; keys are SHA-256 digests; a per-user index.
It uses the ``sessions`` cache's connection pool (REDIS_URL, REDIS_TIMEOUT, REDIS_SENTINELS in
base); SESSION_REDIS in base holds the rest.
"""

from .base import *  # noqa: F401,F403
from .base import CACHES, REDIS_KEY_PREFIX

SESSION_ENGINE = "session_engines.backends.redis"

# Failed sign-ins counted on the same Redis, so every instance sees them (accounts.throttle).
CACHES = {
    **CACHES,
    "throttle": {**CACHES["sessions"], "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:throttle"},
}
