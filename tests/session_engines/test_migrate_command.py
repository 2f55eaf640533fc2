"""``manage.py sessions migrate``: the bulk copy, from every source engine (Django's own
included) to one of ours: batched, resumable, idempotent, safe beside live traffic."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from session_engines import migration as copying
from session_engines.exceptions import SessionStoreUnavailable
from session_engines.ids import session_id
from session_engines.operators import operator_for

from .helpers import NAMES, SOURCES, Migration, key_of, log_in, user_id, user_info, with_cookie


@pytest.fixture(params=list(SOURCES))
def migration(request, settings, db):
    return Migration(request.param, request, settings)


def copy(*args):
    out = io.StringIO()
    call_command("sessions", "migrate", *args, stdout=out)
    return out.getvalue()


def signed_in(migration):
    """A session per user on the old engine: {key: user id}."""
    return {key_of(log_in(user)): user_id(user) for user in NAMES for _ in range(2)}


def summary(output):
    return output.splitlines()[-1]


def test_the_copy_moves_every_session_and_nobody_is_logged_out(migration):
    keys = signed_in(migration)
    expires = {r.id: r.expires for r in operator_for(migration.old_engine).list(limit=50).records}
    output = copy("--batch", "2")  # SESSION_MIGRATE's FROM and TO
    assert summary(output) == (
        "Done: copied 6, skipped as expired 0, already present 0, ended meanwhile 0, failed 0."
    )
    assert len(re.findall(r"^page \d+: ", output, re.M)) > 1  # batched, a line per page
    assert migration.new_ids() == {session_id(key) for key in keys}
    assert not any(migration.in_old(key) for key in keys)  # moved: none left behind
    migration.switch(migration.new_engine)  # the new engine alone
    assert {key: user_info(with_cookie(key))["userId"] for key in keys} == keys
    for record in operator_for(migration.new_engine).list(limit=50).records:
        assert abs(record.expires - expires[record.id]) < timedelta(seconds=2)  # kept


def test_a_second_run_copies_nothing_twice(migration):
    keys = signed_in(migration)
    # A run that wrote its copies but died before its deletes: the sessions are in both stores.
    write = copying.creator(migration.new_engine)
    for record in operator_for(migration.old_engine).list(limit=50).records:
        assert write(record.id, record.data, record.expires)
    assert all(migration.in_old(key) for key in keys)
    assert "copied 0, skipped as expired 0, already present 6," in summary(copy())
    assert not any(migration.in_old(key) for key in keys)  # the stale copies deleted
    assert migration.new_ids() == {session_id(key) for key in keys}
    assert "copied 0, skipped as expired 0, already present 0," in summary(copy())


def test_a_session_in_both_stores_is_kept_as_a_request_left_it(migration, monkeypatch):
    key = next(iter(signed_in(migration)))
    migration.switch()
    with monkeypatch.context() as patch:  # the move's delete from the old store fails
        patch.setattr(migration.old(), "delete", lambda self, session_key=None: None)
        assert with_cookie(key).post("/remember").status_code == 200  # moved, then changed
    assert migration.in_old(key)
    blob = migration.new()(key).load()["blob"]
    assert "copied 5, skipped as expired 0, already present 1," in summary(copy())
    assert migration.new()(key).load()["blob"] == blob  # not overwritten by the old copy


class Interrupted(io.StringIO):
    """The command's output, until the first page's line: then the run is stopped (Ctrl-C)."""

    def write(self, text):
        super().write(text)
        if text.startswith("page 1:"):
            raise KeyboardInterrupt


def test_the_copy_resumes_at_a_printed_cursor(migration):
    keys = signed_in(migration)
    out = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        call_command("sessions", "migrate", "--batch", "2", stdout=out)
    first_page = out.getvalue().splitlines()[1]
    copied_first, cursor = re.match(r"page 1: copied (\d+),.*; cursor (\S+)$", first_page).groups()
    assert 0 < int(copied_first) < len(keys)
    output = copy("--batch", "2", "--cursor", cursor)
    assert summary(output).startswith(f"Done: copied {len(keys) - int(copied_first)}, ")
    assert migration.new_ids() == {session_id(key) for key in keys}
    assert not any(migration.in_old(key) for key in keys)


def test_sessions_expired_before_their_copy_are_skipped(migration, monkeypatch):
    signed_in(migration)
    later = copying.now() + timedelta(weeks=3)  # past every session's expiry
    monkeypatch.setattr(copying, "now", lambda: later)
    assert "copied 0, skipped as expired 6," in summary(copy())
    assert migration.new_ids() == set()


def test_a_session_ended_while_it_is_copied_is_not_brought_back(migration, monkeypatch):
    keys = list(signed_in(migration))
    create = copying.creator

    def logged_out_meanwhile(engine):
        write = create(engine)

        def write_after_a_logout(id, data, expires):
            if id == session_id(keys[0]):
                migration.old()().delete(keys[0])  # a logout, after the walk read it
            return write(id, data, expires)

        return write_after_a_logout

    monkeypatch.setattr(copying, "creator", logged_out_meanwhile)
    assert "copied 5, skipped as expired 0, already present 0, ended meanwhile 1," in summary(
        copy()
    )
    assert migration.new_ids() == {session_id(key) for key in keys[1:]}


def test_failures_are_counted_and_a_second_run_copies_them(migration, monkeypatch):
    keys = signed_in(migration)
    create = copying.creator

    def down_for_one(engine):
        write = create(engine)

        def refuse_one(id, data, expires):
            if id == session_id(next(iter(keys))):
                raise SessionStoreUnavailable("the target refused")
            return write(id, data, expires)

        return refuse_one

    with monkeypatch.context() as patch:
        patch.setattr(copying, "creator", down_for_one)
        out = io.StringIO()
        with pytest.raises(CommandError, match="1 session"):
            call_command("sessions", "migrate", stdout=out)
        assert "copied 5, skipped as expired 0, already present 0, ended meanwhile 0, failed 1" in (
            out.getvalue()
        )
    assert migration.in_old(next(iter(keys)))  # the one that failed stays where it was
    assert "copied 1, skipped as expired 0, already present 0," in summary(copy())
    assert migration.new_ids() == {session_id(key) for key in keys}


def test_a_target_that_is_not_ours_is_refused(migration):
    with pytest.raises(CommandError, match="not an engine sessions can be copied to"):
        copy("--to", "django.contrib.sessions.backends.db")
