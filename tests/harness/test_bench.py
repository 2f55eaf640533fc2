"""``python -m harness.bench --quick``: every engine end to end still runs, and each request pays
the round trips the README's table says (counted at the store). No timing is asserted."""

import json
import socket
import threading

import pytest

from harness import bench, netns
from harness.servers import free_port

# Round trips at the store per request: sign-in, read, modify, re-login, logout.
ROUND_TRIPS = {
    "signed_cookies": [0, 0, 0, 0, 0],
    "django_db": [3, 1, 2, 6, 2],
    "django_cache": [4, 1, 3, 6, 1],
    "django_cached_db": [6, 1, 3, 10, 3],
    "db": [1, 1, 2, 3, 1],
    "cache": [3, 1, 2, 5, 1],
    "redis": [1, 1, 2, 2, 1],
    # Warm, a read costs none; a request after a write here or elsewhere misses once (GET and
    # PTTL pipelined: one round trip).
    "redis_near": [1, 0, 2, 2, 1],
    "dynamodb": [1, 1, 2, 2, 1],
    # On a cluster the old key's delete is a command of its own (another slot than the new key).
    "redis_cluster": [1, 1, 2, 3, 1],
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert bench.main(["--quick", "--out", str(out)]) == 0
    return out


def test_quick_run_writes_markdown_json_and_chart(quick_run):
    result = json.loads((quick_run / "bench.json").read_text())
    assert result["settings"]["network"] == "loopback"
    assert list(result["engines"]) == list(bench.ENGINES)
    assert len(result["rows"]) == len(bench.ENGINES) * len(bench.TYPES)
    for row in result["rows"]:
        assert row["errors"] == 0, row
        assert row["rps"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    table = (quick_run / "bench.md").read_text()
    for title in result["engines"].values():
        assert table.count(f"| {title} |") == 3  # ratios, latency, round trips
    assert (quick_run / "bench.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("engine", list(ROUND_TRIPS))
def test_round_trips_per_request_type(quick_run, engine):
    rows = json.loads((quick_run / "bench.json").read_text())["rows"]
    seen = {row["type"]: row["round_trips"]["total"] for row in rows if row["engine"] == engine}
    assert [seen[kind] for kind in bench.TYPES] == ROUND_TRIPS[engine]


def test_relay_carries_both_directions_intact():
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))

    def echo():
        connection, _ = listener.accept()
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    payload = bytes(range(256)) * 400
    with netns.relay(port, 1.0) as address, socket.create_connection(address) as client:
        client.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += client.recv(65536)
    listener.close()
    assert received == payload


def test_netem_works_or_says_to_use_the_relay():
    try:
        netns.check_netem()
    except RuntimeError as exc:  # a kernel without sch_netem (or not root): say what to do
        assert "--relay" in str(exc)
