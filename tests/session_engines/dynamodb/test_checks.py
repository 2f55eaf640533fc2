"""SESSION_DYNAMODB is validated by system checks (manage.py check), with ids and hints."""

import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from session_engines.checks import IDS, check_dynamodb_settings

BAD = [
    pytest.param(["sessions"], "dynamodb_not_a_dict", id="not-a-dict"),
    pytest.param({"TABLE": "sessions"}, "dynamodb_unknown_key", id="unknown-key"),
    pytest.param({"TABLE_NAME": "s"}, "dynamodb_table_name", id="table-too-short"),
    pytest.param({"TABLE_NAME": "my sessions"}, "dynamodb_table_name", id="table-space"),
    pytest.param({"TABLE_NAME": None}, "dynamodb_table_name", id="table-none"),
    pytest.param({"REGION_NAME": ""}, "dynamodb_region_name", id="region-empty"),
    pytest.param({"REGION_NAME": 1}, "dynamodb_region_name", id="region-number"),
    pytest.param({"ENDPOINT_URL": "localhost:8000"}, "dynamodb_endpoint_url", id="url-no-scheme"),
    pytest.param({"CONSISTENT_READ": "yes"}, "dynamodb_consistent_read", id="consistent-str"),
    pytest.param({"COMPRESS_MIN_BYTES": -1}, "dynamodb_compress_min_bytes", id="compress-negative"),
    pytest.param({"COMPRESS_MIN_BYTES": True}, "dynamodb_compress_min_bytes", id="compress-bool"),
    pytest.param({"COMPRESS_MIN_BYTES": "1k"}, "dynamodb_compress_min_bytes", id="compress-str"),
    pytest.param({"CLIENT_CONFIG": 3}, "dynamodb_client_config", id="config-not-dict"),
    pytest.param({"CLIENT_CONFIG": {"timeout": 1}}, "dynamodb_client_config", id="config-unknown"),
    pytest.param(
        {"CLIENT_CONFIG": {"retries": {"mode": "eager"}}}, "dynamodb_client_config", id="config-bad"
    ),
]


@pytest.mark.parametrize("value, name", BAD)
def test_a_bad_setting_is_reported_with_its_id_and_a_hint(settings, value, name):
    settings.SESSION_DYNAMODB = value
    errors = check_dynamodb_settings()
    assert [error.id for error in errors] == [IDS[name]]
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


def test_ids_are_unique():
    assert len(set(IDS.values())) == len(IDS)


def test_manage_check_fails_on_a_bad_setting(settings):
    settings.SESSION_DYNAMODB = {"TABLE_NAME": "sessions", "CONSISTENT_READS": True}
    with pytest.raises(SystemCheckError, match="session_engines.E102"):
        call_command("check")


def test_a_missing_boto3_is_reported_not_raised(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    errors = check_dynamodb_settings()
    assert [error.id for error in errors] == [IDS["dynamodb_no_boto3"]]
    assert "[dynamodb]" in errors[0].hint
