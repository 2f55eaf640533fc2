"""SESSION_POLICY's system checks: each mistake is named by its id, a good policy is clean."""

import pytest
from django.core.checks import run_checks

from session_engines.checks import SESSIONS

from .signin import MIDDLEWARE


def ids():
    return [e.id for e in run_checks(tags=[SESSIONS]) if e.id.startswith("session_engines.E3")]


@pytest.fixture(autouse=True)
def indexed_engine(settings):
    settings.SESSION_ENGINE = "session_engines.backends.db"
    settings.MIDDLEWARE = MIDDLEWARE
    if hasattr(settings, "SESSION_USER_ID_PATH"):
        del settings.SESSION_USER_ID_PATH


GOOD = {
    "IDLE_TIMEOUT": 1800,
    "ABSOLUTE_TIMEOUT": 12 * 3600,
    "LAST_SEEN_INTERVAL": 60,
    "END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": True,
    "MAX_SESSIONS_PER_USER": 5,
    "CLIENT_ADDRESS": "none",
}


@pytest.mark.parametrize("policy", [{}, GOOD, {"IDLE_TIMEOUT": None, "ABSOLUTE_TIMEOUT": 60}])
def test_a_good_policy_is_clean(settings, policy):
    settings.SESSION_POLICY = policy
    assert ids() == []


def test_no_policy_is_clean(settings):
    if hasattr(settings, "SESSION_POLICY"):
        del settings.SESSION_POLICY
    assert ids() == []


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (["IDLE_TIMEOUT"], "E301"),
        ({"IDLE_TIMEOUT": 600, "IDLE": 60}, "E302"),
        ({"IDLE_TIMEOUT": 0}, "E303"),
        ({"IDLE_TIMEOUT": "1800"}, "E303"),
        ({"IDLE_TIMEOUT": True}, "E303"),
        ({"ABSOLUTE_TIMEOUT": -1}, "E304"),
        ({"ABSOLUTE_TIMEOUT": 3600.5}, "E304"),
        ({"LAST_SEEN_INTERVAL": None}, "E305"),
        ({"LAST_SEEN_INTERVAL": 0}, "E305"),
        ({"IDLE_TIMEOUT": 60, "LAST_SEEN_INTERVAL": 60}, "E306"),
        ({"END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": "yes"}, "E307"),
        ({"MAX_SESSIONS_PER_USER": 0}, "E308"),
        ({"MAX_SESSIONS_PER_USER": "3"}, "E308"),
        ({"CLIENT_ADDRESS": "partial"}, "E309"),
        ({"CLIENT_ADDRESS": None}, "E309"),
    ],
)
def test_each_mistake_has_its_id(settings, policy, expected):
    settings.SESSION_POLICY = policy
    assert ids() == [f"session_engines.{expected}"]


@pytest.mark.parametrize(
    "engine",
    [
        "session_engines.backends.cache",
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.signed_cookies",
    ],
)
@pytest.mark.parametrize(
    "policy", [{"MAX_SESSIONS_PER_USER": 3}, {"END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": True}]
)
def test_what_needs_a_user_index_is_refused_on_an_engine_without_one(settings, engine, policy):
    settings.SESSION_ENGINE = engine
    settings.SESSION_CACHE_ALIAS = "default"
    settings.SESSION_POLICY = policy
    assert ids() == ["session_engines.E310"]


@pytest.mark.parametrize(
    "engine", ["session_engines.backends.redis", "session_engines.backends.dynamodb"]
)
def test_the_indexed_engines_take_a_limit(settings, engine):
    settings.SESSION_ENGINE = engine
    settings.SESSION_POLICY = {"MAX_SESSIONS_PER_USER": 3}
    assert ids() == []


def test_ending_sessions_by_auth_user_needs_the_index_on_auth_user_ids(settings):
    settings.SESSION_USER_ID_PATH = "userInfo.userId"
    settings.SESSION_POLICY = {"END_OTHER_SESSIONS_ON_PASSWORD_CHANGE": True}
    assert ids() == ["session_engines.E311"]
    settings.SESSION_POLICY = {"MAX_SESSIONS_PER_USER": 2}  # any user id will do for this
    assert ids() == []


def test_a_policy_without_the_middleware_that_enforces_it(settings):
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 1800}
    assert ids() == ["session_engines.E312"]
