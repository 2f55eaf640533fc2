"""The app's own test settings: Django's contrib apps, session_engines, nothing of any project.

Like django-axes' tests/settings.py. The stores are started by fixtures (conftest.py), which
point the ``sessions`` cache, SESSION_DYNAMODB and the ``postgres`` database at them.
"""

SECRET_KEY = "session-engines-tests-not-a-secret-0123456789abcdef0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "session_engines",
]

MIDDLEWARE = [
    "session_engines.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.session_engines.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# "postgres" is set up only for the tests that use it (the db-postgres engine), on a server
# the fixtures start; TEST_SESSION_DATABASE says where session_engines' model lives meanwhile.
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "postgres": {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres", "USER": "postgres"},
}
DATABASE_ROUTERS = ["tests.session_engines.helpers.SessionDatabaseRouter"]
TEST_SESSION_DATABASE = "default"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_ENGINE = "session_engines.backends.db"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the test redis-server's URL, set by fixtures
        "KEY_PREFIX": "tests",
        "OPTIONS": {
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": 1.0,
            "SOCKET_TIMEOUT": 1.0,
        },
    },
}
SESSION_REDIS = {"CACHE_ALIAS": "sessions", "KEY_PREFIX": "tests:session"}
SESSION_DYNAMODB = {"TABLE_NAME": "sessions", "REGION_NAME": "us-east-1"}

STATIC_URL = "static/"
