"""Real servers on free loopback ports, as context managers that always stop what they start."""

import contextlib
import shutil
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, *, process=None, timeout=15.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def require(program):
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        raise RuntimeError(f"{program} is not installed; run: sudo apt-get install -y {program}")
    return path


def stop(process, timeout=5.0):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Server:
    """A server process on a fixed loopback port that can crash and come back: ``kill`` is a
    SIGKILL, ``restart`` the same command again on the same port (what a store's restart does
    to what it held)."""

    def __init__(self, args, *, port, log=None, timeout=15.0, **popen):
        self.args = list(args)
        self.port = port
        self.log = log
        self.timeout = timeout
        self.popen = popen
        self.process = None

    def start(self):
        """Start, and return once the port accepts connections."""
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, **self.popen
            )
        finally:
            if self.log:
                out.close()  # the child holds its own copy
        wait_for_port(self.port, process=self.process, timeout=self.timeout)

    def kill(self, sig=signal.SIGKILL):
        """SIGKILL (by default): the server dies as a crashed machine does, nothing flushed."""
        self.process.send_signal(sig)
        self.process.wait()

    def restart(self, *extra_args, sig=signal.SIGKILL):
        """Kill (``sig``), then start the same command (plus ``extra_args``) on the same port."""
        self.kill(sig)
        self.args += extra_args
        self.start()

    def stop(self):
        if self.process is not None:
            stop(self.process)


@contextlib.contextmanager
def server(args, *, port, log=None, timeout=15.0, **popen):
    """Start ``args``, wait until ``port`` accepts connections, yield the Server, stop it."""
    running_server = Server(args, port=port, log=log, timeout=timeout, **popen)
    try:
        running_server.start()
        yield running_server
    finally:
        running_server.stop()


@contextlib.contextmanager
def running(args, *, port, log=None, timeout=15.0, **popen):
    """Start ``args``, wait until ``port`` accepts connections, yield the process, stop it."""
    with server(args, port=port, log=log, timeout=timeout, **popen) as started:
        yield started.process


@contextlib.contextmanager
def redis_server(port=None, *extra_args):
    """A throwaway redis-server on loopback that keeps nothing on disk. Yields its URL."""
    from .redis import redis_node  # harness.redis builds on this module

    with redis_node(*extra_args, port=port) as node:
        yield node.url
