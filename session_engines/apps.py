from django.apps import AppConfig


class SessionEnginesConfig(AppConfig):
    name = "session_engines"
    verbose_name = "Session engines"
