"""``python -m harness.nearcache --quick``: the near cache's measurements still run, on Redis
and on Valkey, and their figures add up (no timing assertions)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("server", ["redis", "valkey"])
def test_the_quick_run_writes_its_figures(tmp_path, server):
    command = [sys.executable, "-m", "harness.nearcache", "--quick", "--server", server]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "nearcache.json").read_text())
    assert result["server"] == server
    delay = result["revocation_delay_ms"]
    assert delay["p50"] <= delay["p99"] <= delay["max"]
    assert 0 < result["bytes_per_cached_session"]
    assert result["load_us"]["near_cache"] > 0 and result["load_us"]["get"] > 0
    assert set(result["decode_us"]) == {"format_1", "format_2", "plain_json"}
    assert set(result["request_us"]) == {"signed_cookies", "near_cache", "get"}
    table = (tmp_path / "nearcache.md").read_text()
    assert "revocation delay" in table and table in done.stdout
