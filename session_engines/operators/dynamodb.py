"""See and end sessions of ``session_engines.backends.dynamodb`` (the protocol in ``operators``).

Ids are the stored partition keys (SHA-256 digests of the session keys), so nothing here ever
holds a raw key. Listing pages through a Scan; one user's sessions come from the ``uid-index``
GSI (which is eventually consistent, so every hit is read back consistently before use).
"""

import base64
import binascii
import json
import time
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from session_engines.backends import dynamodb
from session_engines.backends.dynamodb import (
    EXPIRES_ATTRIBUTE,
    KEY_ATTRIBUTE,
    USER_ATTRIBUTE,
    call,
    condition,
    is_condition_failure,
    is_live,
)

from ..ids import is_session_id
from . import Page, SessionRecord

SCANS_PER_PAGE = 10  # bound one list() call on a table full of expired items
BATCH_GET_MAX = 100


def encode_cursor(last_key):
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode()


def decode_cursor(cursor):
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if is_session_id(key[KEY_ATTRIBUTE]["S"]):
            return {KEY_ATTRIBUTE: {"S": key[KEY_ATTRIBUTE]["S"]}}
    except (ValueError, TypeError, KeyError, binascii.Error):
        pass
    raise ValueError("not a cursor from list()")


def key(id):
    return {KEY_ATTRIBUTE: {"S": id}}


class DynamoDBOperator:
    supports_user_index = True

    def __init__(self, session_engine=None):  # one engine, whatever its name
        pass

    def record(self, item):
        data = dynamodb.SessionStore().from_item(item)
        user = item.get(USER_ATTRIBUTE, {}).get("S")
        return SessionRecord(
            id=item[KEY_ATTRIBUTE]["S"],
            user_id=user,
            expires=datetime.fromtimestamp(int(item[EXPIRES_ATTRIBUTE]["N"]), UTC),
            size=dynamodb.item_size(item),
            data=data,
        )

    def list(self, *, cursor=None, limit=50):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        scan = {
            "FilterExpression": "#e > :now",
            "ExpressionAttributeNames": {"#e": EXPIRES_ATTRIBUTE},
            "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
        }
        if cursor:
            scan["ExclusiveStartKey"] = decode_cursor(cursor)
        records = []
        for _ in range(SCANS_PER_PAGE):
            # Limit counts items read before the filter: never more than the page has room for.
            page = call("scan", Limit=limit - len(records), **scan)
            records += [self.record(item) for item in page["Items"]]
            last = page.get("LastEvaluatedKey")
            if last is None:
                return Page(records=records, cursor=None)
            scan["ExclusiveStartKey"] = last
            if len(records) >= limit:
                break
        return Page(records=records, cursor=encode_cursor(scan["ExclusiveStartKey"]))

    def get(self, id):
        if not is_session_id(id):
            return None
        item = call("get_item", Key=key(id), ConsistentRead=True).get("Item")
        return self.record(item) if item and is_live(item) else None

    def delete(self, id):
        if not is_session_id(id):
            return False
        return "Attributes" in call("delete_item", Key=key(id), ReturnValues="ALL_OLD")

    def user_ids(self, user_id):
        """The ids the index holds for one user, live ones only (one Query per 1 MB page)."""
        return [id for id, _ in dynamodb.user_sessions(user_id)]

    def for_user(self, user_id):
        records = []
        ids = self.user_ids(user_id)
        for start in range(0, len(ids), BATCH_GET_MAX):
            for item in self.batch_get(ids[start : start + BATCH_GET_MAX]):
                # The index lags the table: keep what is still this user's and still live.
                if is_live(item) and item.get(USER_ATTRIBUTE, {}).get("S") == user_id:
                    records.append(self.record(item))
        return sorted(records, key=lambda record: record.expires, reverse=True)

    def batch_get(self, ids):
        table = dynamodb.table_name()
        request = {table: {"Keys": [key(id) for id in ids], "ConsistentRead": True}}
        responses = dynamodb.batch("batch_get_item", request, unprocessed="UnprocessedKeys")
        return [item for response in responses for item in response["Responses"].get(table, [])]

    def delete_for_user(self, user_id):
        ended = 0
        for id in self.user_ids(user_id):
            try:  # only if it is still this user's session (the index lags the table)
                same_user = condition("#u = :u", {"#u": USER_ATTRIBUTE}, {":u": {"S": user_id}})
                call("delete_item", Key=key(id), **same_user)
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
            else:
                ended += 1
        return ended
