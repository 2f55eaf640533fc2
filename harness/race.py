"""Races on one session, with real threads: lost updates, resurrections, conflicts retried.

``lost_updates(SessionStore)``: each round, ``writers`` threads load one session, each sets a key
of its own, and all save at the same moment (a barrier); what a final load is missing was lost.
``resurrections(SessionStore)``: a save racing a delete of the same session; a session found
again after both is one brought back from the dead.

``python -m harness.race`` runs both in a fresh process for the engine that
DJANGO_SETTINGS_MODULE configures and prints one JSON line (used for the db engine on SQLite
and PostgreSQL, whose test databases live in the test process's own transactions).
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

BARRIER_TIMEOUT = 60


@dataclass
class Race:
    sent: int = 0
    lost: int = 0
    conflicts: int = 0  # write conflicts the engines retried
    errors: int = 0  # saves that raised (a retryable 503 in a real request)


def lost_updates(store_class, *, writers=8, rounds=10):
    """Return the ``Race`` of ``rounds`` rounds of ``writers`` simultaneous saves."""
    session = store_class()
    session["started"] = True
    session.save()
    key, race = session.session_key, Race()
    barrier = threading.Barrier(writers, timeout=BARRIER_TIMEOUT)

    def write(round_, writer):
        store = store_class(key)
        store.keys()  # loaded, as a request's view would
        barrier.wait()  # all loaded the same version; now all save at once
        store[f"r{round_}-w{writer}"] = writer
        try:
            store.save()
        except Exception:
            return None
        return getattr(store, "conflicts", 0)

    with ThreadPoolExecutor(writers) as pool:
        for round_ in range(rounds):
            results = list(pool.map(write, [round_] * writers, range(writers)))
            race.sent += writers
            race.errors += results.count(None)
            race.conflicts += sum(r for r in results if r is not None)
            stored = store_class(key).load()
            race.lost += sum(f"r{round_}-w{w}" not in stored for w in range(writers))
    return race


def resurrections(store_class, *, pairs=100):
    """Return how many of ``pairs`` sessions a save racing their delete brought back."""
    return sum(resurrected(store_class) for _ in range(pairs))


def resurrected(store_class):
    """Return whether a save racing the delete of its session brought the session back."""
    session = store_class()
    session["alive"] = True
    session.save()
    key = session.session_key
    saver = store_class(key)
    saver.keys()
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)

    def save():
        barrier.wait()
        saver["late"] = True
        try:
            saver.save()
        except Exception:
            pass  # UpdateError: the session was deleted first, as it should be

    def delete():
        barrier.wait()
        store_class().delete(key)

    threads = [threading.Thread(target=save), threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT)
    return store_class().exists(key)


def main():
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.utils.module_loading import import_string

    django.setup()
    call_command("migrate", verbosity=0)
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    result = asdict(lost_updates(store_class)) | {"resurrected": resurrections(store_class)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
