"""Django's cache-backed session engine on django-redis (ElastiCache for Redis).

REDIS_URL (redis:// or rediss://, AUTH in the URL) and REDIS_TIMEOUT configure the
``sessions`` cache in base.
"""

from .base import *  # noqa: F401,F403

SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "sessions"
