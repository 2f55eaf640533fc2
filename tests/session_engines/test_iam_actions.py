"""The package README lists exactly the DynamoDB actions the engine, commands and operator call."""

import re
from pathlib import Path

from django.core.management import call_command

from harness.dynamodb import iam_actions
from session_engines.backends.dynamodb import SessionStore
from session_engines.operators.dynamodb import DynamoDBOperator

from .helpers import create_plain_table

README = Path(__file__).resolve().parents[2] / "session_engines" / "README.md"


def readme_actions():
    rows = [line for line in README.read_text().splitlines() if line.startswith("| ")]
    return {action for row in rows for action in re.findall(r"`dynamodb:(\w+)`", row)}


def test_the_readme_lists_every_action_called_and_no_other(table, api_calls):
    create_plain_table(table, key="pk")  # a first-version table: the command adds the index
    call_command("createsessiontable", "--delay=0.05")
    call_command("createsessiontable", "--check")
    store = SessionStore()
    store["_auth_user_id"] = "alice"
    store.save()
    store = SessionStore(store.session_key)
    store.load()
    store.cycle_key()
    store.save()
    operator = DynamoDBOperator()
    operator.list()
    operator.get(operator.for_user("alice")[0].id)
    operator.delete("0" * 64)
    operator.delete_for_user("alice")
    expired = SessionStore()
    expired.set_expiry(-1)
    expired.save()
    call_command("clearsessions")
    store.delete()
    needed = {
        a
        for name, params in zip(api_calls, api_calls.params, strict=True)
        for a in iam_actions(name, params)
    }
    assert needed == readme_actions()
