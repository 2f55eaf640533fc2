"""Real servers on free loopback ports, as context managers that always stop what they start."""

import contextlib
import shutil
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


@contextlib.contextmanager
def running(args, *, port, log=None, timeout=15.0, **popen):
    """Start ``args``, wait until ``port`` accepts connections, yield the process, stop it."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        wait_for_port(port, process=process, timeout=timeout)
        yield process
    finally:
        stop(process)
        if log:
            out.close()


@contextlib.contextmanager
def redis_server(port=None, *extra_args):
    """A throwaway redis-server on loopback that keeps nothing on disk. Yields its URL."""
    from .redis import redis_node  # harness.redis builds on this module

    with redis_node(*extra_args, port=port) as node:
        yield node.url
