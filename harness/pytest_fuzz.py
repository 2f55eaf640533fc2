"""One seed per run for every hypothesis test, said in the header and replayable after a failure.

Registered by both suites' conftest (``pytest_plugins``). Without ``--hypothesis-seed=N`` a run
draws a random seed, so each CI run fuzzes different cases; the header says
``hypothesis seed: N`` and, when a test failed, the summary ends with the command that replays
the same cases: ``replay: pytest --hypothesis-seed=N <the failed tests>`` (with
``HYPOTHESIS_PROFILE=long`` in front after a long run).
"""

import os
import random

import pytest


@pytest.hookimpl(trylast=True)  # after hypothesis's own plugin read --hypothesis-seed
def pytest_configure(config):
    from hypothesis import core

    if core.global_force_seed is None:
        core.global_force_seed = random.SystemRandom().randrange(2**32)
    config.stash[SEED] = core.global_force_seed


SEED = pytest.StashKey[int]()


def pytest_report_header(config):
    seed = config.stash[SEED]
    return f"hypothesis seed: {seed} (the same cases again: pytest --hypothesis-seed={seed})"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    failed = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    if not failed:
        return
    # Node ids are relative to the rootdir (tests/session_engines for the app's suite).
    root = os.path.relpath(config.rootpath, config.invocation_params.dir)
    nodeids = " ".join(sorted({os.path.normpath(os.path.join(root, r.nodeid)) for r in failed}))
    profile = os.environ.get("HYPOTHESIS_PROFILE")  # the long run's cases differ (make fuzz)
    env = f"HYPOTHESIS_PROFILE={profile} " if profile else ""
    seed = config.stash[SEED]
    terminalreporter.write_line(f"replay: {env}pytest --hypothesis-seed={seed} {nodeids}")
