"""session_engines.backends.db (Django's db engine, digest-keyed, user-indexed) on SQLite or
DATABASE_URL.

One SQLite file per instance is one server's memory: behind a round-robin load balancer
the session is lost. Point DATABASE_URL at one PostgreSQL to share it.
"""

from .base import *  # noqa: F401,F403

SESSION_ENGINE = "session_engines.backends.db"
