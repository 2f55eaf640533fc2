"""The settings mypy's django-stubs plugin loads to type-check ``session_engines`` (no demo)."""

SECRET_KEY = "mypy-only-not-a-secret"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "session_engines",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
SESSION_ENGINE = "session_engines.backends.db"
