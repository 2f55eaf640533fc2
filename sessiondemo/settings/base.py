"""Every setting lives here, driven by environment variables (cookiecutter-django style).

The engine modules beside this one (``db``, ``cache``, ``redis``, ``dynamodb``) set only what
differs.
Production hardening is switched on by ``DJANGO_DEBUG`` being off, not by a separate module,
so CI runs the same code paths as production.
"""

import os
import socket
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789"

# The ALB health checker sends Host: <target IP>; /healthz answers before host validation
# (accounts.middleware.healthz), so ALLOWED_HOSTS can stay strict.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "accounts.views.csrf_failure"  # JSON, like every other error

# Which server answered: the X-Served-By header and the web page show it.
INSTANCE_ID = os.environ.get("INSTANCE_ID") or socket.gethostname()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "session_engines",
    "accounts",
]

MIDDLEWARE = [
    "accounts.middleware.served_by",
    "accounts.middleware.json_errors",  # every error JSON, whoever answered it
    "accounts.middleware.healthz",
    # X-Session-Conflicts: outside SessionMiddleware, so it reads the count after the save.
    "accounts.middleware.session_conflicts",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's SessionMiddleware, plus a 503 JSON answer when the session store is down.
    "session_engines.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The benchmark's count of round trips to a database (harness.bench): X-Database-Queries.
if env_bool("DJANGO_COUNT_QUERIES"):
    MIDDLEWARE.insert(0, "accounts.middleware.database_queries")

ROOT_URLCONF = "sessiondemo.urls"
WSGI_APPLICATION = "sessiondemo.wsgi.application"
ASGI_APPLICATION = "sessiondemo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# SQLite file by default (one per instance: the "memory of one server" case);
# DATABASE_URL=postgres://... shares one database between instances (RDS-like).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sessions -------------------------------------------------------------------------------
# Django's db engine unless an engine module says otherwise. JSON only, never pickle.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(60 * 60 * 24 * 14)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Redis (ElastiCache): redis:// or rediss:// (in-transit encryption); AUTH in the URL.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_TIMEOUT = float(os.environ.get("REDIS_TIMEOUT", "1.0"))
# Sentinel: REDIS_SENTINELS="host:26379,host:26379,..."; REDIS_URL's host is then the
# monitored service name (redis://:password@mymaster/0). Empty: REDIS_URL is the server itself.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "sessiondemo")
REDIS_SENTINELS = [
    (host, int(port))
    for host, _, port in (item.rpartition(":") for item in env_list("REDIS_SENTINELS"))
]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # django-redis pickles by default; session data must never be unpickled.
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_TIMEOUT,
            # Never IGNORE_EXCEPTIONS: an outage must be a 503, not a silent logout.
            # One immediate retry, on a fresh connection, when the pooled one is dead (Redis
            # restarted) or answers READONLY (a failover demoted its node): reconnecting follows
            # the new primary (DNS endpoint or Sentinel). Timeouts are not retried, so an
            # outage costs one REDIS_TIMEOUT, then a 503.
            "CONNECTION_POOL_KWARGS": {
                "retry": Retry(
                    NoBackoff(), 1, supported_errors=(RedisConnectionError, ReadOnlyError)
                ),
            },
        },
    },
}
if REDIS_SENTINELS:
    # Every command goes to the primary Sentinel names (DefaultClient with one LOCATION, not
    # django-redis's SentinelClient, which reads from replicas): a session read must see the
    # write that created it.
    CACHES["sessions"]["OPTIONS"] |= {
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": REDIS_SENTINELS,
        "SENTINEL_KWARGS": {
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
            "password": os.environ.get("REDIS_SENTINEL_PASSWORD") or None,
            "retry": Retry(NoBackoff(), 0),
        },
    }

# A sharded Redis (ElastiCache Serverless, cluster mode enabled): REDIS_CLUSTER=1, REDIS_URL at
# any node or the cache's endpoint. Only the native engine runs there (django-redis has no
# cluster support), on its own cluster client.
REDIS_CLUSTER = env_bool("REDIS_CLUSTER")

# The native Redis engine (session_engines.backends.redis), on the "sessions" cache's pool, or
# its own cluster client on a cluster.
SESSION_REDIS = {
    "CACHE_ALIAS": "sessions",
    "KEY_PREFIX": REDIS_KEY_PREFIX + ":session",
    # WAIT for this many replicas after each write (0: off); SESSION_REDIS_WAIT_REPLICAS=1 on a
    # Multi-AZ replication group keeps acknowledged sessions through a failover.
    "WAIT_REPLICAS": int(os.environ.get("SESSION_REDIS_WAIT_REPLICAS", "0")),
    "WAIT_TIMEOUT_MS": int(os.environ.get("SESSION_REDIS_WAIT_TIMEOUT_MS", "100")),
    # SESSION_REDIS_NEAR_CACHE=10000: each process holds up to that many sessions and reads them
    # with no round trip, kept exact by Redis's invalidations (session_engines/near_cache.py).
    "NEAR_CACHE": (
        {"MAX_ENTRIES": int(os.environ["SESSION_REDIS_NEAR_CACHE"])}
        if os.environ.get("SESSION_REDIS_NEAR_CACHE")
        else None
    ),
}
if REDIS_CLUSTER:
    SESSION_REDIS |= {
        "URL": REDIS_URL,
        "CLUSTER": True,
        "CONNECTION_KWARGS": {
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
        },
    }

# DynamoDB (session_engines.backends.dynamodb). Credentials come from boto3's default chain only.
SESSION_DYNAMODB = {
    "TABLE_NAME": os.environ.get("SESSION_DYNAMODB_TABLE", "sessions"),
    "REGION_NAME": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
    "ENDPOINT_URL": os.environ.get("SESSION_DYNAMODB_ENDPOINT_URL") or None,
}

# Prometheus metrics at /metrics (session_engines.metrics): SESSION_METRICS=1 (needs the
# prometheus extra). Scrapers: SESSION_METRICS_ADDRESSES="10.0.0.0/16,..." with no token, or
# SESSION_METRICS_TOKEN as a bearer token; staff users too.
SESSION_METRICS = {
    "ENABLED": env_bool("SESSION_METRICS", default=False),
    "ADDRESSES": [a for a in os.environ.get("SESSION_METRICS_ADDRESSES", "").split(",") if a],
    "TOKEN": os.environ.get("SESSION_METRICS_TOKEN") or None,
}

# --- Production hardening: on whenever DEBUG is off -------------------------------------------
# The ALB terminates TLS and tells us with X-Forwarded-Proto.
# DJANGO_HTTPS=0 opts out for plain-HTTP demos on loopback only (HAProxy harness).
HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes and scrapers inside the VPC
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000")) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)
# Preloading is a commitment about a domain you own (hstspreload.org), so it stays opt-in and
# `check --deploy` is not asked to nag about it (security.W021) until it is turned on.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Where collectstatic writes; the image uses the default (/app/staticfiles), tests a temp dir.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or STATIC_ROOT)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # boto3 says where it found credentials on every client it makes: not news.
    "loggers": {"botocore": {"level": "WARNING"}},
}

# --- Sign-in (accounts: POST /auth/login) ------------------------------------------------------
# Who a session belongs to is django.contrib.auth's user (``_auth_user_id``, session_engines'
# default): the per-user index, /sessions and the admin follow it. The seed's UserInfo is
# unauthenticated demo state and never names an owner.
#
# Failed sign-ins are counted in the "throttle" cache (accounts.throttle): one every instance
# sees. Here the database's (shared with DATABASE_URL on PostgreSQL; on a SQLite file per
# instance, per instance); the Redis engines' modules put it on their Redis.
CACHES["throttle"] = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "accounts_throttle",  # made by accounts' migration 0001
}
AUTH_THROTTLE = {
    "CACHE_ALIAS": "throttle",
    "USERNAME_FAILURES": int(os.environ.get("AUTH_THROTTLE_USERNAME_FAILURES", "5")),
    "ADDRESS_FAILURES": int(os.environ.get("AUTH_THROTTLE_ADDRESS_FAILURES", "20")),
    "WINDOW_SECONDS": int(os.environ.get("AUTH_THROTTLE_WINDOW_SECONDS", "300")),
}
# How many proxies in front of us append the client's address to X-Forwarded-For (the ALB: 1,
# HAProxy in the harness: 1). 0 trusts REMOTE_ADDR only; more than there are lets clients
# choose their address.
TRUSTED_PROXY_HOPS = int(os.environ.get("DJANGO_TRUSTED_PROXY_HOPS", "0"))
