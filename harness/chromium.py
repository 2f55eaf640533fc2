"""Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol.

No browser download and no driver: Chromium listens on a DevTools port it picks itself
(written to DevToolsActivePort in its throwaway profile) and we speak CDP over a websocket.
"""

import base64
import contextlib
import itertools
import json
import math
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import websocket

from .servers import require

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


class Page:
    def __init__(self, connection, timeout=15.0):
        self.connection = connection
        self.timeout = timeout
        self.ids = itertools.count(1)
        self.events = []
        self.responses = []  # (url, status, headers) of every response, from Network events

    def send(self, method, **params):
        """One CDP command; events that arrive meanwhile are kept for wait_for_event."""
        message_id = next(self.ids)
        self.connection.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = self.receive()
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def receive(self):
        message = json.loads(self.connection.recv())
        if message.get("method") == "Network.responseReceived":
            response = message["params"]["response"]
            headers = {name.lower(): value for name, value in response["headers"].items()}
            self.responses.append((response["url"], response["status"], headers))
        return message

    def wait_for_event(self, method):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    del self.events[: index + 1]
                    return event
            self.events.append(self.receive())
        raise TimeoutError(f"no {method} after {self.timeout}s")

    def loading(self, action):
        """Run ``action`` and return once the page it leads to has loaded."""
        self.events.clear()
        action()
        self.wait_for_event("Page.loadEventFired")

    def goto(self, url):
        self.loading(lambda: self.send("Page.navigate", url=url))

    def reload(self):
        self.loading(lambda: self.send("Page.reload", ignoreCache=True))

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path):
        """The whole page as a PNG file."""
        width, height = self.evaluate(
            "[document.documentElement.scrollWidth, document.body.getBoundingClientRect().bottom]"
        )
        width, height = math.ceil(width), math.ceil(height) + 16
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        png = self.send("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(png))

    def text(self, selector):
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent")


def devtools_port(profile, process, timeout=15.0):
    active = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if active.exists() and (lines := active.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.05)
    raise TimeoutError(f"chromium opened no DevTools port after {timeout}s")


@contextlib.contextmanager
def chromium():
    """A headless Chromium with a throwaway profile; yields its first tab as a Page."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        args = [require("chromium"), *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        with open(Path(profile) / "chromium.log", "ab") as log:
            process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "TMPDIR": profile},  # its scratch dirs go with the profile
            )
        try:
            port = devtools_port(profile, process)
            targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            target = next(t for t in targets if t["type"] == "page")
            connection = websocket.create_connection(
                target["webSocketDebuggerUrl"], timeout=15, suppress_origin=True
            )
            try:
                page = Page(connection)
                page.send("Page.enable")
                # The browser's own favicon request would take a turn in the round-robin.
                page.send("Network.enable")
                page.send("Network.setBlockedURLs", urls=["*/favicon.ico"])
                yield page
            finally:
                connection.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # any helper process left behind
            process.wait()
