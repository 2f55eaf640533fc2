"""Django's own session engines, unchanged: ``STOCK_SESSION_ENGINE`` names one (``db`` by
default; ``signed_cookies``, ``cache`` or ``cached_db``), the benchmark's points of comparison.

The cache-backed ones use the ``sessions`` cache (django-redis on REDIS_URL, configured in
base); ``db`` and ``cached_db`` use DATABASE_URL.
"""

import os

from .base import *  # noqa: F401,F403

SESSION_ENGINE = "django.contrib.sessions.backends." + os.environ.get("STOCK_SESSION_ENGINE", "db")
SESSION_CACHE_ALIAS = "sessions"
