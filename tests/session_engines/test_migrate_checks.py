"""SESSION_MIGRATE's system checks: each misconfiguration is named, a good one is clean."""

import pytest
from django.core.checks import run_checks

from session_engines.checks import SESSIONS


def ids():
    return [e.id for e in run_checks(tags=[SESSIONS]) if e.id.startswith("session_engines.E4")]


@pytest.fixture
def migrating(settings):
    settings.SESSION_ENGINE = "session_engines.backends.migrate"
    settings.SESSION_MIGRATE = {
        "FROM": "django.contrib.sessions.backends.db",
        "TO": "session_engines.backends.db",
    }
    return settings


def test_a_good_configuration_is_clean(migrating):
    assert ids() == []


def test_other_engines_are_not_checked(settings):
    settings.SESSION_MIGRATE = "nonsense"
    assert ids() == []


@pytest.mark.parametrize(
    "config, expected",
    [
        ("nonsense", ["session_engines.E401"]),
        (
            {
                "FROM": "django.contrib.sessions.backends.db",
                "TO": "session_engines.backends.db",
                "VIA": 1,
            },
            ["session_engines.E402"],
        ),
        ({"FROM": "no.such.engine", "TO": "session_engines.backends.db"}, ["session_engines.E403"]),
        (
            {
                "FROM": "django.contrib.sessions.backends.signed_cookies",
                "TO": "session_engines.backends.db",
            },
            ["session_engines.E403"],
        ),
        ({"TO": "session_engines.backends.db"}, ["session_engines.E403"]),
        (
            {"FROM": "django.contrib.sessions.backends.db", "TO": "session_engines.backends.cache"},
            ["session_engines.E404"],
        ),
        (
            {
                "FROM": "django.contrib.sessions.backends.db",
                "TO": "session_engines.backends.migrate",
            },
            ["session_engines.E404"],
        ),
        (
            {"FROM": "session_engines.backends.db", "TO": "session_engines.backends.db"},
            ["session_engines.E405"],
        ),
    ],
)
def test_each_misconfiguration_is_named(migrating, config, expected):
    migrating.SESSION_MIGRATE = config
    assert ids() == expected
