"""Simultaneous sign-ins of one user, with real threads, under MAX_SESSIONS_PER_USER.

``sign_ins(SessionStore, ...)``: each round, ``threads`` threads each create a session for one
new user at the same moment (a barrier), as ``login()`` then the response's save do; what is
left in the store afterwards is counted. ``python -m tests.session_engines.signin_race`` runs it
for the engine DJANGO_SETTINGS_MODULE configures (its SESSION_POLICY set) and prints one JSON
line: the db engine's test databases live in the test process's own transactions.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth import SESSION_KEY

BARRIER_TIMEOUT = 60


def sign_ins(store_class, *, threads=8, rounds=5, close=None):
    """Return, per round, how many of the ``threads`` sessions created at once are left."""
    left = []
    with ThreadPoolExecutor(threads) as pool:
        for round_ in range(rounds):
            user_id = f"racer-{round_}"
            barrier = threading.Barrier(threads, timeout=BARRIER_TIMEOUT)

            def sign_in(n, user_id=user_id, barrier=barrier):
                store = store_class()
                store[SESSION_KEY] = user_id
                store["device"] = n
                barrier.wait()  # all at once
                try:
                    store.save()
                finally:
                    if close is not None:
                        close()
                return store.session_key

            keys = list(pool.map(sign_in, range(threads)))
            left.append(sum(store_class().exists(key) for key in keys))
    return left


def main():
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.utils.module_loading import import_string

    django.setup()
    call_command("migrate", verbosity=0)
    store_class = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    print(json.dumps({"left": sign_ins(store_class, close=connections.close_all)}))


if __name__ == "__main__":
    main()
