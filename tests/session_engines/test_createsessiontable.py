"""``manage.py createsessiontable`` (and ``clearsessions``) against ``moto server``."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from harness.dynamodb import FAKE_CREDENTIALS
from session_engines import dynamodb_table
from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import SessionStore
from session_engines.ids import session_id

from .helpers import create_plain_table

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out = []

    class Out:
        def write(self, text):
            out.append(text)

    call_command("createsessiontable", *args, "--delay=0.05", stdout=Out())
    return "".join(out)


def test_it_creates_the_table_with_index_and_ttl_then_does_nothing(table):
    output = run()
    assert f"created table {table}" in output and "enabled TTL on expires" in output
    client = dynamodb.get_client()
    description = client.describe_table(TableName=table)["Table"]
    assert description["TableStatus"] == "ACTIVE"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = description["GlobalSecondaryIndexes"]
    assert index["IndexName"] == dynamodb.USER_INDEX
    assert index["KeySchema"] == [{"AttributeName": "uid", "KeyType": "HASH"}]
    ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    assert "nothing to do" in run()  # idempotent
    assert "is ready" in run("--check")


def test_check_fails_clearly_when_the_table_is_missing(table):
    with pytest.raises(CommandError, match=f"table {table} does not exist"):
        run("--check")
    assert table not in dynamodb.get_client().list_tables()["TableNames"]  # --check creates nothing


def test_check_fails_without_ttl_and_the_command_enables_it(table):
    dynamodb_table.create_table(dynamodb.get_client(), table)  # key and index, TTL off
    with pytest.raises(CommandError, match="TTL is DISABLED"):
        run("--check")
    assert run() == "enabled TTL on expires\n"
    run("--check")


def test_a_first_version_table_gets_the_user_index(table):
    create_plain_table(table, key="pk")
    with pytest.raises(CommandError, match="index uid-index is missing"):
        run("--check")
    assert f"added index uid-index to table {table}" in run()
    run("--check")


def test_an_index_that_does_not_project_the_expiry_is_refused(table):
    create_plain_table(table, key="pk")
    dynamodb.get_client().update_table(
        TableName=table,
        AttributeDefinitions=dynamodb_table.ATTRIBUTE_DEFINITIONS,
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    **dynamodb_table.USER_INDEX_DEFINITION,
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    for args in ((), ("--check",)):
        with pytest.raises(CommandError, match="index uid-index does not project 'expires'"):
            run(*args)


def test_a_table_with_another_key_schema_is_refused(table):
    create_plain_table(table, key="id")
    for args in ((), ("--check",)):
        with pytest.raises(CommandError, match="sessions need partition key 'pk'"):
            run(*args)


def test_the_command_exits_non_zero_and_honours_aws_endpoint_url_dynamodb(
    moto_server_url, fake_credentials
):
    # These settings, ENDPOINT_URL unset: boto3 finds the endpoint in the environment.
    env = {
        **os.environ,
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_server_url,
        "DJANGO_SETTINGS_MODULE": "tests.session_engines.settings",
    }
    name = settings.SESSION_DYNAMODB["TABLE_NAME"]

    def django_admin(*args):
        args = [sys.executable, "-m", "django", "createsessiontable", *args]
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    failed = django_admin("--check")
    assert failed.returncode == 1
    assert f"table {name} does not exist" in failed.stderr
    created = django_admin("--delay=0.05")
    assert created.returncode == 0, created.stderr
    assert f"created table {name}" in created.stdout
    assert django_admin("--check").returncode == 0
    client = boto3.client("dynamodb", endpoint_url=moto_server_url, region_name="us-east-1")
    client.delete_table(TableName=name)


def test_clearsessions_sweeps_expired_sessions(table):
    run()
    live, expired = SessionStore(), SessionStore()
    expired.set_expiry(-60)
    for store in (live, expired):
        store["a"] = 1
        store.save()
    call_command("clearsessions")
    keys = [item["pk"]["S"] for item in dynamodb.call("scan")["Items"]]
    assert keys == [session_id(live.session_key)]
