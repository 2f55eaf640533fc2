from django.apps import AppConfig


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Session engines"

    def ready(self):
        from . import redis_checks  # noqa: F401  (registers the Redis engines' system checks)
