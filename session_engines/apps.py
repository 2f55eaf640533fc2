from django.apps import AppConfig
from django.core.signals import got_request_exception


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Sessions"

    def ready(self):
        from . import checks, redis_checks  # noqa: F401 -- register the system checks
        from .middleware import mark_store_error

        got_request_exception.connect(mark_store_error, dispatch_uid="session_engines")
