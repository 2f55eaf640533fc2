"""Sessions in DynamoDB: ``SESSION_ENGINE = "session_engines.dynamodb"``.

Item layout: ``pk`` = SHA-256 hex digest of the session key (the raw key, a live credential,
is never stored), ``data`` = Django's encoded (JSON, signed) session, ``expires`` = epoch
seconds (Number; the table's TTL attribute). Expiry is also checked on every read, because
DynamoDB's TTL deletes items late.

Configuration: the ``SESSION_DYNAMODB`` dict, read at use time.
"""

import hashlib
import logging
import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError

from .exceptions import SessionStoreUnavailable

logger = logging.getLogger("session_engines.dynamodb")

KEY_ATTRIBUTE = "pk"
DATA_ATTRIBUTE = "data"
EXPIRES_ATTRIBUTE = "expires"
USER_ATTRIBUTE = "uid"
USER_INDEX = "uid-index"

_clients = {}  # one client per process (and per endpoint/region), created after fork


def options():
    return {"TABLE_NAME": "sessions", "REGION_NAME": None, "ENDPOINT_URL": None} | getattr(
        settings, "SESSION_DYNAMODB", {}
    )


def get_client():
    opts = options()
    key = (os.getpid(), opts["REGION_NAME"], opts["ENDPOINT_URL"])
    if key not in _clients:
        _clients[key] = boto3.session.Session().client(
            "dynamodb",
            region_name=opts["REGION_NAME"],
            endpoint_url=opts["ENDPOINT_URL"],
            config=Config(
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=2,
                read_timeout=2,
            ),
        )
    return _clients[key]


def digest(session_key):
    return hashlib.sha256(session_key.encode()).hexdigest()


def condition_failed(error):
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class SessionStore(SessionBase):
    def _call(self, operation, **kwargs):
        """One API call; outages become SessionStoreUnavailable (the middleware's 503)."""
        try:
            return getattr(get_client(), operation)(TableName=options()["TABLE_NAME"], **kwargs)
        except ClientError as exc:
            if condition_failed(exc):
                raise
            raise SessionStoreUnavailable(f"DynamoDB {operation} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise SessionStoreUnavailable(f"DynamoDB {operation} failed: {exc}") from exc

    def load(self):
        if self.session_key is not None:
            item = self._call(
                "get_item", Key={KEY_ATTRIBUTE: {"S": digest(self.session_key)}}, ConsistentRead=True
            ).get("Item")
            if item and int(item[EXPIRES_ATTRIBUTE]["N"]) > time.time():
                return self.decode(item[DATA_ATTRIBUTE]["S"])
        self._session_key = None
        return {}

    def exists(self, session_key):
        if not session_key:
            return False
        item = self._call(
            "get_item", Key={KEY_ATTRIBUTE: {"S": digest(session_key)}}, ConsistentRead=True
        ).get("Item")
        return bool(item) and int(item[EXPIRES_ATTRIBUTE]["N"]) > time.time()

    def create(self):
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue  # a key collision: try another key
            self.modified = True
            return

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        item = {
            KEY_ATTRIBUTE: {"S": digest(self.session_key)},
            DATA_ATTRIBUTE: {"S": self.encode(data)},
            EXPIRES_ATTRIBUTE: {"N": str(int(time.time()) + self.get_expiry_age())},
        }
        # Create only if new; update only if it still exists (never resurrect a deleted one).
        condition = f"attribute_{'not_' if must_create else ''}exists({KEY_ATTRIBUTE})"
        try:
            self._call("put_item", Item=item, ConditionExpression=condition)
        except ClientError:
            raise CreateError if must_create else UpdateError

    def delete(self, session_key=None):
        session_key = session_key or self.session_key
        if session_key is None:
            return
        self._call("delete_item", Key={KEY_ATTRIBUTE: {"S": digest(session_key)}})

    @classmethod
    def clear_expired(cls):
        """TTL deletes expired items; this sweeps the ones it has not reached yet."""
        store = cls()
        now = int(time.time())
        paginator = get_client().get_paginator("scan")
        pages = paginator.paginate(
            TableName=options()["TABLE_NAME"],
            ProjectionExpression=KEY_ATTRIBUTE,
            FilterExpression=f"{EXPIRES_ATTRIBUTE} <= :now",
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )
        for page in pages:
            for item in page["Items"]:
                store._call("delete_item", Key={KEY_ATTRIBUTE: item[KEY_ATTRIBUTE]})
