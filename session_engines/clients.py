"""One store client per process and configuration, as boto3's and redis-py's docs advise.

A client is made on first use, so after gunicorn forks its workers, and a client inherited from
a parent process is dropped, never shared: its sockets belong to the parent.
"""

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any


class Clients(dict):
    """The clients of one engine: (pid, *options) -> client."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def get_or_make(self, options: tuple[Hashable, ...], make: Callable[[], Any]) -> Any:
        """Return this process's client for ``options``, made by ``make()`` the first time."""
        key = (os.getpid(), *options)
        client = self.get(key)
        if client is None:
            with self._lock:
                for stale in [k for k in self if k[0] != key[0]]:
                    del self[stale]  # inherited from the parent process: never shared
                if key not in self:
                    self[key] = make()
                client = self[key]
        return client
