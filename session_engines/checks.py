"""System checks (``manage.py check``) for the engines' settings. All ids are here.

DynamoDB uses E101-E199 (``SESSION_DYNAMODB``), Redis E201-E299 (``SESSION_REDIS`` and the
cache the Redis engines use; the checks themselves are in ``redis_checks``). An engine's
client library (boto3, django-redis) is imported only when that engine is configured, so a
project may install one without the other.
"""

import importlib
import re

from django.conf import settings
from django.core import checks

IDS = {
    "dynamodb_not_a_dict": "session_engines.E101",
    "dynamodb_unknown_key": "session_engines.E102",
    "dynamodb_table_name": "session_engines.E103",
    "dynamodb_region_name": "session_engines.E104",
    "dynamodb_endpoint_url": "session_engines.E105",
    "dynamodb_consistent_read": "session_engines.E106",
    "dynamodb_compress_min_bytes": "session_engines.E107",
    "dynamodb_client_config": "session_engines.E108",
    "dynamodb_no_boto3": "session_engines.E109",
    "redis_not_a_dict": "session_engines.E201",
    "redis_unknown_key": "session_engines.E202",
    "redis_not_django_redis": "session_engines.E203",
    "redis_bad_prefix": "session_engines.E204",
    "redis_bad_wait": "session_engines.E205",
    "redis_ignores_exceptions": "session_engines.E206",
    "redis_pickle": "session_engines.E207",
    "redis_wait_outlasts_socket": "session_engines.E208",
    "redis_no_django_redis": "session_engines.E209",
}

TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# SESSION_DYNAMODB key -> (check name, what a good value is, the hint).
DYNAMODB_RULES = {
    "TABLE_NAME": (
        "dynamodb_table_name",
        lambda value: isinstance(value, str) and TABLE_NAME.fullmatch(value),
        "A DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'.",
    ),
    "REGION_NAME": (
        "dynamodb_region_name",
        lambda value: value is None or (isinstance(value, str) and value),
        "A region such as 'eu-west-1', or None for boto3's default chain.",
    ),
    "ENDPOINT_URL": (
        "dynamodb_endpoint_url",
        lambda value: (
            value is None or (isinstance(value, str) and re.match(r"https?://[^/]", value))
        ),
        "None for AWS (or AWS_ENDPOINT_URL_DYNAMODB), else an http(s)://host:port URL.",
    ),
    "CONSISTENT_READ": (
        "dynamodb_consistent_read",
        lambda value: isinstance(value, bool),
        "True (the default) reads the latest write; False costs half and may read stale data.",
    ),
    "COMPRESS_MIN_BYTES": (
        "dynamodb_compress_min_bytes",
        lambda value: is_int(value) and value >= 0,
        "An int >= 0: encoded sessions at least this long are stored zlib-compressed.",
    ),
}


def missing_library(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return True
    return False


def error(name, message, hint):
    return checks.Error(message, hint=hint, obj="settings.SESSION_DYNAMODB", id=IDS[name])


def dynamodb_option_errors(value):
    """What is wrong with one SESSION_DYNAMODB value, as check errors."""
    from .backends import dynamodb  # boto3: only for projects that configure this engine

    keys = ", ".join(dynamodb.DEFAULTS)
    if not isinstance(value, dict):
        return [error("dynamodb_not_a_dict", "SESSION_DYNAMODB must be a dict.", f"Keys: {keys}.")]
    errors = []
    unknown = sorted(set(value) - set(dynamodb.DEFAULTS))
    if unknown:
        message = f"SESSION_DYNAMODB has unknown keys: {unknown}."
        errors.append(error("dynamodb_unknown_key", message, f"The keys are: {keys}."))
    options = dynamodb.DEFAULTS | value
    for key, (name, is_valid, hint) in DYNAMODB_RULES.items():
        if not is_valid(options[key]):
            errors.append(
                error(name, f"SESSION_DYNAMODB[{key!r}] = {options[key]!r} is invalid.", hint)
            )
    return errors + client_config_errors(options["CLIENT_CONFIG"])


def client_config_errors(config):
    from botocore.config import Config

    from .backends import dynamodb

    hint = "A dict of botocore.config.Config options, e.g. {'read_timeout': 2}."
    if not isinstance(config, dict):
        return [error("dynamodb_client_config", "CLIENT_CONFIG must be a dict.", hint)]
    unknown = sorted(set(config) - set(Config.OPTION_DEFAULTS))
    if unknown:
        message = f"CLIENT_CONFIG has unknown options: {unknown}."
        return [error("dynamodb_client_config", message, hint)]
    try:
        Config(**dynamodb.client_config(config))
    except Exception as exc:  # botocore says what is wrong in its own words
        return [error("dynamodb_client_config", f"CLIENT_CONFIG is invalid: {exc}", hint)]
    return []


@checks.register()
def check_dynamodb_settings(app_configs=None, **kwargs):
    if (
        not hasattr(settings, "SESSION_DYNAMODB")
        and settings.SESSION_ENGINE != "session_engines.backends.dynamodb"
    ):
        return []
    if missing_library("boto3"):
        hint = "pip install 'django-aws-session-engines[dynamodb]' (or boto3)."
        return [error("dynamodb_no_boto3", "The DynamoDB engine needs boto3.", hint)]
    return dynamodb_option_errors(getattr(settings, "SESSION_DYNAMODB", {}))
