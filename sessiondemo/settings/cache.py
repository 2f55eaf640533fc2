"""Django's cache-backed session engine on django-redis (ElastiCache for Redis).

REDIS_URL (redis:// or rediss://, AUTH in the URL), REDIS_TIMEOUT and REDIS_SENTINELS configure
the ``sessions`` cache in base. The engine is Django's cache engine with one change
(``session_engines.backends.cache``): Django's own turns a Redis outage into a silent logout,
ours into a 503 with Retry-After. ``redis`` is the recommended Redis engine (fewer round trips,
hashed keys, a per-user index); this one is the design card's original choice.
"""

from .base import *  # noqa: F401,F403
from .base import CACHES, REDIS_KEY_PREFIX

SESSION_ENGINE = "session_engines.backends.cache"
SESSION_CACHE_ALIAS = "sessions"

# Failed sign-ins counted on the same Redis, so every instance sees them (accounts.throttle).
CACHES = {
    **CACHES,
    "throttle": {**CACHES["sessions"], "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:throttle"},
}
