"""session_engines.metrics: the counters the signals feed, who may scrape them, the checks."""

import json

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.utils.module_loading import import_string
from prometheus_client import REGISTRY

from harness.servers import free_port
from session_engines import metrics, signals
from session_engines.checks import metrics as checks

from .helpers import engines, use_redis
from .signin import make_user

TOKEN = "a-scraper-token-0123456789"


@pytest.fixture
def counting():
    metrics.connect()
    yield
    metrics.disconnect()


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """The change in each sample since it was made."""

    def __init__(self, *samples):
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self):
        now = [value(name, **labels) for name, labels in self.samples]
        return [after - before for before, after in zip(self.before, now, strict=True)]


@engines(["db", "cache", "redis", "dynamodb"])
def test_a_session_s_life_is_counted(engine, settings, counting):
    label = {"engine": settings.SESSION_ENGINE}
    delta = Delta(
        ("sessions_created_total", label),
        ("sessions_rotated_total", label),
        ("sessions_ended_total", label | {"reason": "logout"}),
        ("session_store_misses_total", label),
        ("session_store_operation_seconds_count", label | {"operation": "create"}),
        ("session_store_operation_seconds_count", label | {"operation": "read"}),
    )
    Store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    session = Store()
    session["a"] = 1
    session.save()
    session.cycle_key()
    session.save()
    Store("x" * 32).load()
    Store(session.session_key).load()
    session.flush()
    created, rotated, ended, misses, creates, reads = delta()
    assert (created, rotated, ended, misses) == (1, 1, 1, 1)
    assert creates >= 2 and reads == 2  # a create each, the cache engine's collisions aside


@engines(["redis"])
def test_conflicts_are_counted(engine, settings, counting):
    delta = Delta(("session_write_conflicts_total", {"engine": settings.SESSION_ENGINE}))
    Store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    session = Store()
    session["n"] = 0
    session.save()
    first, second = Store(session.session_key), Store(session.session_key)
    first.load(), second.load()
    first["a"], second["b"] = 1, 2
    first.save()
    second.save()
    assert delta() == [1]


def test_503s_are_counted_by_operation(settings, counting, db):
    settings.SESSION_ENGINE = "session_engines.backends.redis"
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    delta = Delta(
        (
            "session_store_unavailable_total",
            {"engine": settings.SESSION_ENGINE, "operation": "read"},
        )
    )
    client = Client()
    client.cookies["sessionid"] = "a" * 32
    assert client.get("/whoami").status_code == 503
    assert delta() == [1]


def test_near_cache_hits_and_misses_are_counted(counting):
    class SessionStore:
        pass

    engine = {"engine": __name__}
    delta = Delta(
        ("session_near_cache_requests_total", engine | {"result": "hit"}),
        ("session_near_cache_requests_total", engine | {"result": "miss"}),
    )
    for _ in range(3):
        signals.send(signals.near_cache_hit, SessionStore, session_id="0" * 64)
    signals.send(signals.near_cache_miss, SessionStore, session_id="0" * 64)
    assert delta() == [3, 1]


def test_nothing_is_counted_unless_enabled(settings):
    metrics.disconnect()
    assert not signals.session_created.has_listeners(object)
    settings.SESSION_METRICS = {"ENABLED": True}
    apps.get_app_config("session_engines").connect_metrics()  # what ready() does
    try:
        assert signals.session_created.has_listeners(object)
    finally:
        metrics.disconnect()


# --- the endpoint ------------------------------------------------------------------------------


def scrape(settings, *, address="203.0.113.9", user=None, method="get", **headers):
    request = getattr(RequestFactory(), method)("/metrics", REMOTE_ADDR=address, headers=headers)
    request.user = user or AnonymousUser()
    return metrics.metrics_view(request)


@pytest.fixture
def enabled(settings, counting):
    settings.SESSION_METRICS = {"ENABLED": True, "ADDRESSES": ["127.0.0.1", "10.0.0.0/8"]}
    settings.SESSION_METRICS["TOKEN"] = TOKEN
    return settings


def test_a_disabled_endpoint_is_not_found(settings):
    response = scrape(settings)
    assert response.status_code == 404 and json.loads(response.content) == {"error": "Not found."}


def test_anyone_else_is_refused_with_json(enabled):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = scrape(enabled, **headers)
        assert response.status_code == 403, headers
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {"error": "Not allowed to read the metrics."}


@pytest.mark.parametrize(
    "how",
    [
        {"address": "127.0.0.1"},
        {"address": "10.1.2.3"},
        {"Authorization": f"Bearer {TOKEN}"},
        {"Authorization": f"bearer {TOKEN}"},
    ],
)
def test_an_allowed_address_or_the_token_may_scrape(enabled, how):
    response = scrape(enabled, **how)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    assert "# TYPE session_store_operation_seconds histogram" in text
    assert "# TYPE sessions_ended_total counter" in text


@pytest.mark.django_db
def test_a_staff_user_may_scrape_and_others_may_not(enabled):
    assert scrape(enabled, user=make_user("staff", is_staff=True)).status_code == 200
    assert scrape(enabled, user=make_user("alice")).status_code == 403


def test_only_get_is_answered(enabled):
    response = scrape(enabled, address="127.0.0.1", method="post")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


# --- the checks --------------------------------------------------------------------------------


def ids(settings, value):
    settings.SESSION_METRICS = value
    return [error.id.removeprefix("session_engines.") for error in checks.check_metrics_settings()]


@pytest.mark.parametrize(
    "value, expected",
    [
        ({}, []),
        ({"ENABLED": True, "ADDRESSES": ["::1", "10.0.0.0/8"], "TOKEN": TOKEN}, []),
        ([], ["E501"]),
        ({"ENABLE": True}, ["E502"]),
        ({"ENABLED": "yes"}, ["E503"]),
        ({"ADDRESSES": "127.0.0.1"}, ["E504"]),
        ({"ADDRESSES": ["localhost"]}, ["E504"]),
        ({"ADDRESSES": [127]}, ["E504"]),
        ({"TOKEN": "short"}, ["E505"]),
        ({"TOKEN": 1234567890123456789}, ["E505"]),
    ],
)
def test_bad_settings_are_errors(settings, value, expected):
    assert ids(settings, value) == expected


def test_metrics_without_prometheus_client_are_an_error(settings, monkeypatch):
    monkeypatch.setattr(checks, "missing_library", lambda name: name == "prometheus_client")
    assert ids(settings, {"ENABLED": True}) == ["E506"]
    assert ids(settings, {"ENABLED": False}) == []
