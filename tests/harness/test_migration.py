"""``python -m harness.migration``: Django's db engine to Redis, and Redis to DynamoDB, through
HAProxy, under reads.

Small on purpose (3 users reading all along, 3 idle ones); the figures must add up, and no
session may be lost: the active users' sessions move as they are read, the idle ones' only by
the bulk copy, and after the roll only the new engine answers. The control (a rolling
switch) must lose some: the harness can see a loss.
"""

import pytest

from harness import migration


@pytest.mark.parametrize("path", migration.PATHS)
def test_no_session_is_lost_across_the_three_steps(path):
    figures = migration.run(path=path, users=3, idle=3, settle=0.3)

    assert figures["sessions_lost"] == 0
    assert figures["reads_lost"] == 0
    assert figures["errors_5xx"] == 0
    copy = figures["copy"]
    assert copy["failed"] == copy["ended_meanwhile"] == copy["skipped_as_expired"] == 0
    assert copy["copied"] >= 3  # the idle users': nobody else moved them
    assert figures["moved_by_requests"] > 0  # the active users' moved as they were read
    # The users' sessions and the warm-up login on each of the two blue instances.
    assert figures["moved_by_requests"] + copy["copied"] + copy["already_present"] == 6 + 2
    assert set(figures["reads_by_step"]) == {"before", "switch", "copy", "roll", "after"}
    assert all(reads > 0 for reads in figures["reads_by_step"].values())


def test_a_rolling_switch_logs_users_out():
    """The control: the old engine and the migrating one side by side (a rolling deploy), a
    session moved by one is not found by the other."""
    figures = migration.run(users=3, idle=0, settle=1.0, deploy="rolling")

    assert figures["sessions_lost"] > 0
    assert figures["reads_lost"] > 0


def test_counts_reads_the_commands_summary():
    line = "Done: copied 5, skipped as expired 1, already present 2, ended meanwhile 0, failed 3."
    assert migration.counts(line) == {
        "copied": 5,
        "skipped_as_expired": 1,
        "already_present": 2,
        "ended_meanwhile": 0,
        "failed": 3,
    }
