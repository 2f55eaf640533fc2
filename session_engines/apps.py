"""Django session engines for running behind a load balancer on AWS.

A reusable app: add ``session_engines`` to INSTALLED_APPS and point SESSION_ENGINE at
``session_engines.dynamodb``. It never imports the project that uses it.
"""

from django.apps import AppConfig


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Session engines"

    def ready(self):
        from . import checks, redis_checks  # noqa: F401 -- register the system checks
