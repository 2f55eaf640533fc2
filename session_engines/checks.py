"""System checks (``manage.py check``) for the engines' settings. All ids are here.

DynamoDB uses E101-E199 (``SESSION_DYNAMODB``).
"""

import re

from botocore.config import Config
from django.conf import settings
from django.core import checks

from . import dynamodb

IDS = {
    "dynamodb_not_a_dict": "session_engines.E101",
    "dynamodb_unknown_key": "session_engines.E102",
    "dynamodb_table_name": "session_engines.E103",
    "dynamodb_region_name": "session_engines.E104",
    "dynamodb_endpoint_url": "session_engines.E105",
    "dynamodb_consistent_read": "session_engines.E106",
    "dynamodb_compress_min_bytes": "session_engines.E107",
    "dynamodb_client_config": "session_engines.E108",
}

TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def error(name, message, hint):
    return checks.Error(message, hint=hint, obj="settings.SESSION_DYNAMODB", id=IDS[name])


def dynamodb_option_errors(value):
    """What is wrong with one SESSION_DYNAMODB value, as check errors."""
    if not isinstance(value, dict):
        return [error("dynamodb_not_a_dict", "SESSION_DYNAMODB must be a dict.",
                      f"Set it to a dict with some of: {', '.join(dynamodb.DEFAULTS)}.")]  # fmt: skip
    errors = []
    unknown = sorted(set(value) - set(dynamodb.DEFAULTS))
    if unknown:
        errors.append(error("dynamodb_unknown_key", f"SESSION_DYNAMODB has unknown keys: {unknown}.",
                            f"The keys are: {', '.join(dynamodb.DEFAULTS)}."))  # fmt: skip
    opts = dynamodb.DEFAULTS | value
    name = opts["TABLE_NAME"]
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        errors.append(error("dynamodb_table_name", f"TABLE_NAME {name!r} is not a DynamoDB table name.",
                            "3 to 255 characters: letters, digits, '_', '-' and '.'."))  # fmt: skip
    region = opts["REGION_NAME"]
    if region is not None and not (isinstance(region, str) and region):
        errors.append(error("dynamodb_region_name", f"REGION_NAME {region!r} is not a region name.",
                            "A region such as 'eu-west-1', or None for boto3's default chain."))  # fmt: skip
    url = opts["ENDPOINT_URL"]
    if url is not None and not (isinstance(url, str) and re.match(r"https?://[^/]", url)):
        errors.append(error("dynamodb_endpoint_url", f"ENDPOINT_URL {url!r} is not an http(s) URL.",
                            "None for AWS (or AWS_ENDPOINT_URL_DYNAMODB), else http://host:port."))  # fmt: skip
    if not isinstance(opts["CONSISTENT_READ"], bool):
        errors.append(error("dynamodb_consistent_read", "CONSISTENT_READ must be True or False.",
                            "True (the default) reads the latest write; False costs half."))  # fmt: skip
    size = opts["COMPRESS_MIN_BYTES"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        errors.append(error("dynamodb_compress_min_bytes", f"COMPRESS_MIN_BYTES {size!r} is not a byte count.",
                            "An int >= 0: encoded sessions at least this long are stored deflated."))  # fmt: skip
    errors += client_config_errors(opts["CLIENT_CONFIG"])
    return errors


def client_config_errors(config):
    hint = "A dict of botocore.config.Config options, e.g. {'read_timeout': 2}."
    if not isinstance(config, dict):
        return [error("dynamodb_client_config", "CLIENT_CONFIG must be a dict.", hint)]
    unknown = sorted(set(config) - set(Config.OPTION_DEFAULTS))
    if unknown:
        return [error("dynamodb_client_config", f"CLIENT_CONFIG has unknown options: {unknown}.", hint)]
    try:
        Config(**dynamodb.client_config(config))
    except Exception as exc:  # botocore says what is wrong in its own words
        return [error("dynamodb_client_config", f"CLIENT_CONFIG is invalid: {exc}", hint)]
    return []


@checks.register()
def check_dynamodb_settings(app_configs=None, **kwargs):
    if not hasattr(settings, "SESSION_DYNAMODB") and settings.SESSION_ENGINE != dynamodb.__name__:
        return []
    return dynamodb_option_errors(getattr(settings, "SESSION_DYNAMODB", {}))
