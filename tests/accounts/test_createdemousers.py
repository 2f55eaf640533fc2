"""manage.py createdemousers: alice and bob, idempotent, passwords from the env or shown once."""

import re
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from accounts.management.commands.createdemousers import PASSWORD_VARIABLE


def run():
    out = StringIO()
    call_command("createdemousers", stdout=out)
    return out.getvalue()


def test_random_passwords_are_shown_once_and_work(db, monkeypatch):
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    first = run()
    passwords = dict(re.findall(r"^(\w+): created, password (\S+) \(shown once\)$", first, re.M))
    assert set(passwords) == {"alice", "bob"} and passwords["alice"] != passwords["bob"]
    for username, password in passwords.items():
        assert User.objects.get(username=username).check_password(password)
    again = run()
    assert again.splitlines() == ["alice: exists, unchanged", "bob: exists, unchanged"]
    assert not any(password in again for password in passwords.values())
    assert User.objects.get(username="alice").check_password(passwords["alice"])
    assert User.objects.count() == 2


def test_the_environments_password_is_set_and_kept(db, monkeypatch):
    monkeypatch.setenv(PASSWORD_VARIABLE, "plum-harbour-7-lantern")
    assert "alice: created, password from" in run()
    assert run().splitlines()[0] == f"alice: exists, password as {PASSWORD_VARIABLE}"
    monkeypatch.setenv(PASSWORD_VARIABLE, "a-new-harbour-8-lantern")
    assert "alice: updated" in run()
    assert User.objects.get(username="bob").check_password("a-new-harbour-8-lantern")
    assert "plum" not in run()  # never printed


def test_a_weak_password_is_refused_and_creates_no_one(db, monkeypatch):
    monkeypatch.setenv(PASSWORD_VARIABLE, "password")
    with pytest.raises(CommandError, match="too common"):
        run()
    assert not User.objects.exists()
