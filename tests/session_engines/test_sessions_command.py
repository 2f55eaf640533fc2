"""``manage.py sessions list|show|revoke``, on every engine with an operator."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from harness.servers import free_port
from session_engines.ids import session_id

from .helpers import (
    INDEXED_ENGINES,
    NOBODY,
    OPERATOR_ENGINES,
    UNINDEXED_ENGINES,
    engines,
    ids_of,
    key_of,
    log_in_several,
    new_client,
    user_id,
    user_info,
)


def sessions(*args):
    out = io.StringIO()
    call_command("sessions", *args, stdout=out)
    return out.getvalue()


@engines(OPERATOR_ENGINES)
def test_list_show_revoke_one(engine):
    logged_in = log_in_several()
    keys = [key_of(client) for clients in logged_in.values() for client in clients]
    listing = sessions("list")
    assert "4 session(s)." in listing
    assert {line.split()[0] for line in listing.splitlines()[:-1]} == {session_id(k) for k in keys}
    rows = {line.split()[0]: line.split()[1:3] for line in listing.splitlines()[:-1]}
    for user, clients in logged_in.items():
        assert all(rows[session_id(key_of(c))] == [user_id(user), user] for c in clients)
    assert sessions("list", "--limit", "3").endswith("3 session(s).\n")
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    shown = sessions("show", bob_id)
    assert bob_id in shown and f"User     {user_id('bob')}\nName     bob\n" in shown
    revoked = sessions("revoke", bob_id)
    assert revoked == f"Ended session {bob_id}.\n"
    assert user_info(bob) == NOBODY
    with pytest.raises(CommandError, match="No live session"):
        sessions("show", bob_id)
    with pytest.raises(CommandError, match="No live session"):
        sessions("revoke", bob_id)
    for output in (listing, shown, revoked):
        assert not any(key in output for key in keys)


@engines(INDEXED_ENGINES)
def test_list_and_revoke_by_user(engine):
    logged_in = log_in_several()
    alice = logged_in["alice"]
    alice_id = user_id("alice")
    listing = sessions("list", "--user", alice_id)
    assert {line.split()[0] for line in listing.splitlines()[:-1]} == ids_of(alice)
    ended = sessions("revoke", "--user", alice_id)
    assert ended == f"Ended 2 session(s) of user {alice_id}.\n"
    assert all(user_info(client) == NOBODY for client in alice)
    assert user_info(logged_in["carol"][0])["userId"] == user_id("carol")
    assert sessions("list", "--user", alice_id) == "0 session(s).\n"


@engines(UNINDEXED_ENGINES)
def test_by_user_says_the_engine_cannot_index(engine):
    logged_in = log_in_several()
    alice_id = user_id("alice")
    for args in (("list", "--user", alice_id), ("revoke", "--user", alice_id)):
        with pytest.raises(CommandError, match="no per-user index"):
            sessions(*args)
    assert all(user_info(client)["userId"] == alice_id for client in logged_in["alice"])


@engines(["db", "redis"])
def test_names_come_from_the_user_model_whatever_logs_them_in(engine, settings):
    assert not hasattr(settings, "SESSION_USER_ID_PATH")  # the user is django.contrib.auth's
    assert not hasattr(settings, "SESSION_USER_NAME_PATH")
    dana = User.objects.create_user("dana", password="dana-password-1")
    member = new_client()
    assert member.login(username="dana", password="dana-password-1")  # not /sign-in
    (line, total) = sessions("list").splitlines()
    assert line.split()[:3] == [session_id(key_of(member)), str(dana.pk), "dana"]
    shown = sessions("show", session_id(key_of(member)))
    assert f"User     {dana.pk}\nName     dana\n" in shown
    assert sessions("revoke", "--user", str(dana.pk)) == f"Ended 1 session(s) of user {dana.pk}.\n"


@engines(["db"])
def test_bad_arguments(engine):
    with pytest.raises(CommandError, match="at least 1"):
        sessions("list", "--limit", "0")
    with pytest.raises(CommandError, match="one of the arguments id --user is required"):
        sessions("revoke")


def test_store_outage_is_a_clear_error(db, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    nowhere = {**settings.CACHES["sessions"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    settings.CACHES = {**settings.CACHES, "sessions": nowhere}
    with pytest.raises(CommandError, match="session store is unavailable"):
        sessions("list")
