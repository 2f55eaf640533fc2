"""Cloud-like distance between the app and its store, on one machine: two ways to add it.

- ``netem_link(port, delay_ms)``: the store's traffic crosses a veth pair into a network
  namespace made for the run, ``tc netem`` delaying every packet on both ends (the kernel's own
  queueing, no process in the path but two plain forwarders). Needs ``sch_netem`` in the kernel;
  ``check_netem()`` tries it in a throwaway namespace and says so plainly when it is missing.
- ``relay(port, delay_ms)``: a userspace TCP relay in this process that holds every chunk for
  ``delay_ms`` in each direction; it works everywhere, at the cost of a little CPU per chunk.

Both yield ``(host, port)`` to connect to instead of the store's own loopback port, and remove
what they made on exit. ``python -m harness.netns forward LISTEN_HOST:PORT TO_HOST:PORT`` is the
forwarder run inside the namespace.
"""

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from .servers import free_port, require, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
NETEM_HINT = (
    "this kernel has no netem queueing discipline (sch_netem): `tc qdisc add ... netem` "
    "fails{detail}. Use --relay (a userspace relay adding the same delay) instead, or run on "
    "a kernel with CONFIG_NET_SCH_NETEM (most distribution kernels have it as a module)."
)


async def _pipe(reader, writer, delay, loop):
    """Copy in order, each chunk ``delay`` seconds after it arrived (not after the previous)."""
    chunks = asyncio.Queue()

    async def send():
        while (chunk := await chunks.get()) is not None:
            arrived, data = chunk
            if delay:
                await asyncio.sleep(max(0.0, arrived + delay - loop.time()))
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        while data := await reader.read(65536):
            chunks.put_nowait((loop.time(), data))
    except ConnectionError:
        pass
    finally:
        chunks.put_nowait(None)
        with contextlib.suppress(ConnectionError):
            await sender
        writer.close()


def _start_relay(loop, listen, target, delay_ms):
    """Start a relay on ``loop`` from ``listen`` to ``target`` ((host, port) each)."""
    delay = delay_ms / 1000

    async def connection(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection(*target)
        for stream in (client_writer, server_writer):  # every chunk sent at once
            stream.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        with contextlib.suppress(asyncio.CancelledError):  # the relay shutting down
            await asyncio.gather(
                _pipe(client_reader, server_writer, delay, loop),
                _pipe(server_reader, client_writer, delay, loop),
            )

    return loop.run_until_complete(asyncio.start_server(connection, *listen))


@contextlib.contextmanager
def _relay_thread(listen, target, delay_ms):
    """A relay from ``listen`` to ``target`` ((host, port) each) on a thread of its own."""
    loop = asyncio.new_event_loop()
    server = _start_relay(loop, listen, target, delay_ms)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield listen
    finally:

        async def shutdown():
            server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def relay(port, delay_ms, *, host="127.0.0.1"):
    """A TCP relay to ``host:port`` adding ``delay_ms`` each way; yields (host, port)."""
    return _relay_thread(("127.0.0.1", free_port()), (host, port), delay_ms)


def ip(*args, check=True):
    return subprocess.run(
        [require("ip"), *args], check=check, capture_output=True, text=True, timeout=10
    )


def check_netem():
    """Raise RuntimeError with a plain message unless netem works (tried in a throwaway netns)."""
    if os.geteuid() != 0:
        raise RuntimeError("--netem needs root (ip netns, tc); use --relay instead")
    if shutil.which("modprobe"):  # none on a machine without kmod: netem built in, or absent
        subprocess.run(["modprobe", "sch_netem"], capture_output=True, check=False)
    name = f"bench-probe-{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        tried = subprocess.run(
            [
                require("tc"),
                "-n",
                name,
                "qdisc",
                "add",
                "dev",
                "lo",
                "root",
                "netem",
                "delay",
                "1ms",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if tried.returncode != 0:
            raise RuntimeError(NETEM_HINT.format(detail=f" ({tried.stderr.strip()})"))
    finally:
        ip("netns", "del", name, check=False)


_links = iter(range(1, 250))


@contextlib.contextmanager
def netem_link(port, delay_ms):
    """The store on ``127.0.0.1:port`` reached across a veth pair that netem delays.

    app -> ns-address:P (veth, netem) -> forwarder in the namespace -> host-address:Q (veth,
    netem) -> forwarder here -> 127.0.0.1:port. Each way crosses the veth twice, so each end's
    netem holds a packet for half of ``delay_ms``: ``delay_ms`` each way in all.
    """
    check_netem()
    n = next(_links)
    name, host_if, ns_if = f"bench-{os.getpid()}-{n}", f"bnh{os.getpid() % 10000}x{n}", f"bnn{n}"
    host_addr, ns_addr = f"10.203.{n}.1", f"10.203.{n}.2"
    half = f"{delay_ms / 2:g}ms"
    ip("netns", "add", name)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", name)
        ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", name, "addr", "add", f"{ns_addr}/30", "dev", ns_if)
        ip("-n", name, "link", "set", ns_if, "up")
        ip("-n", name, "link", "set", "lo", "up")
        for args in (["dev", host_if], ["-n", name, "dev", ns_if]):
            netns_args, dev = args[:-2], args[-2:]
            subprocess.run(
                [require("tc"), *netns_args, "qdisc", "add", *dev, "root", "netem", "delay", half],
                check=True,
                capture_output=True,
            )
        back = free_port()
        # The host side listens on the veth's host address: all the namespace can reach.
        with _relay_thread((host_addr, back), ("127.0.0.1", port), 0):
            ns_port = free_port()
            command = [require("ip"), "netns", "exec", name, sys.executable, "-m"]
            command += ["harness.netns", "forward", f"{ns_addr}:{ns_port}", f"{host_addr}:{back}"]
            forwarder = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_for_port(ns_port, process=forwarder, host=ns_addr)
                yield ns_addr, ns_port
            finally:
                forwarder.terminate()
                forwarder.wait(5)
    finally:
        ip("netns", "del", name, check=False)  # takes the veth pair with it


def main(argv):
    """``forward LISTEN_HOST:PORT TO_HOST:PORT``: a plain forwarder, until terminated."""
    _, listen, target = argv
    (lhost, lport), (thost, tport) = (a.rsplit(":", 1) for a in (listen, target))
    loop = asyncio.new_event_loop()
    _start_relay(loop, (lhost, int(lport)), (thost, int(tport)), 0)
    loop.run_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
