"""accounts.middleware.database_queries: the benchmark's count of a request's database queries."""

import json

import pytest

LOGIN = {"userId": "alice", "userNm": "Alice"}


@pytest.fixture
def counted(settings):
    settings.MIDDLEWARE = ["accounts.middleware.database_queries", *settings.MIDDLEWARE]
    return settings


def login(client):
    return client.post("/login", json.dumps(LOGIN), content_type="application/json")


@pytest.mark.django_db
def test_counts_the_session_save_of_a_database_engine(client, counted):
    counted.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert int(login(client)["X-Database-Queries"]) >= 2  # the new key's check, its insert


def test_counts_nothing_where_no_database_is_touched(client, counted):
    counted.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert login(client)["X-Database-Queries"] == "0"
    assert client.get("/session")["X-Database-Queries"] == "0"
