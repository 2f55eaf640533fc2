"""Django's db session engine on a SQLite file (or DATABASE_URL). Needs no server.

One SQLite file per instance is one server's memory: behind a round-robin load balancer
the session is lost. Point DATABASE_URL at one PostgreSQL to share it.
"""

from .base import *  # noqa: F401,F403
