"""``python -m harness.instructions``: each operation's instructions per call, under callgrind.
Counts only (no time): the engine's load is the raw client's GET and more."""

import json

from harness import instructions


def test_the_counts_come_out_per_call_with_the_raw_client_beside(tmp_path):
    assert (
        instructions.main(
            ["--operations", "raw_get,redis_load", "--calls", "20", "--out", str(tmp_path)]
        )
        == 0
    )
    counts = json.loads((tmp_path / "instructions.json").read_text())
    assert set(counts) == {"raw_get", "redis_load"}
    assert 0 < counts["raw_get"] < counts["redis_load"]  # the engine's load sends that GET
    table = (tmp_path / "instructions.md").read_text()
    assert f"| redis load | {counts['redis_load']:,} | {counts['raw_get']:,} |" in table
