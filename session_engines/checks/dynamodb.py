"""System checks for ``SESSION_DYNAMODB`` (E101-E110), run when it is set or the engine used."""

import re

from django.conf import settings
from django.core import checks

from . import invalid, is_int, missing_library

ENGINE = "session_engines.backends.dynamodb"
OBJ = "settings.SESSION_DYNAMODB"

# The keys that take True or False: (the hint, the check's id).
BOOLEANS = {
    "CONSISTENT_READ": (
        "True (the default) reads the latest write; False costs half and may read stale data.",
        "session_engines.E106",
    ),
    "REQUIRE_CRC32": (
        "True (the default, as DynamoDB always sends x-amz-crc32) or False for a compatible "
        "store that sends none.",
        "session_engines.E110",
    ),
}
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
URL = re.compile(r"https?://[^/]")


def check_dynamodb_settings(app_configs=None, **kwargs):
    """Return the errors in SESSION_DYNAMODB, when it is set or the DynamoDB engine is used."""
    if not hasattr(settings, "SESSION_DYNAMODB") and settings.SESSION_ENGINE != ENGINE:
        return []
    if missing_library("boto3"):
        hint = "pip install 'django-aws-session-engines[dynamodb]' (or boto3)."
        return [
            checks.Error(
                "The DynamoDB engine needs boto3.",
                hint=hint,
                obj=OBJ,
                id="session_engines.E109",
            )
        ]
    from ..backends import dynamodb  # boto3: only for projects that configure this engine

    value = getattr(settings, "SESSION_DYNAMODB", {})
    keys = f"The keys are: {', '.join(dynamodb.DEFAULTS)}."
    if not isinstance(value, dict):
        return [
            checks.Error(
                "SESSION_DYNAMODB must be a dict.",
                hint=keys,
                obj=OBJ,
                id="session_engines.E101",
            )
        ]
    errors = []
    unknown = sorted(set(value) - set(dynamodb.DEFAULTS))
    if unknown:
        message = f"SESSION_DYNAMODB has unknown keys: {unknown}."
        errors.append(checks.Error(message, hint=keys, obj=OBJ, id="session_engines.E102"))
    opts = dynamodb.DEFAULTS | value
    table, region, endpoint = opts["TABLE_NAME"], opts["REGION_NAME"], opts["ENDPOINT_URL"]
    if not (isinstance(table, str) and TABLE_NAME.fullmatch(table)):
        errors.append(
            checks.Error(
                invalid("SESSION_DYNAMODB", "TABLE_NAME", table),
                hint="A DynamoDB table name: 3 to 255 letters, digits, '_', '-' or '.'.",
                obj=OBJ,
                id="session_engines.E103",
            )
        )
    if not (region is None or (isinstance(region, str) and region)):
        errors.append(
            checks.Error(
                invalid("SESSION_DYNAMODB", "REGION_NAME", region),
                hint="A region such as 'eu-west-1', or None for boto3's default chain.",
                obj=OBJ,
                id="session_engines.E104",
            )
        )
    if not (endpoint is None or (isinstance(endpoint, str) and URL.match(endpoint))):
        errors.append(
            checks.Error(
                invalid("SESSION_DYNAMODB", "ENDPOINT_URL", endpoint),
                hint="None for AWS (or AWS_ENDPOINT_URL_DYNAMODB), else an http(s)://host:port "
                "URL.",
                obj=OBJ,
                id="session_engines.E105",
            )
        )
    for key, (hint, id) in BOOLEANS.items():
        if not isinstance(opts[key], bool):
            errors.append(
                checks.Error(invalid("SESSION_DYNAMODB", key, opts[key]), hint=hint, obj=OBJ, id=id)
            )
    if not is_int(opts["COMPRESS_MIN_BYTES"], 0):
        errors.append(
            checks.Error(
                invalid("SESSION_DYNAMODB", "COMPRESS_MIN_BYTES", opts["COMPRESS_MIN_BYTES"]),
                hint="An int >= 0: encoded sessions at least this long are stored zlib-compressed.",
                obj=OBJ,
                id="session_engines.E107",
            )
        )
    problem = client_config_problem(opts["CLIENT_CONFIG"])
    if problem:
        errors.append(
            checks.Error(
                f"SESSION_DYNAMODB['CLIENT_CONFIG'] {problem}",
                hint="A dict of botocore.config.Config options, e.g. {'read_timeout': 2}.",
                obj=OBJ,
                id="session_engines.E108",
            )
        )
    return errors


def client_config_problem(config):
    """Return what is wrong with CLIENT_CONFIG (the end of a sentence), or None."""
    from botocore.config import Config

    from ..backends import dynamodb

    if not isinstance(config, dict):
        return "must be a dict."
    unknown = sorted(set(config) - set(Config.OPTION_DEFAULTS))
    if unknown:
        return f"has unknown options: {unknown}."
    try:
        Config(**dynamodb.client_config(config))
    except Exception as exc:  # botocore says what is wrong in its own words
        return f"is invalid: {exc}"
    return None
