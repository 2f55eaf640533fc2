"""SESSION_DYNAMODB is validated by system checks (manage.py check), with ids and hints."""

import sys

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from session_engines.checks import SESSIONS
from session_engines.checks.dynamodb import check_dynamodb_settings

BAD = [
    pytest.param(["sessions"], "session_engines.E101", id="not-a-dict"),
    pytest.param({"TABLE": "sessions"}, "session_engines.E102", id="unknown-key"),
    pytest.param({"TABLE_NAME": "s"}, "session_engines.E103", id="table-too-short"),
    pytest.param({"TABLE_NAME": "my sessions"}, "session_engines.E103", id="table-space"),
    pytest.param({"TABLE_NAME": None}, "session_engines.E103", id="table-none"),
    pytest.param({"REGION_NAME": ""}, "session_engines.E104", id="region-empty"),
    pytest.param({"REGION_NAME": 1}, "session_engines.E104", id="region-number"),
    pytest.param({"ENDPOINT_URL": "localhost:8000"}, "session_engines.E105", id="url-no-scheme"),
    pytest.param({"CONSISTENT_READ": "yes"}, "session_engines.E106", id="consistent-str"),
    pytest.param({"COMPRESS_MIN_BYTES": -1}, "session_engines.E107", id="compress-negative"),
    pytest.param({"COMPRESS_MIN_BYTES": True}, "session_engines.E107", id="compress-bool"),
    pytest.param({"COMPRESS_MIN_BYTES": "1k"}, "session_engines.E107", id="compress-str"),
    pytest.param({"CLIENT_CONFIG": 3}, "session_engines.E108", id="config-not-dict"),
    pytest.param({"REQUIRE_CRC32": "no"}, "session_engines.E110", id="crc32-str"),
    pytest.param({"CLIENT_CONFIG": {"timeout": 1}}, "session_engines.E108", id="config-unknown"),
    pytest.param(
        {"CLIENT_CONFIG": {"retries": {"mode": "eager"}}}, "session_engines.E108", id="config-bad"
    ),
]


@pytest.mark.parametrize("value, error_id", BAD)
def test_a_bad_setting_is_reported_with_its_id_and_a_hint(settings, value, error_id):
    settings.SESSION_DYNAMODB = value
    errors = check_dynamodb_settings()
    assert [error.id for error in errors] == [error_id]
    assert errors[0].hint
    assert errors[0].obj == "settings.SESSION_DYNAMODB"


def test_a_good_setting_is_clean(settings):
    settings.SESSION_DYNAMODB = {
        "TABLE_NAME": "my-app.sessions_v2",
        "REGION_NAME": "eu-west-1",
        "ENDPOINT_URL": "http://127.0.0.1:8000",
        "CONSISTENT_READ": False,
        "COMPRESS_MIN_BYTES": 0,
        "CLIENT_CONFIG": {"read_timeout": 1, "retries": {"total_max_attempts": 5}},
    }
    assert check_dynamodb_settings() == []


def test_defaults_are_clean_and_unused_engines_are_not_checked(settings):
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    del settings.SESSION_DYNAMODB
    assert check_dynamodb_settings() == []
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert check_dynamodb_settings() == []


def test_the_check_is_registered_with_the_sessions_tag(settings):
    settings.SESSION_DYNAMODB = {"TABLE_NAME": "s"}
    assert [e.id for e in run_checks(tags=[SESSIONS])] == ["session_engines.E103"]
    assert run_checks(tags=["caches"]) == []


def test_manage_check_fails_on_a_bad_setting(settings):
    settings.SESSION_DYNAMODB = {"TABLE_NAME": "sessions", "CONSISTENT_READS": True}
    with pytest.raises(SystemCheckError, match="session_engines.E102"):
        call_command("check")


def test_a_missing_boto3_is_reported_not_raised(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    errors = check_dynamodb_settings()
    assert [error.id for error in errors] == ["session_engines.E109"]
    assert "[dynamodb]" in errors[0].hint
