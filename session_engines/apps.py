from django.apps import AppConfig
from django.core import checks
from django.core.signals import got_request_exception


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Sessions"

    def ready(self):
        from . import policy as session_policy
        from .checks import SESSIONS, dynamodb, metrics, migrate, policy, redis
        from .middleware import mark_store_error

        checks.register(dynamodb.check_dynamodb_settings, SESSIONS)
        checks.register(redis.check_redis_settings, SESSIONS)
        checks.register(migrate.check_migrate_settings, SESSIONS)
        checks.register(redis.check_session_caches, checks.Tags.caches)
        checks.register(policy.check_policy_settings, SESSIONS)
        checks.register(metrics.check_metrics_settings, SESSIONS)
        got_request_exception.connect(mark_store_error, dispatch_uid="session_engines")
        self.connect_auth_signals(session_policy)
        self.connect_metrics()

    def connect_metrics(self):
        """Feed the Prometheus metrics from the signals, when SESSION_METRICS enables them."""
        from . import metrics
        from .checks import missing_library

        enabled = metrics.options()["ENABLED"] is True
        if enabled and not missing_library("prometheus_client"):  # else E506 says so
            metrics.connect()

    def connect_auth_signals(self, session_policy):
        """Connect the sign-in, sign-out and password-change receivers (with auth installed)."""
        from django.apps import apps

        if not apps.is_installed("django.contrib.auth"):
            return
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_init, post_save

        user_logged_in.connect(session_policy.signed_in, dispatch_uid="session_engines")
        user_logged_out.connect(session_policy.signed_out, dispatch_uid="session_engines")
        user_model = get_user_model()
        uid = "session_engines.password"
        post_init.connect(session_policy.remember_password, sender=user_model, dispatch_uid=uid)
        post_save.connect(session_policy.password_saved, sender=user_model, dispatch_uid=uid)
