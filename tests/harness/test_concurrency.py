"""``python -m harness.concurrency``: parallel updates of one session through HAProxy, counted.

Small on purpose (2 sessions x 4 parallel x 2 rounds). Whether updates are lost is the engines'
business; here the figures must add up and the losses be what GET /prefs really answers.
"""

import json
import re

import pytest
import requests

from harness import concurrency
from harness.ha import cluster

SESSIONS, PARALLEL, ROUNDS = 2, 4, 2
SMALL = ["--sessions", str(SESSIONS), "--parallel", str(PARALLEL), "--rounds", str(ROUNDS)]


def test_writes_the_table_and_the_counts_add_up(tmp_path, capsys):
    assert concurrency.main(["--engines", "redis,cache", *SMALL, "--out", str(tmp_path)]) == 0

    saved = json.loads((tmp_path / "concurrency.json").read_text())
    assert saved["settings"] == {
        "sessions": SESSIONS,
        "parallel": PARALLEL,
        "rounds": ROUNDS,
        "instances": 2,
        "lb": "rr",
    }
    rows = saved["rows"]
    assert [row["engine"] for row in rows] == ["redis", "cache"]
    for row in rows:
        assert row["sent"] == SESSIONS * PARALLEL * ROUNDS
        assert 0 <= row["lost"] <= row["sent"]
        assert row["lost_pct"] == round(100 * row["lost"] / row["sent"], 1)
        assert row["conflicts"] >= 0
        assert row["errors_5xx"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert sum(row["served_by"].values()) == row["sent"]
        assert set(row["served_by"]) == {"app1", "app2"}  # round-robin spread the updates

    table = (tmp_path / "concurrency.md").read_text()
    lines = table.splitlines()
    assert lines[0] == (
        "| engine | updates sent | updates lost | lost (%) | conflicts retried | 5xx "
        "| p50 (ms) | p99 (ms) |"
    )
    assert len(lines) == 2 + len(rows)
    for line, row in zip(lines[2:], rows, strict=True):
        assert re.fullmatch(
            rf"\| {row['engine']} \| 16 \| {row['lost']} \| {row['lost_pct']} \| "
            rf"{row['conflicts']} \| 0 \| [\d.]+ \| [\d.]+ \|",
            line,
        )
    assert table in capsys.readouterr().out


def test_lost_updates_are_the_names_get_prefs_lacks():
    with cluster("redis") as running:
        result = concurrency.measure(
            running.url, sessions=SESSIONS, parallel=PARALLEL, rounds=ROUNDS
        )
        # Read every session again, independently of the harness.
        answers = []
        for key in result.keys:
            response = requests.get(f"{running.url}/prefs", cookies={"sessionid": key}, timeout=10)
            answers.append(response.json())

    assert len(set(result.keys)) == SESSIONS
    assert result.rounds == ROUNDS
    assert len(result.posts) == SESSIONS * PARALLEL * ROUNDS
    assert all(post.status == 200 for post in result.posts)
    names = {f"r{r}-{i}" for r in range(ROUNDS) for i in range(PARALLEL)}
    assert answers == result.prefs
    lost = 0
    for index, prefs in enumerate(answers):
        assert set(prefs) <= names  # nothing but this run's names
        for name, value in prefs.items():
            assert value == f"s{index}-{name}"  # each session only ever holds its own values
        lost += len(names - set(prefs))
    assert result.summary()["lost"] == lost


def test_counting_a_lost_update():
    sent = {"r0-0": "a", "r0-1": "b", "r0-2": "c"}
    assert concurrency.count_lost(sent, sent) == 0
    assert concurrency.count_lost(sent, {"r0-0": "a"}) == 2  # missing
    assert concurrency.count_lost(sent, {**sent, "r0-1": "x"}) == 1  # overwritten


def test_a_deadline_stops_the_rounds_and_says_how_many_ran():
    with cluster("cache") as running:
        result = concurrency.measure(
            running.url, sessions=1, parallel=2, rounds=ROUNDS, timeout=0.0
        )
    assert result.rounds == 0
    assert result.posts == []
    assert result.summary()["sent"] == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--engines", "db"], "unknown engine: db"),
        (["--engines", "nosuch"], "unknown engine: nosuch"),
        (["--sessions", "0"], "--sessions must be between 1 and 200"),
        (["--parallel", "33"], "--parallel must be between 1 and 32"),
        (["--rounds", "501"], "--rounds must be between 1 and 500"),
        (["--timeout", "0"], "--timeout must be positive"),
    ],
)
def test_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        concurrency.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults_are_the_brief_and_skip_the_per_instance_engine():
    args = concurrency.parse_args([])
    assert (args.sessions, args.parallel, args.rounds) == (20, 8, 50)
    assert [engine.name for engine in args.engines] == ["postgres", "cache", "redis", "dynamodb"]


@pytest.mark.parametrize("engine", ["redis", "dynamodb", "postgres"])
def test_no_update_is_lost_through_the_load_balancer(engine):
    # 8 parallel requests per session, on two instances behind HAProxy: each keeps its key.
    with cluster(engine) as running:
        result = concurrency.measure(running.url, sessions=4, parallel=8, rounds=3)
    summary = result.summary()
    assert result.rounds == 3
    assert (summary["sent"], summary["lost"], summary["errors_5xx"]) == (96, 0, 0)
    assert summary["conflicts"] > 0  # they did collide, on two instances, and were merged
