"""The DynamoDB sessions table: create it (idempotently) and check it.

Used by ``manage.py createsessiontable``. The table: on-demand, partition key ``pk`` (S), TTL on
``expires``, and the ``uid-index`` GSI (partition key ``uid``, projecting ``expires``: enough to
find one user's live sessions without reading their data).
"""

import time

from botocore.exceptions import ClientError

from .backends.dynamodb import EXPIRES_ATTRIBUTE, KEY_ATTRIBUTE, USER_ATTRIBUTE, USER_INDEX

USER_INDEX_DEFINITION = {
    "IndexName": USER_INDEX,
    "KeySchema": [{"AttributeName": USER_ATTRIBUTE, "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": [EXPIRES_ATTRIBUTE]},
}
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"},
    {"AttributeName": USER_ATTRIBUTE, "AttributeType": "S"},
]


class TableError(Exception):
    """The table exists but cannot be made right by this command (say what is off)."""


def describe(client, name):
    """The table's description, or None when there is no such table."""
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def create_table(client, name):
    """CreateTable: on demand, the key schema and the user index (no TTL: enable_ttl)."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[USER_INDEX_DEFINITION],
    )


def wait_active(client, name, *, delay=2.0, timeout=600.0):
    """Until the table and all its indexes are ACTIVE (DynamoDB's waiter ignores indexes)."""
    deadline = time.monotonic() + timeout
    while True:
        table = describe(client, name) or {}
        statuses = [table.get("TableStatus")] + [
            index["IndexStatus"] for index in table.get("GlobalSecondaryIndexes", [])
        ]
        if all(status == "ACTIVE" for status in statuses):
            return
        if time.monotonic() > deadline:
            raise TableError(f"table {name} is not ACTIVE after {timeout:.0f}s: {statuses}")
        time.sleep(delay)


def key_problems(table):
    key_schema = [{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    if table["KeySchema"] != key_schema or types.get(KEY_ATTRIBUTE) != "S":
        return [
            f"table {table['TableName']} has key schema {table['KeySchema']}; sessions need "
            f"partition key {KEY_ATTRIBUTE!r} (S) and no sort key: use another TABLE_NAME"
        ]
    return []


def user_index(table):
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == USER_INDEX:
            return index
    return None


def index_problems(table):
    index = user_index(table)
    if index is None:
        return [f"index {USER_INDEX} is missing (createsessiontable adds it)"]
    problems = []
    if index["KeySchema"] != USER_INDEX_DEFINITION["KeySchema"]:
        problems.append(
            f"index {USER_INDEX} has key schema {index['KeySchema']}, not {USER_ATTRIBUTE!r} (HASH)"
        )
    projection = index["Projection"]
    projected = projection["ProjectionType"] == "ALL" or EXPIRES_ATTRIBUTE in projection.get(
        "NonKeyAttributes", []
    )
    if not projected:
        problems.append(f"index {USER_INDEX} does not project {EXPIRES_ATTRIBUTE!r}")
    return problems


def status_problems(table):
    statuses = {f"table {table['TableName']}": table["TableStatus"]} | {
        f"index {index['IndexName']}": index.get("IndexStatus", "ACTIVE")
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    return [
        f"{what} is {status}, not ACTIVE yet"
        for what, status in statuses.items()
        if status != "ACTIVE"
    ]


def ttl_status(client, name):
    description = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return description.get("TimeToLiveStatus"), description.get("AttributeName")


def ttl_problems(client, name):
    status, attribute = ttl_status(client, name)
    if status not in ("ENABLED", "ENABLING") or attribute != EXPIRES_ATTRIBUTE:
        return [
            f"TTL is {status} on {attribute!r}; it must be ENABLED on {EXPIRES_ATTRIBUTE!r} "
            "(createsessiontable enables it)"
        ]
    return []


def problems(client, name):
    """What is off with the table, as sentences; [] when it is right (``--check``)."""
    table = describe(client, name)
    if table is None:
        return [f"table {name} does not exist (run: python manage.py createsessiontable)"]
    found = key_problems(table) + index_problems(table) + status_problems(table)
    return found + ttl_problems(client, name)


def ensure_table(client, name, *, delay=2.0):
    """Create or complete the table; the list of what was done ([] when all was right)."""
    done = []
    table = describe(client, name)
    if table is None:
        create_table(client, name)
        done.append(f"created table {name} (on-demand, key {KEY_ATTRIBUTE}, index {USER_INDEX})")
    else:
        wrong = key_problems(table)
        if wrong:
            raise TableError(wrong[0])
        if user_index(table) is None:
            client.update_table(
                TableName=name,
                AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
                GlobalSecondaryIndexUpdates=[{"Create": USER_INDEX_DEFINITION}],
            )
            done.append(f"added index {USER_INDEX} to table {name}")
        else:
            wrong = index_problems(table)
            if wrong:
                raise TableError(f"{wrong[0]}: delete the index and run createsessiontable again")
    wait_active(client, name, delay=delay)
    status, attribute = ttl_status(client, name)
    if status in ("ENABLED", "ENABLING") and attribute != EXPIRES_ATTRIBUTE:
        raise TableError(
            f"TTL is already on attribute {attribute!r}; sessions need {EXPIRES_ATTRIBUTE!r}"
        )
    if status not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRES_ATTRIBUTE},
        )
        done.append(f"enabled TTL on {EXPIRES_ATTRIBUTE}")
    return done
