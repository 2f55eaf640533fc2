"""What the app's tests share: the engine table, the stores as they are at rest, signed-in clients.

ENGINES is the one list of engines: the contract suite (test_contract.py), the operator, admin,
view and command tests all run on it through the fixtures in conftest.py, so a new engine joins
every one of them by one line here. Capabilities an engine lacks (Django's cache engine keeps
raw keys and no per-user index) are said in its line, never skipped.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django.utils.module_loading import import_string

from harness.redis import wait_until
from session_engines.ids import session_id
from session_engines.operators import operator_for

# --- The stores, as the tests see them at rest -------------------------------------------------


class SessionDatabaseRouter:
    """Keep session_engines' model in settings.TEST_SESSION_DATABASE (the db-postgres engine)."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label == "session_engines":
            return settings.TEST_SESSION_DATABASE
        return None

    db_for_write = db_for_read


class Database:
    """session_engines.backends.db's table, on one of the test databases."""

    def __init__(self, alias):
        self.alias = alias
        self.databases = sorted({"default", alias})

    def start(self, request, settings):
        settings.TEST_SESSION_DATABASE = self.alias

    @property
    def rows(self):
        from session_engines.models import Session

        return Session.objects.all()

    def count(self):
        return self.rows.count()

    def dump(self):
        return repr(list(self.rows.values_list()))

    def expire(self, session_key):
        past = timezone.now() - timedelta(seconds=10)
        self.rows.filter(session_key=session_id(session_key)).update(expire_date=past)

    def corrupt(self, session_key):
        self.rows.filter(session_key=session_id(session_key)).update(session_data="not:signed")


def use_redis(settings, url):
    """Point the ``sessions`` cache (and so both Redis engines) at the Redis server at ``url``."""
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {**settings.CACHES["sessions"], "LOCATION": url},
    }


class Redis:
    """The test redis-server (or valkey-server) behind the ``sessions`` cache, emptied for each
    test. A test that takes ``redis_url`` gets its server: Redis, then Valkey."""

    databases = ["default"]

    def __init__(self, server="redis"):
        self.server = server

    def start(self, request, settings):
        from django_redis import get_redis_connection

        settings.SESSION_CACHE_ALIAS = "sessions"
        if self.server == "redis" and "redis_url" in request.fixturenames:
            url = request.getfixturevalue("redis_url")
        else:
            url = request.getfixturevalue(f"{self.server}_server_url")
        use_redis(settings, url)
        self.client = get_redis_connection("sessions")
        self.client.flushdb()

    def keys(self, session_key=None):
        """Every key holding a session (``session_key``'s only, by its digest or raw key)."""
        keys = [k for k in self.client.scan_iter() if self.client.type(k) == b"string"]
        if session_key is None:
            return keys
        names = (session_key.encode(), session_id(session_key).encode())
        return [k for k in keys if any(name in k for name in names)]

    def count(self):
        return len(self.keys())

    def dump(self):
        values = []
        for key in self.client.scan_iter():
            kind = self.client.type(key)
            value = self.client.get(key) if kind == b"string" else self.client.zrange(key, 0, -1)
            values.append(repr((key, value)))
        return " ".join(values)

    def expire(self, session_key):
        # Redis expires a key itself: an expired session is one its TTL has run out on.
        for key in self.keys(session_key):
            self.client.pexpire(key, 1)
        wait_until(lambda: not self.keys(session_key))  # gone once read past its TTL

    def corrupt(self, session_key):
        for key in self.keys(session_key):
            self.client.set(key, "not:signed", keepttl=True)


def use_redis_cluster(settings, cluster, **options):
    """Point the native Redis engine at ``cluster`` in cluster mode, emptied."""
    from session_engines.backends import redis

    settings.SESSION_REDIS = {
        "URL": cluster.url,
        "CLUSTER": True,
        "KEY_PREFIX": "tests:session",
        **options,
    }
    redis._clients.clear()  # a new client: the slot map as the cluster now has it
    cluster.wait_healthy()
    cluster.flush()


class RedisCluster(Redis):
    """The test session's Redis Cluster (3 primaries, 3 replicas), in cluster mode, emptied."""

    def start(self, request, settings):
        from session_engines.backends import redis

        self.cluster = request.getfixturevalue("redis_cluster")
        use_redis_cluster(settings, self.cluster)
        self.client = redis.connection()  # a RedisCluster: SCAN on every primary


def use_table(settings, *, endpoint_url, **options):
    """Point SESSION_DYNAMODB at a new, uniquely named table on ``endpoint_url``."""
    name = f"sessions-{uuid.uuid4().hex[:12]}"
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    settings.SESSION_DYNAMODB = {
        "TABLE_NAME": name,
        "REGION_NAME": "us-east-1",
        "ENDPOINT_URL": endpoint_url,
        **options,
    }
    return name


def create_plain_table(name, *, key):
    """A table with only a partition key (as the engine's first version made, with key "pk")."""
    from session_engines.backends import dynamodb

    dynamodb.get_client().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class DynamoDB:
    """A fresh table as createsessiontable makes it, on one DynamoDB implementation."""

    databases = ["default"]

    def __init__(self, implementation):
        self.implementation = implementation  # moto (in-process), moto-server, dynalite

    def start(self, request, settings):
        from session_engines import dynamodb_table
        from session_engines.backends import dynamodb

        request.getfixturevalue("fake_credentials")
        if self.implementation == "moto":
            request.getfixturevalue("aws")
            endpoint_url = None
        else:
            endpoint_url = request.getfixturevalue(f"{self.implementation.replace('-', '_')}_url")
        self.table = use_table(settings, endpoint_url=endpoint_url)
        client = dynamodb.get_client()
        dynamodb_table.create_table(client, self.table)
        dynamodb_table.wait_active(client, self.table, delay=0.05, timeout=10)
        request.addfinalizer(lambda: client.delete_table(TableName=self.table))

    def items(self):
        from session_engines.backends import dynamodb

        return dynamodb.call("scan", ConsistentRead=True)["Items"]

    def count(self):
        return len(self.items())

    def dump(self):
        return repr(self.items())

    def item(self, session_key):
        from session_engines.backends import dynamodb

        key = dynamodb.key_of(session_key)
        return dynamodb.call("get_item", Key=key, ConsistentRead=True).get("Item")

    def put(self, session_key, **attributes):
        from session_engines.backends import dynamodb

        dynamodb.call("put_item", Item={**self.item(session_key), **attributes})

    def expire(self, session_key):
        # TTL deletes items up to days late: the item stays, past its expiry.
        self.put(session_key, expires={"N": str(int(time.time()) - 5)})

    def corrupt(self, session_key):
        self.put(session_key, data={"S": "not:signed"})


class DjangoDatabase:
    """Django's own db engine's table (django_session), which holds raw keys."""

    databases = ["default"]

    def start(self, request, settings):
        pass

    @property
    def rows(self):
        from django.contrib.sessions.models import Session

        return Session.objects.all()

    def count(self):
        return self.rows.count()

    def dump(self):
        return repr(list(self.rows.values_list()))

    def expire(self, session_key):
        past = timezone.now() - timedelta(seconds=10)
        self.rows.filter(session_key=session_key).update(expire_date=past)

    def corrupt(self, session_key):
        self.rows.filter(session_key=session_key).update(session_data="not:signed")


class Migrating:
    """Both stores of session_engines.backends.migrate: FROM's (old) and TO's (new)."""

    def __init__(self, old_engine, old, new_engine, new):
        self.old_engine, self.old, self.new_engine, self.new = old_engine, old, new_engine, new
        self.databases = sorted({*old.databases, *new.databases})

    def start(self, request, settings):
        self.old.start(request, settings)
        self.new.start(request, settings)
        settings.SESSION_MIGRATE = {"FROM": self.old_engine, "TO": self.new_engine}

    def count(self):
        return self.old.count() + self.new.count()

    def dump(self):
        return f"{self.old.dump()} {self.new.dump()}"

    def expire(self, session_key):
        self.old.expire(session_key)
        self.new.expire(session_key)

    def corrupt(self, session_key):
        self.old.corrupt(session_key)
        self.new.corrupt(session_key)


# --- The engines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    backend: str  # SESSION_ENGINE
    store: object  # Database, Redis or DynamoDB: starts the store, reads it at rest
    hashes_keys: bool = True  # only the key's digest is at rest (Django's cache engine: the key)
    logs_corrupt_data: bool = True  # unreadable data is logged as a SuspiciousSession
    user_index: bool = True  # the operator finds a user's sessions
    # Versioned compare-and-set saves, and cycle_key() writing the new key before it deletes the
    # old one, at the save (Django's cache engine: neither; it deletes the old key at once).
    compare_and_set: bool = True
    marks: tuple = field(default=())  # names of pytest marks (pytest.ini registers them)


DJANGO_DB = "django.contrib.sessions.backends.db"
REDIS = "session_engines.backends.redis"

# One line per engine: every cross-engine test runs on each.
ENGINES = {
    "db": Engine("session_engines.backends.db", Database("default")),
    "db-postgres": Engine("session_engines.backends.db", Database("postgres"), marks=("postgres",)),
    "cache": Engine(
        "session_engines.backends.cache",
        Redis(),
        hashes_keys=False,  # Django's cache engine: the key names the cache entry
        logs_corrupt_data=False,  # undecodable cache data resets the session silently, as Django
        user_index=False,
        compare_and_set=False,
    ),
    "redis": Engine("session_engines.backends.redis", Redis()),
    "cache-valkey": Engine(
        "session_engines.backends.cache",
        Redis("valkey"),
        hashes_keys=False,
        logs_corrupt_data=False,
        user_index=False,
        compare_and_set=False,
    ),
    "redis-valkey": Engine("session_engines.backends.redis", Redis("valkey")),
    "redis-cluster": Engine("session_engines.backends.redis", RedisCluster()),
    "dynamodb": Engine("session_engines.backends.dynamodb", DynamoDB("moto")),
    "dynamodb-moto-server": Engine("session_engines.backends.dynamodb", DynamoDB("moto-server")),
    "dynamodb-dynalite": Engine("session_engines.backends.dynamodb", DynamoDB("dynalite")),
    # session_engines.backends.migrate, between two stores (SESSION_MIGRATE's FROM and TO).
    "migrate-db-to-redis": Engine(
        "session_engines.backends.migrate",
        Migrating("session_engines.backends.db", Database("default"), REDIS, Redis()),
    ),
    "migrate-django-db-to-db": Engine(
        "session_engines.backends.migrate",
        Migrating(DJANGO_DB, DjangoDatabase(), "session_engines.backends.db", Database("default")),
    ),
}


MIGRATE = "session_engines.backends.migrate"

# Migrations from every source engine, Django's own included: name: (the engine the site ran
# on, its store at rest, the ENGINES line of the engine sessions move to).
SOURCES = {
    "db": ("session_engines.backends.db", Database("default"), "redis"),
    "django-db": (DJANGO_DB, DjangoDatabase(), "db"),
    "cache": ("session_engines.backends.cache", Redis(), "db"),
    "django-cache": ("django.contrib.sessions.backends.cache", Redis(), "redis"),
    "redis": (REDIS, Redis(), "dynamodb"),
    "dynamodb": ("session_engines.backends.dynamodb", DynamoDB("moto"), "redis"),
}


class Migration:
    """A site on the old engine (``SESSION_ENGINE``) that can switch to the migrating one."""

    def __init__(self, name, request, settings):
        self.old_engine, self.old_store, new_line = SOURCES[name]
        self.new_engine, self.new_store = ENGINES[new_line].backend, ENGINES[new_line].store
        self.new_store.start(request, settings)
        self.old_store.start(request, settings)
        self.settings = settings
        settings.SESSION_ENGINE = self.old_engine
        settings.SESSION_MIGRATE = {"FROM": self.old_engine, "TO": self.new_engine}

    def switch(self, engine=MIGRATE):
        self.settings.SESSION_ENGINE = engine

    def old(self):
        return import_string(f"{self.old_engine}.SessionStore")

    def new(self):
        return import_string(f"{self.new_engine}.SessionStore")

    def in_old(self, key):
        return self.old()(key).load() != {}

    def in_new(self, key):
        return self.new()(key).load() != {}

    def new_ids(self):
        return {record.id for record in operator_for(self.new_engine).list(limit=500).records}


def engine_param(name):
    """``name`` as a pytest parameter, with the marks and databases its engine needs."""
    engine = ENGINES[name]
    databases = pytest.mark.django_db(databases=engine.store.databases)
    marks = [getattr(pytest.mark, mark) for mark in engine.marks]
    return pytest.param(name, marks=[databases, *marks], id=name)


def engine_names(**capabilities):
    """The names of the engines that have every one of ``capabilities`` (backend=..., ...)."""
    return [
        name
        for name, engine in ENGINES.items()
        if all(getattr(engine, key) == value for key, value in capabilities.items())
    ]


def start_engine(name, request, settings):
    """Make ``name`` the SESSION_ENGINE, on its store started and emptied; return the store."""
    engine = ENGINES[name]
    engine.store.start(request, settings)
    settings.SESSION_ENGINE = engine.backend
    return engine.store


OPERATOR_ENGINES = list(ENGINES)  # every engine has an operator
INDEXED_ENGINES = engine_names(user_index=True)
UNINDEXED_ENGINES = engine_names(user_index=False)


def engines(names):
    """Run a test that takes ``engine`` once per engine in ``names`` (conftest.py's fixture)."""
    return pytest.mark.parametrize("engine", [engine_param(name) for name in names], indirect=True)


# --- Signed-in clients -------------------------------------------------------------------------

NAMES = {"alice": "Alice Kim", "bob": "Bob Lee", "carol": "Carol Park"}
NOBODY = {"userId": None}


def new_client(**kwargs):
    return Client(**kwargs)


def user_named(username):
    """The django.contrib.auth user ``username`` (made on first use, with a full name)."""
    first, last = NAMES[username].split()
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last}
    )
    return user


def user_id(username):
    """What the session (``_auth_user_id``) and so the per-user index hold for ``username``."""
    return str(user_named(username).pk)


def sign_in(client, username):
    """Log ``client`` in as ``username`` through a view that calls Django's login()."""
    user_named(username)
    assert client.post("/sign-in", {"username": username}).status_code == 200
    return client


def log_in(username):
    """A new client logged in as ``username``."""
    return sign_in(new_client(), username)


def log_in_several():
    """Sessions for several users: alice on two devices, bob and carol on one each."""
    return {
        "alice": [log_in("alice"), log_in("alice")],
        "bob": [log_in("bob")],
        "carol": [log_in("carol")],
    }


def with_cookie(key):
    """A new client that sends ``key`` as its session cookie."""
    client = new_client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def key_of(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def ids_of(clients):
    return {session_id(key_of(client)) for client in clients}


def user_info(client):
    """Who ``client``'s session is signed in as: {"userId": ...}, NOBODY when no one."""
    return client.get("/whoami").json()


def walk(operator, limit):
    """Every page of operator.list(): (all ids in order, number of pages)."""
    ids, cursor, pages = [], None, 0
    while True:
        page = operator.list(cursor=cursor, limit=limit)
        ids += [record.id for record in page.records]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            return ids, pages
        assert isinstance(cursor, str)


def until_acknowledged(send, timeout=60.0):
    """Send a write until it answers 200, and return that answer: a 503 (Redis's WAIT counted
    no replica in time, as a busy machine can make it) is retried, as a client would, which is
    safe; anything else fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        response = send()
        if response.status_code == 200:
            return response
        assert response.status_code == 503, response.content  # never a 500
        assert time.monotonic() < deadline, f"not acknowledged within {timeout}s"
        time.sleep(0.1)


def assert_503(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "unavailable" in response.json()["error"]
    assert not response.cookies


class Calls(list):
    """The DynamoDB operations called, in order; ``params`` holds each one's parameters."""

    def __init__(self):
        super().__init__()
        self.params = []

    def clear(self):
        super().clear()
        self.params.clear()


# --- The db engine in a fresh process (its threads need committed rows, not a test transaction) --

PROCESS_SETTINGS = """
SECRET_KEY = "race-test-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth",
                  "django.contrib.sessions", "session_engines"]
SESSION_ENGINE = "session_engines.backends.db"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
USE_TZ = True
DATABASES = {"default": %r}
"""


def sqlite_database(path):
    """Return a SQLite database setting where writers queue for its one write lock."""
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {"timeout": 60}}


def postgres_database(url):
    """Return the database setting of the ``postgres`` database at ``url``."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": port,
    }


def in_a_process(tmp_path, module, database, extra=""):
    """Run ``python -m module`` on the db engine and ``database`` in a fresh process; return
    the JSON of its last line. ``extra``: more settings lines."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "processsettings.py").write_text(PROCESS_SETTINGS % database + extra)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "processsettings"}
    env["PYTHONPATH"] = f"{tmp_path}:{root}"
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])
