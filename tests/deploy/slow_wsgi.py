"""Test-only WSGI app for gunicorn: the real one, plus ``/slow/<path>``, which waits, then serves
``<path>`` from the real app. It touches ``$SLOW_STARTED`` on arrival, so a test knows the request
is in flight before it sends SIGTERM. Never used by the product."""

import os
import time
from pathlib import Path

from sessiondemo.wsgi import application as django_application


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/slow/"):
        Path(os.environ["SLOW_STARTED"]).touch()
        time.sleep(float(os.environ.get("SLOW_SECONDS", "3")))
        environ = {**environ, "PATH_INFO": path.removeprefix("/slow")}
    return django_application(environ, start_response)
