"""``python -m harness.instructions``: each operation's instructions per call, and each
request's, under callgrind. Counts only (no time): the engine's load is the raw client's GET and
more, and a read request is that load and Django's request handling around it."""

import json

from harness import instructions


def test_the_counts_come_out_per_call_with_the_raw_client_and_the_requests_beside(tmp_path):
    operations = "raw_get,redis_load,redis_read"
    argv = ["--operations", operations, "--calls", "20", "--requests", "3", "--out", str(tmp_path)]
    assert instructions.main(argv) == 0
    counts = json.loads((tmp_path / "instructions.json").read_text())
    assert set(counts) == set(operations.split(","))
    assert 0 < counts["raw_get"] < counts["redis_load"]  # the engine's load sends that GET
    assert counts["redis_load"] < counts["redis_read"]  # a read request loads the session
    table = (tmp_path / "instructions.md").read_text()
    assert f"| redis load | {counts['redis_load']:,} | {counts['raw_get']:,} |" in table
    assert f"| read |  | {counts['redis_read']:,} |  |" in table  # no Django row measured
