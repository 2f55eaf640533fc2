"""``python -m harness.ha``: the table it writes, and nothing left running after a SIGTERM."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ha, report
from harness.haproxy import config

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def test_demo_writes_the_table_as_markdown_and_json(tmp_path, capsys):
    argv = ["--engines", "cache", "--faults", "none", "--users", "2", "--reads", "2"]
    assert ha.main([*argv, "--out", str(tmp_path)]) == 0

    rows = json.loads((tmp_path / "ha.json").read_text())["rows"]
    assert [(row["engine"], row["lb"], row["fault"]) for row in rows] == [("cache", "rr", "none")]
    assert rows[0]["kept_pct"] == 100.0
    assert rows[0]["requests"] == 2 * (1 + 2)  # a login and two reads each
    table = (tmp_path / "ha.md").read_text()
    assert table.startswith("| engine | LB mode | fault | sessions kept (%) |")
    assert "| cache | rr | none | 100.0 | 6 | 0 |" in table
    assert table in capsys.readouterr().out
    assert "<td>cache</td><td>rr</td><td>none</td>" in (tmp_path / "ha.html").read_text()
    assert (tmp_path / "ha.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--engines", "nosuch"], "unknown engine: nosuch"),
        (["--modes", "random"], "unknown mode: random"),
        (["--faults", "flood"], "unknown fault: flood"),
        (["--users", "0"], "--users must be between 1 and 200"),
    ],
)
def test_demo_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        ha.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_default_matrix_runs_sticky_for_the_local_engine_only():
    assert ha.ENGINES["db"].modes == ("rr", "sticky")
    assert all(engine.modes == ("rr",) for name, engine in ha.ENGINES.items() if name != "db")


def test_sticky_config_inserts_an_albs_cookie_and_redispatches():
    sticky = config(port=1, socket_path="/s", servers=[("app1", 2), ("app2", 3)], sticky=True)
    assert "cookie AWSALB insert indirect nocache maxlife 86400s" in sticky
    assert "server app1 127.0.0.1:2 check cookie app1" in sticky
    assert "option redispatch" in sticky
    plain = config(port=1, socket_path="/s", servers=[("app1", 2)], sticky=False)
    assert "AWSALB" not in plain and "server app1 127.0.0.1:2 check\n" in plain


def test_markdown_has_one_line_per_row():
    row = {
        "engine": "cache",
        "lb": "rr",
        "fault": "kill",
        "kept_pct": 100.0,
        "requests": 9,
        "errors_5xx": 1,
        "p50_ms": 1.5,
        "p99_ms": 9.0,
    }
    assert (
        report.markdown([row]).splitlines()[2]
        == "| cache | rr | kill | 100.0 | 9 | 1 | 1.5 | 9.0 |"
    )


def processes_with(marker):
    """PIDs whose environment carries ``marker`` (every process the demo started inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_sigterm_mid_deploy_stops_everything_the_demo_started(tmp_path):
    marker = f"HA_DEMO_RUN={secrets.token_hex(8)}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.ha",
            "--engines",
            "postgres",
            "--faults",
            "none,rolling",
            "--users",
            "2",
            "--reads",
            "200",
            "--out",
            str(tmp_path),
        ],
        cwd=BASE_DIR,
        env={**os.environ, marker.split("=")[0]: marker.split("=")[1]},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr.readline().startswith("[1/2] postgres rr none")
        # The rolling restart under way: postgres, 2 gunicorns, haproxy, ... (polled for)
        deadline = time.monotonic() + 60
        while len(processes_with(marker)) <= 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(processes_with(marker)) > 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 130
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 30
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
