"""The migrating engine, ``session_engines.backends.migrate``: sessions move from
SESSION_MIGRATE_FROM (default: Django's own db engine, the demo's base) to SESSION_MIGRATE_TO
(default: the native Redis engine) as they are read; ``manage.py sessions migrate`` moves the
rest. Deploy it to every instance at once (blue/green), then roll to the TO engine alone.
"""

import os

from .base import *  # noqa: F401,F403

SESSION_ENGINE = "session_engines.backends.migrate"
SESSION_MIGRATE = {
    "FROM": os.environ.get("SESSION_MIGRATE_FROM", "django.contrib.sessions.backends.db"),
    "TO": os.environ.get("SESSION_MIGRATE_TO", "session_engines.backends.redis"),
}
