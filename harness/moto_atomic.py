"""moto with DynamoDB's atomic conditional writes: ``python -m harness.moto_atomic`` is
``python -m moto.server`` with them.

moto evaluates a write's condition and then writes, in two steps and with no lock, so two
threads (moto server serves each request on a thread of its own) can both pass the same
condition: both of two "PutItem if the version is still 3" succeed. DynamoDB's conditional
writes are atomic, and the engine's compare-and-set relies on exactly that. ``make_atomic()``
runs moto's item operations one at a time, so the tests exercise what DynamoDB guarantees.
"""

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend

LOCK = threading.RLock()
ITEM_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)


def make_atomic():
    """Serialize moto's DynamoDB item operations on one lock (once per process)."""
    for name in ITEM_OPERATIONS:
        operation = getattr(DynamoDBBackend, name)
        if getattr(operation, "atomic", False):
            continue

        @functools.wraps(operation)
        def atomic(*args, _operation=operation, **kwargs):
            with LOCK:
                return _operation(*args, **kwargs)

        atomic.atomic = True
        setattr(DynamoDBBackend, name, atomic)


if __name__ == "__main__":
    from moto.server import main

    make_atomic()
    main()
