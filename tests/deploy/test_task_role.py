"""The task role allows exactly the DynamoDB calls the engine makes, on its table, nothing else.

The calls are not a list written down here: botocore's event system records every operation the
engine's own client sends while the engine (and its operator, when there is one) runs its whole
life cycle under moto, against a table created from the template's own definition.
"""

from datetime import timedelta

import boto3
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from harness.dynamodb import iam_actions, tables_of
from session_engines.backends import dynamodb
from tests.deploy.template import load, properties

TABLE = "sessions-from-template"
ALICE = {"userId": "alice", "userNm": "Alice Kim"}
PASSWORD = "task-role-test-password"
SIGN_IN = {"username": "alice", "password": PASSWORD}


def table_resource(resource):
    """The template's ARN expressions for the table and its indexes, as "table[/index/NAME]"."""
    if resource == {"Fn::GetAtt": ["SessionsTable", "Arn"]}:
        return "table"
    prefix = "${SessionsTable.Arn}/index/"
    sub = resource.get("Fn::Sub", "") if isinstance(resource, dict) else ""
    assert sub.startswith(prefix) and "*" not in sub, f"not the sessions table: {resource}"
    return "table/index/" + sub.removeprefix(prefix)


def as_list(value):
    return value if isinstance(value, list) else [value]


def granted(template):
    """{"table" or "table/index/NAME": {"dynamodb:Action", ...}} from the task role."""
    role = properties(template, "TaskRole")
    assert set(role) <= {"Description", "AssumeRolePolicyDocument", "Policies"}  # nothing managed
    grants = {}
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}  # no NotAction
            actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
            for action in actions:
                assert action.startswith("dynamodb:") and "*" not in action, action
            for resource in resources:
                grants.setdefault(table_resource(resource), set()).update(actions)
    return grants


def create_table_from_template(template):
    table = properties(template, "SessionsTable")
    client = boto3.client("dynamodb", region_name="us-east-1")  # not the engine's: not recorded
    client.create_table(
        TableName=TABLE,
        **{key: table[key] for key in ("AttributeDefinitions", "KeySchema", "BillingMode")},
        GlobalSecondaryIndexes=[
            {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            for index in table.get("GlobalSecondaryIndexes", [])
        ],
    )
    client.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification=table["TimeToLiveSpecification"]
    )
    return client


def record_calls(client):
    """Every operation the client sends, as (resource, "dynamodb:Operation")."""
    calls = set()

    def record(params, model, **kwargs):
        tables = tables_of(params)
        assert tables == [TABLE], f"{model.name} on {tables}"
        resource = "table" + (f"/index/{params['IndexName']}" if "IndexName" in params else "")
        calls.update((resource, f"dynamodb:{action}") for action in iam_actions(model.name, params))

    client.meta.events.register("before-parameter-build.dynamodb", record)
    return calls


def exercise_engine(client):
    """A session's whole life: the seed's requests and a real sign-in through the middleware,
    the store's own API, and what operators run (clearsessions)."""
    from session_engines.backends.dynamodb import SessionStore

    assert client.post("/login", ALICE, content_type="application/json").json() == ALICE
    assert client.get("/session").json() == ALICE
    alice = User.objects.create_user("alice", password=PASSWORD)
    signed_in = client.post("/auth/login", SIGN_IN, content_type="application/json")
    assert signed_in.json()["user"]["username"] == "alice"  # under a new key (cycle_key)
    key = client.cookies["sessionid"].value
    assert SessionStore().exists(key)

    stale = SessionStore()
    stale["userInfo"] = {"userId": "bob", "userNm": "Bob"}
    stale.set_expiry(timezone.now() - timedelta(minutes=5))
    stale.save()
    call_command("clearsessions")  # clear_expired: what a cron or scheduled task runs
    assert not SessionStore().exists(stale.session_key)

    exercise_operator(str(alice.pk))
    assert client.post("/logout").status_code == 200
    assert not SessionStore().exists(key)


def exercise_operator(user_id):
    """The admin's view of sessions, when this engine has an operator."""
    from session_engines.operators import get_operator

    operator = get_operator()
    records = operator.list().records
    assert records
    assert operator.get(records[0].id) is not None
    if operator.supports_user_index:
        assert operator.for_user(user_id)
        operator.delete_for_user("nobody-with-this-id")
    operator.delete("0" * 64)


@pytest.fixture
def recorded_calls(aws, settings, client, db):
    settings.SESSION_ENGINE = "session_engines.backends.dynamodb"
    settings.SESSION_DYNAMODB = {"TABLE_NAME": TABLE, "REGION_NAME": "us-east-1"}
    create_table_from_template(load())
    calls = record_calls(dynamodb.get_client())  # the client the engine will use
    exercise_engine(client)
    return calls


def test_task_role_allows_exactly_the_calls_the_engine_makes(recorded_calls):
    needed = {}
    for resource, action in recorded_calls:
        needed.setdefault(resource, set()).add(action)
    assert granted(load()) == needed


def test_the_recorder_sees_every_call(recorded_calls):
    # The four calls any engine must make are among what was recorded, on the table itself.
    assert {action for _, action in recorded_calls} >= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
    }
    # Creating the table is CloudFormation's job, not the task's.
    assert not any(action == "dynamodb:CreateTable" for _, action in recorded_calls)


def test_task_role_is_only_for_ecs_tasks_of_this_account():
    statement = properties(load(), "TaskRole")["AssumeRolePolicyDocument"]["Statement"]
    assert statement == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
