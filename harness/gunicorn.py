"""One app instance: a gunicorn process group on a fixed loopback port.

The port stays with the slot across restarts, so the load balancer's configuration never
changes during a deploy (like an ECS task replaced behind the same target group).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent


class Instance:
    def __init__(self, *, name, port, env, log):
        self.name = name
        self.port = port
        self.env = env
        self.log = log
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # How it serves: one worker of 4 threads (gunicorn.conf.py's kind, its access log too).
    workers = ["--worker-class", "gthread", "--workers", "1", "--threads", "4"]

    def args(self):
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "sessiondemo.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.workers,
            "--graceful-timeout",
            "5",
            "--timeout",
            "30",
        ]

    def start(self, timeout=30.0):
        """Start, and return once /healthz answers 200."""
        self.launch()
        self.wait_healthy(timeout)

    def launch(self):
        with open(self.log, "ab") as out:
            # Its own process group: a SIGKILL takes the master and its workers at once,
            # like a machine dying, and nothing is left behind.
            self.process = subprocess.Popen(
                self.args(),
                cwd=BASE_DIR,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s; see {self.log}")

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL the whole process group: requests in flight are lost.

        Returns once the port refuses connections: a dying worker can still hold the
        listening socket for a moment after its master is gone.
        """
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            wait_closed(self.port)

    def stop(self, timeout=10.0):
        """Graceful: SIGTERM lets gunicorn finish the requests in flight; SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # also reaps any worker that outlived its master


def wait_closed(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.01)
    raise TimeoutError(f"127.0.0.1:{port} still accepts connections after {timeout}s")
