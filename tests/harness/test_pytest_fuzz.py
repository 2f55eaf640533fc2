"""harness/pytest_fuzz.py: the seed in the header, and a failure's replay runs the same cases."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAILING = """
from hypothesis import given, settings, strategies as st

@settings(database=None)
@given(st.integers())
def test_fails_for_large_numbers(n):
    with open("drawn.txt", "a") as drawn:  # every case, in order
        drawn.write(f"{n}\\n")
    assert n < 10
"""


def run_pytest(tmp_path, *args):
    """Run the failing sample with the plugin; return pytest's output and the cases drawn."""
    (tmp_path / "test_sample.py").write_text(FAILING)
    (tmp_path / "drawn.txt").write_text("")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYPOTHESIS_PROFILE", None)
    plugins = ["-p", "harness.pytest_fuzz", "-p", "no:django", "-p", "no:cacheprovider"]
    command = [sys.executable, "-m", "pytest", *plugins, "test_sample.py"]
    result = subprocess.run(
        [*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    return result.stdout + result.stderr, (tmp_path / "drawn.txt").read_text()


def test_the_seed_is_in_the_header_and_the_replay_line_names_it(tmp_path):
    output, _ = run_pytest(tmp_path, "--hypothesis-seed=1234")
    assert "hypothesis seed: 1234" in output
    assert "replay: pytest --hypothesis-seed=1234 test_sample.py::test_fails_for_large_numbers" in (
        output
    )


def test_a_run_draws_a_seed_and_its_replay_draws_the_same_cases(tmp_path):
    output, drawn = run_pytest(tmp_path)
    seed = re.search(r"replay: pytest --hypothesis-seed=(\d+) ", output).group(1)
    assert f"hypothesis seed: {seed}" in output
    _, again = run_pytest(tmp_path, f"--hypothesis-seed={seed}")
    assert again == drawn and len(drawn.splitlines()) > 10
