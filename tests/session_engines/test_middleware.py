"""A store outage is a 503 JSON answer with Retry-After: never a 500 page, never a logout."""

import pytest

from harness.servers import free_port


@pytest.fixture
def redis_down(settings, db):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {**settings.CACHES["sessions"], "LOCATION": url},
    }


def assert_503(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "unavailable" in response.json()["error"]
    assert not response.cookies


def test_save_failure_is_503(redis_down, client):
    assert_503(
        client.post("/login", {"userId": "a", "userNm": "A"}, content_type="application/json")
    )
