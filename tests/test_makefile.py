"""``make test`` runs both suites and the compatibility run whatever the others did, and fails
if any of them failed. Checked with stand-ins for the suites: nothing is installed or run."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Its prerequisites (the venv, system packages, node modules, lint) taken as made.
PREREQUISITES = ["-o", "venv", "-o", "system-packages", "-o", "node-modules", "-o", "lint"]


def make_test(python, compat):
    """``make test`` with ``python`` for the suites' interpreter and ``compat`` for the
    compatibility run (which ``make test`` starts as ``$(MAKE) test-compat``)."""
    return subprocess.run(
        ["make", "-s", *PREREQUISITES, "test", f"PY={python}", f"MAKE={compat}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("suites", "compat", "fails"),
    [("true", "true", False), ("false", "true", True), ("true", "false", True)],
)
def test_make_test_runs_the_compatibility_suite_always_and_fails_if_any_failed(
    suites, compat, fails
):
    result = make_test(suites, f"echo compat ran; {compat}")
    assert "compat ran" in result.stdout, result.stderr  # even after the suites failed
    assert (result.returncode != 0) is fails
