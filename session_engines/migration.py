"""Move every session from one engine's store to another's: ``manage.py sessions migrate``.

The source is walked page by page through its operator's ``list()`` (batched; the cursor after
each page resumes the walk). Each live session is written to the target under its id, the
key's digest, which is how our engines store it, keeping its expiry; then it is deleted from
the source, as the migrating engine's moves do. It works from any engine with an operator
(Django's db and cache, ours) to any of ours built on the compare-and-set (db, redis,
dynamodb). The target needs no raw key; deleting from a store of raw keys (Django's engines)
uses the key the operator read there, never shown.

Safe while the site serves traffic (on ``session_engines.backends.migrate``):

- Each write is a conditional create: a session already in the target (moved by a request, or
  by an earlier run) is left as it is, counted as already present, and its stale source copy
  deleted. Running twice copies nothing twice.
- Written before deleted, never the reverse. A session ended in the source (logout, revoke)
  after the walk read it would be brought back by its copy: when the delete from the source
  finds it gone, the copy is deleted too (counted as ended meanwhile).
- Nothing is left behind in the source: a copy left there could be moved back by the migrating
  engine after the new engine alone had ended the session.

Cost: per session, one conditional write to the target and one delete from the source (ours: a
delete that says whether it existed; Django's: an exists and a delete); per page, what the
source's ``list()`` costs.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .backends import base
from .exceptions import SessionStoreUnavailable, unavailable_on_outage
from .operators import operator_for
from .users import user_id_of


@dataclass
class Summary:
    copied: int = 0
    expired: int = 0  # skipped: expired before it could be copied
    present: int = 0  # already in the target: left as it is
    ended: int = 0  # ended in the source while it was being copied: the copy deleted
    failed: int = 0  # the target or source refused: run again to copy these
    pages: int = 0
    cursor: str | None = None  # where the next page starts; None when the walk is done

    def __str__(self):
        return (
            f"copied {self.copied}, skipped as expired {self.expired}, already present "
            f"{self.present}, ended meanwhile {self.ended}, failed {self.failed}"
        )


def now():
    return timezone.now()


def copy_sessions(*, source, target, cursor=None, batch=500, progress=None):
    """Move the sessions of engine ``source`` to engine ``target``; the Summary.

    ``cursor`` resumes an earlier walk; ``progress(summary)`` is called after each page. A walk
    that moved anything is followed by another from the start, until one moves nothing: pages
    by offset (Django's db engine) shift under the walk's own deletes and skip sessions.
    """
    old, new = operator_for(source), operator_for(target)
    create, source_class = creator(target), import_string(f"{source}.SessionStore")

    def take(record):
        """Delete the session from the source; whether it was still there."""
        if record.key is None:  # ours: by id, one delete that says whether it existed
            return old.delete(record.id)
        store = source_class()  # Django's: by its key (the operator would scan for the id)
        found = store.exists(record.key)
        store.delete(record.key)
        return found

    summary = Summary(cursor=cursor)
    while True:
        moved, summary.failed = 0, 0  # failures: those of the last walk, still in the source
        while True:  # one walk, from the cursor to the end
            page = old.list(cursor=summary.cursor, limit=batch)
            for record in page.records:
                outcome = copy_one(record, create=create, take=take, delete=new.delete)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                moved += outcome in MOVED
            summary.pages += 1
            summary.cursor = page.cursor
            if progress is not None:
                progress(summary)
            if summary.cursor is None:
                break
        if not moved:
            return summary


MOVED = ("copied", "present", "ended")  # gone from the source


def copy_one(record, *, create, take, delete):
    """Move one session; the name of the Summary field it counts in."""
    expires = record.expires or now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    if expires <= now() + timedelta(seconds=1):
        return "expired"
    try:
        if not create(record.id, record.data, expires):
            take(record)  # the target's is the session (a request moved it): the old one goes
            return "present"
        if not take(record):  # ended in the source meanwhile: never resurrect it
            delete(record.id)
            return "ended"
    except SessionStoreUnavailable:
        return "failed"
    return "copied"


# --- Creating a session by its id, in each of our engines' stores -------------------------------


def creator(engine):
    """Return ``create(id, data, expires) -> bool`` for ``engine``'s store (False: present)."""
    store_class = import_string(f"{engine}.SessionStore")
    if not issubclass(store_class, base.ConditionalSessionBase):
        raise ValueError(f"{engine} is not an engine sessions can be copied to")
    for module, create in CREATORS.items():
        if issubclass(
            store_class, import_string(f"session_engines.backends.{module}.SessionStore")
        ):
            return lambda id, data, expires: create(store_class(), id, data, expires)
    raise ValueError(f"No copy into {engine}")


def create_db(store, id, data, expires):
    model = store.get_model_class()
    row = model(
        session_key=id,
        session_data=store.encode(data),
        expire_date=expires,
        user_id=model.indexed_user_id(data),
        version=1,
    )
    using = router.db_for_write(model, instance=row)
    with unavailable_on_outage("session INSERT"):
        try:
            with transaction.atomic(using=using):
                row.save(force_insert=True, using=using)
        except IntegrityError:
            return False
    return True


def create_redis(store, id, data, expires):
    # As the engine's _create_record writes a new session, under the id; no session limit.
    from .backends import redis

    user_id = user_id_of(data)
    user = redis.user_digest(user_id)
    ttl = int((expires - now()).total_seconds())
    key, value = redis.session_key_name(id), redis.pack(store.encode(data), user)
    create = ("SET", key, f"1|{value}", "NX", "EX", ttl)
    if user_id is None:
        return bool(redis.call(*create, wait=True))
    index = redis.user_index_name(user_id)
    if redis.is_cluster(redis.connection()):  # one slot per script: the index in the pipeline
        return bool(redis.send(create, redis.INDEX_ADD.command([index], [id, ttl]), wait=True)[0])
    args = [value, ttl, id, "1", redis.user_index_prefix(), "", "0", user]
    return bool(redis.CREATE([key, index], [*args, redis.session_key_name("")], wait=True))


def create_dynamodb(store, id, data, expires):
    from .backends import dynamodb

    store._session_key = store._get_new_session_key()  # any key: to_item's pk is replaced
    store._session_cache = data
    item = store.to_item(data, 1) | {
        dynamodb.KEY_ATTRIBUTE: {"S": id},
        dynamodb.EXPIRES_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
    }
    dynamodb.ensure_fits(item)
    new = dynamodb.condition("attribute_not_exists(#k)", {"#k": dynamodb.KEY_ATTRIBUTE})
    try:
        dynamodb.call("put_item", Item=item, **new)
    except dynamodb.ClientError:  # only a failed condition comes back as ClientError
        return False
    return True


CREATORS = {"db": create_db, "redis": create_redis, "dynamodb": create_dynamodb}
