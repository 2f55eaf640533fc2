"""Concurrent requests on one DynamoDB session, on moto, moto server and dynalite.

Each update is a PutItem conditional on the version read; a conflict re-reads and re-applies.
"""

from harness.race import lost_updates, resurrections
from session_engines.backends.dynamodb import SessionStore


def test_simultaneous_saves_lose_nothing(ddb, api_calls):
    race = lost_updates(SessionStore, writers=8, rounds=10)
    assert (race.sent, race.lost, race.errors) == (80, 0, 0)
    assert race.conflicts > 0
    # A conflict costs one GetItem and one PutItem more: every PutItem but one per round was
    # refused or retried, and each retry read the item again.
    puts = api_calls.count("PutItem") - 1  # the session's creation
    assert puts == race.sent + race.conflicts


def test_a_save_racing_a_delete_never_resurrects(ddb):
    assert resurrections(SessionStore, pairs=30) == 0
