from django.apps import AppConfig
from django.core import checks
from django.core.signals import got_request_exception


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Sessions"

    def ready(self):
        from .checks import SESSIONS, dynamodb, migrate, redis
        from .middleware import mark_store_error

        checks.register(dynamodb.check_dynamodb_settings, SESSIONS)
        checks.register(redis.check_redis_settings, SESSIONS)
        checks.register(migrate.check_migrate_settings, SESSIONS)
        checks.register(redis.check_session_caches, checks.Tags.caches)
        got_request_exception.connect(mark_store_error, dispatch_uid="session_engines")
