"""Sessions in DynamoDB: ``SESSION_ENGINE = "session_engines.backends.dynamodb"``.

Item layout (one item per session):

- ``pk`` (S): the SHA-256 hex digest of the session key. The raw key, a live credential, is
  never stored, so a table export, backup or stream cannot be replayed as cookies.
- ``data``: Django's encoded (JSON, signed) session; a String, or zlib-compressed Binary when
  it is at least ``COMPRESS_MIN_BYTES`` long.
- ``expires`` (N): epoch seconds, the table's TTL attribute. TTL deletes items up to days late,
  so expiry is also checked on every read.
- ``ver`` (N): the version, 1 when created and one more on every update: each update is a
  compare-and-set on it (``session_engines.backends.base``).
- ``uid`` (S): the user id (``session_engines.users.user_id_of``), only when there is one; the
  ``uid-index`` GSI lists one user's sessions (``session_engines.operators.dynamodb``).

Round trips: load = one GetItem; create = one conditional PutItem (no exists() read first);
update = one PutItem conditional on the version (a conflict costs one GetItem and one PutItem
more); delete = one DeleteItem; cycle_key() writes nothing, and the save that follows is one
TransactWriteItems: the new item put (if new) and the old one deleted, atomically. A
DynamoDB-compatible store without transactions (dynalite) gets a PutItem, then a DeleteItem:
still written before deleted, one round trip more. With
``SESSION_POLICY["MAX_SESSIONS_PER_USER"]``, a user's sign-in first Queries the ``uid-index``
(one round trip more), then its transaction also deletes the user's sessions beyond the limit
(soonest to expire first), each only if still that user's: the new session and those
deletions land together or not at all. The index is eventually consistent, so sign-ins less
than its lag apart may leave more than the limit until the next one (best effort, documented).

Configuration: the ``SESSION_DYNAMODB`` dict, read at use time (``options()``), checked by
``session_engines.checks``. ``python manage.py createsessiontable`` creates the table.
"""

import json
import logging
import time
import zlib
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.contrib.sessions.backends.base import CreateError

from ..clients import Clients
from ..conf import setting
from ..exceptions import SessionStoreUnavailable, SessionTooLarge
from ..ids import encodable, session_id
from ..policy import session_limit
from ..users import user_id_of
from .base import ConditionalSessionBase, Stored, VersionConflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger("session_engines.backends.dynamodb")
suspicious = logging.getLogger("django.security.SuspiciousSession")

# The key schema: createsessiontable, the operator and deployment templates read these.
KEY_ATTRIBUTE = "pk"
DATA_ATTRIBUTE = "data"
EXPIRES_ATTRIBUTE = "expires"
VERSION_ATTRIBUTE = "ver"
USER_ATTRIBUTE = "uid"
USER_INDEX = "uid-index"

MAX_ITEM_BYTES = 400_000  # DynamoDB allows 400 KiB with attribute names; keep a margin
NUMBER_BYTES = 21  # the most a Number can take
USER_ID_MAX_BYTES = 2048  # an index key: 1 to 2048 bytes
TRANSACTION_MAX = 100  # items in one TransactWriteItems

DEFAULTS: dict[str, Any] = {
    "TABLE_NAME": "sessions",
    "REGION_NAME": None,  # None: boto3's chain (AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config)
    "ENDPOINT_URL": None,  # None: boto3's AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL, or AWS
    "CONSISTENT_READ": True,
    "COMPRESS_MIN_BYTES": 1024,
    "CLIENT_CONFIG": {},  # botocore Config options, over CLIENT_DEFAULTS
    # Every success must carry x-amz-crc32 (DynamoDB always sends it); False for a compatible
    # store that does not (ScyllaDB's Alternator by default). A header sent is always checked.
    "REQUIRE_CRC32": True,
}
CLIENT_DEFAULTS: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 3},  # 3 tries in all
    "connect_timeout": 1,
    "read_timeout": 2,
    "max_pool_connections": 10,
}


def options() -> dict[str, Any]:
    """SESSION_DYNAMODB over the defaults, read now (never at import)."""
    return DEFAULTS | setting("SESSION_DYNAMODB", {})


def table_name() -> str:
    return options()["TABLE_NAME"]


_clients = Clients()  # one per process, made after fork


def client_config(overrides: dict[str, Any]) -> dict[str, Any]:
    """botocore Config options: ours, then the project's; ``retries`` stays in standard mode."""
    config = CLIENT_DEFAULTS | overrides
    config["retries"] = {"mode": "standard", **config["retries"]}
    return config


def get_client() -> "DynamoDBClient":
    opts = options()
    config = client_config(opts["CLIENT_CONFIG"])
    return _clients.get_or_make(
        (opts["REGION_NAME"], opts["ENDPOINT_URL"], repr(sorted(config.items()))),
        lambda: checked(
            boto3.session.Session().client(
                "dynamodb",
                region_name=opts["REGION_NAME"],
                endpoint_url=opts["ENDPOINT_URL"],
                config=Config(**config),
            )
        ),
    )


class ForeignResponse(BotoCoreError):
    """A 2xx answer that is not DynamoDB's: a proxy's page, a truncated or altered body."""

    fmt = "Not a DynamoDB response to {operation}: {reason}"


# What DynamoDB always sends in a success, per operation (GetItem has no Item when there is no
# such item, so only its type is checked): a missing one is a foreign or truncated answer.
ALWAYS_SENT = {
    "Query": {"Items": list, "Count": int},
    "Scan": {"Items": list, "Count": int},
    "BatchGetItem": {"Responses": dict},
    "DescribeTable": {"Table": dict},
}
SENT_AS = {"Item": dict, "Attributes": dict, "LastEvaluatedKey": dict}


def checked(client):
    """Return ``client``, every success it receives checked to be DynamoDB's (``ForeignResponse``
    otherwise): without a check, a proxy's 200 page or ``{}`` would read as "no such session"."""
    client.meta.events.register("before-parse.dynamodb", check_response)
    return client


def check_response(operation_model, response_dict, **kwargs):
    """Raise ForeignResponse unless a 2xx answer has DynamoDB's request id, a CRC32 of its body
    that matches (``x-amz-crc32``, which DynamoDB always sends), a JSON object for a body, and
    the fields DynamoDB always sends. Before botocore parses it: its parser takes ``{}`` for an
    empty answer, and fails on a field of the wrong type."""
    if not 200 <= response_dict["status_code"] < 300:
        return  # errors are the caller's: anything but a failed condition is a 503 already
    headers, body = response_dict["headers"], response_dict["body"]
    reason = foreign(operation_model.name, headers, body, options()["REQUIRE_CRC32"])
    if reason:
        raise ForeignResponse(operation=operation_model.name, reason=reason)


def foreign(operation, headers, body, require_crc32=True):
    """Return why a success is not DynamoDB's, or None when it is."""
    if not headers.get("x-amzn-RequestId"):
        return "no x-amzn-RequestId header"
    crc = headers.get("x-amz-crc32")
    if crc is None and require_crc32:
        return "no x-amz-crc32 header"
    if crc is not None and (not crc.isdigit() or int(crc) != zlib.crc32(body) & 0xFFFFFFFF):
        return f"the body's CRC32 is not its x-amz-crc32 header ({crc})"
    try:
        parsed = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(parsed, dict):
        return "the body is not a JSON object"
    required = ALWAYS_SENT.get(operation, {})
    for field, kind in (required | SENT_AS).items():
        if field in parsed or field in required:
            value = parsed.get(field)
            if not isinstance(value, kind) or isinstance(value, bool):  # (bool is an int)
                return f"{field} is missing or not a {kind.__name__}"
    return None


def indexable(user_id):
    """Return whether a user id can be the index's key: 1 to 2048 bytes of UTF-8."""
    return encodable(user_id) and 0 < len(user_id.encode()) <= USER_ID_MAX_BYTES


def key_of(session_key):
    return {KEY_ATTRIBUTE: {"S": session_id(session_key)}}


def is_condition_failure(error):
    """Return whether a ClientError is a failed condition (in a transaction too)."""
    code = error.response["Error"]["Code"]
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return code == "ConditionalCheckFailedException"


def is_unknown_operation(exc):
    """Return whether the store does not implement the operation (dynalite: transactions)."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and "UnknownOperation" in cause.response["Error"]["Code"]


def call(operation, **kwargs):
    """One API call on the sessions table.

    A failed condition is the caller's business (CreateError, UpdateError) and comes back as
    the ClientError. Anything else (throttling after botocore's retries, timeouts, 5xx, a
    missing table or credentials, a success that is not DynamoDB's: ``ForeignResponse``) is
    SessionStoreUnavailable: the middleware answers 503 (a write that timed out may still have
    been applied; its retry is safe, every write being conditional).
    """
    if not operation.startswith(("batch_", "transact_")):  # these name tables per item
        kwargs["TableName"] = table_name()
    try:
        return getattr(get_client(), operation)(**kwargs)
    except ClientError as exc:
        if is_condition_failure(exc):
            raise
        code = exc.response["Error"]["Code"]
        raise SessionStoreUnavailable(f"DynamoDB {operation} failed: {code}: {exc}") from exc
    except BotoCoreError as exc:
        raise SessionStoreUnavailable(f"DynamoDB {operation} failed: {exc}") from exc


def item_size(item):
    """An upper bound of the item's size as DynamoDB counts it (names + values)."""
    size = 0
    for name, value in item.items():
        ((kind, raw),) = value.items()
        size += len(name.encode()) + (
            NUMBER_BYTES if kind == "N" else len(raw.encode() if kind == "S" else raw)
        )
    return size


def ensure_fits(item):
    """SessionTooLarge before anything is written, rather than DynamoDB's ValidationException."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise SessionTooLarge(
            f"The session is {size} bytes stored, over the {MAX_ITEM_BYTES}-byte item limit; "
            "nothing was written. Keep less in the session."
        )


def condition(expression, names, values=None):
    """Return the keyword arguments of a conditional write."""
    kwargs = {"ConditionExpression": expression, "ExpressionAttributeNames": names}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    return kwargs


def same_user(item):
    """Return the condition that an item is gone or still the user's of ``item``."""
    names = {"#k": KEY_ATTRIBUTE, "#u": USER_ATTRIBUTE}
    return condition("attribute_not_exists(#k) OR #u = :u", names, {":u": item[USER_ATTRIBUTE]})


def user_sessions(user_id):
    """Return ``[(id, expires epoch)]`` of one user's live sessions, from the user index."""
    if not indexable(user_id):  # never in the index (SessionStore.to_item)
        return []
    query = {
        "IndexName": USER_INDEX,
        "KeyConditionExpression": "#u = :u",
        "ExpressionAttributeNames": {"#u": USER_ATTRIBUTE},
        "ExpressionAttributeValues": {":u": {"S": user_id}},
    }
    sessions, now = [], time.time()
    while True:
        page = call("query", **query)
        sessions += [
            (item[KEY_ATTRIBUTE]["S"], int(item[EXPIRES_ATTRIBUTE]["N"]))
            for item in page["Items"]
            if is_live(item, now)
        ]
        if "LastEvaluatedKey" not in page:
            return sessions
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def is_live(item, now=None):
    try:
        return int(item[EXPIRES_ATTRIBUTE]["N"]) > (time.time() if now is None else now)
    except (KeyError, ValueError):
        return False


class SessionStore(ConditionalSessionBase):
    operator = "session_engines.operators.dynamodb.DynamoDBOperator"  # sees and ends its sessions

    # --- item <-> session ----------------------------------------------------------------

    def to_item(self, session_dict, version):
        """Return the item that stores ``session_dict`` under this key, at ``version``."""
        encoded = self.encode(session_dict)
        if len(encoded) >= options()["COMPRESS_MIN_BYTES"]:
            # The encoded string is base64 text: deflating wins back about a quarter.
            data = {"B": zlib.compress(encoded.encode(), 6)}
        else:
            data = {"S": encoded}
        item = {
            **key_of(self.session_key),
            DATA_ATTRIBUTE: data,
            EXPIRES_ATTRIBUTE: {"N": str(int(time.time()) + self.get_expiry_age())},
            VERSION_ATTRIBUTE: {"N": str(version)},
        }
        user_id = user_id_of(session_dict)
        if user_id and indexable(user_id):
            item[USER_ATTRIBUTE] = {"S": user_id}
        return item

    def from_item(self, item):
        """Return the session dict of a stored item; corrupt data is logged and reads as {}."""
        data = item.get(DATA_ATTRIBUTE, {})
        try:
            if "B" in data:
                encoded = zlib.decompress(data["B"]).decode()
            else:
                encoded = data["S"]
        except (KeyError, zlib.error, UnicodeDecodeError) as exc:
            suspicious.warning("Session data corrupted: unreadable %s (%s)", DATA_ATTRIBUTE, exc)
            return {}
        return self.decode(encoded)  # a bad signature is logged there, and reads as {}

    # --- the store operations (session_engines.backends.base) ------------------------------

    def _read(self, session_key):
        item = call(
            "get_item", Key=key_of(session_key), ConsistentRead=options()["CONSISTENT_READ"]
        ).get("Item")
        if item is None or not is_live(item):
            return None
        return Stored(self.from_item(item), int(item.get(VERSION_ATTRIBUTE, {}).get("N", 0)))

    def _create_record(self, data, replacing):
        item = self.to_item(data, 1)
        ensure_fits(item)
        new = {"Item": item, **condition("attribute_not_exists(#k)", {"#k": KEY_ATTRIBUTE})}
        deletes = [] if replacing is None else [{"Key": key_of(replacing)}]
        ended = self._oldest_beyond_limit(data, item, replacing)
        deletes += [{"Key": {KEY_ATTRIBUTE: {"S": id}}, **same_user(item)} for id in ended]
        try:
            if not deletes:
                call("put_item", **new)
            else:  # written before the others are deleted, atomically
                put = {"Put": {**new, "TableName": table_name()}}
                deleted = [{"Delete": {**d, "TableName": table_name()}} for d in deletes]
                try:
                    call("transact_write_items", TransactItems=[put, *deleted])
                except SessionStoreUnavailable as exc:
                    if not is_unknown_operation(exc):
                        raise
                    call("put_item", **new)  # a store without transactions: in steps
                    for delete in deletes:
                        call("delete_item", **delete)
        except ClientError as exc:  # only a failed condition comes back as ClientError
            raise CreateError from exc
        self._revoked(ended, item.get(USER_ATTRIBUTE, {}).get("S"))
        return 1

    def _oldest_beyond_limit(self, data, item, replacing):
        """Return the ids of the user's sessions a new ``item`` pushes over the limit.

        Read from the user index, which is eventually consistent: sign-ins less than its lag
        apart (typically under a second) may each miss the other, and leave the user more
        sessions than the limit until their next sign-in.
        """
        limit = session_limit(data) if USER_ATTRIBUTE in item else None
        if limit is None:
            return []
        skip = {item[KEY_ATTRIBUTE]["S"], None if replacing is None else session_id(replacing)}
        others = [s for s in user_sessions(limit[0]) if s[0] not in skip]
        others.sort(key=lambda session: (session[1], session[0]))  # soonest to expire first
        count = max(0, len(others) - limit[1] + 1)
        return [id for id, _ in others[: min(count, TRANSACTION_MAX - 2)]]

    def _update_record(self, data, version):
        item = self.to_item(data, version + 1)
        ensure_fits(item)
        names = {"#v": VERSION_ATTRIBUTE, "#e": EXPIRES_ATTRIBUTE}
        values = {":v": {"N": str(version)}, ":now": {"N": str(int(time.time()))}}
        try:  # only the version this request read, and only a live item: never resurrected
            call("put_item", Item=item, **condition("#v = :v AND #e > :now", names, values))
        except ClientError as exc:
            raise VersionConflict from exc  # re-read: gone (UpdateError) or saved meanwhile
        return version + 1

    def _delete_record(self, session_key):
        call("delete_item", Key=key_of(session_key))

    @classmethod
    def clear_expired(cls):
        """TTL deletes expired items late: sweep them all now (``manage.py clearsessions``)."""
        cls._swept(delete_expired())


def delete_expired(*, page_size=1000):
    """Scan every page for expired items and delete them 25 at a time; how many were."""
    scan = {
        "ProjectionExpression": "#k",
        "FilterExpression": "#e <= :now",
        "ExpressionAttributeNames": {"#k": KEY_ATTRIBUTE, "#e": EXPIRES_ATTRIBUTE},
        "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
        "Limit": page_size,
    }
    deleted = 0
    while True:
        page = call("scan", **scan)
        keys = page["Items"]  # each holds only the key
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            batch_delete(keys[start : start + BATCH_WRITE_MAX])
        deleted += len(keys)
        if "LastEvaluatedKey" not in page:
            return deleted
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


BATCH_WRITE_MAX = 25
BATCH_ATTEMPTS = 8


def batch_delete(keys):
    requests = {table_name(): [{"DeleteRequest": {"Key": key}} for key in keys]}
    batch("batch_write_item", requests, unprocessed="UnprocessedItems")


def batch(operation, request_items, *, unprocessed):
    """A batch call, repeated (with backoff) for what DynamoDB left unprocessed; the responses."""
    responses = []
    for attempt in range(BATCH_ATTEMPTS):
        if attempt:
            time.sleep(min(0.05 * 2**attempt, 2.0))
        responses.append(call(operation, RequestItems=request_items))
        request_items = responses[-1].get(unprocessed)
        if not request_items:
            return responses
    raise SessionStoreUnavailable(
        f"DynamoDB left {operation} unprocessed after {BATCH_ATTEMPTS} tries"
    )
