"""The ``session_engines`` logger: sign-in, sign-out, rotation, revoke, policy expiry.

Each line names the session by its id (the key's digest) and the user; no line ever holds a
raw session key.
"""

import io
import json
import logging

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from session_engines.ids import session_id
from session_engines.policy import log

from .helpers import engines
from .signin import (
    JSON,
    PASSWORD,
    Clock,
    cookie,
    make_user,
    sign_in_as,
    use_auth_site,
    whoami_of,
)

INDEXED = engines(["db", "redis", "dynamodb"])


@pytest.fixture
def logged(caplog, engine, settings):
    use_auth_site(settings)
    caplog.set_level(logging.INFO, logger="session_engines")
    return caplog


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith("session_engines")]


@INDEXED
def test_every_event_is_logged_by_id_and_user_never_by_key(logged, settings, monkeypatch):
    clock = Clock(monkeypatch)
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 600, "MAX_SESSIONS_PER_USER": 3}
    alice = make_user("alice")
    uid = str(alice.pk)
    keys = []

    def signed_in():
        client = sign_in_as("alice")
        keys.append(cookie(client))
        return client

    phone, _laptop, tablet = signed_in(), signed_in(), signed_in()
    body = json.dumps({"password": PASSWORD})  # a new hash: a password change
    keys.append(cookie(phone))
    phone.post("/change-password", body, content_type=JSON)  # rotation
    keys.append(cookie(phone))
    tablet_id = session_id(cookie(tablet))
    phone.post(f"/sessions/{tablet_id}/end", content_type=JSON)  # end one device
    signed_in(), signed_in()  # the limit ends the oldest
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 600}  # no limit: nothing else ends these
    idle, fifth = signed_in(), signed_in()
    signed_out = session_id(cookie(fifth))
    fifth.post("/sign-out", content_type=JSON)
    clock.advance(600)
    assert whoami_of(idle) is None  # expired by the idle timeout
    sixth = signed_in()
    sixth.post("/logout-everywhere", content_type=JSON)
    staff = make_user("operator", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="delete_session"))
    admin = sign_in_as("operator")
    keys.append(cookie(admin))
    victim = signed_in()
    admin.post(f"/admin/session_engines/session/{session_id(cookie(victim))}/delete/")
    admin.post("/admin/session_engines/session/logout-everywhere/", {"user": uid})
    command_victim = signed_in()
    call_command("sessions", "revoke", session_id(cookie(command_victim)), stdout=io.StringIO())
    call_command("sessions", "revoke", "--user", uid, stdout=io.StringIO())

    logged_lines = lines(logged)
    text = "\n".join(logged_lines)
    for key in filter(None, keys):
        assert key not in text
    for event in [
        f"session signed-in id={session_id(keys[0])} user={uid}",
        f"session rotated id={session_id(keys[4])} user={uid} previous={session_id(keys[3])}",
        f"session revoked id={tablet_id} user={uid} by=end-device",
        "by=session-limit",
        f"session signed-out id={signed_out} user={uid}",
        f"user={uid} policy=idle",
        f"user={uid} by=logout-everywhere ended=",
        "user=- by=admin:operator",
        f"user={uid} by=admin:operator ended=",
        "by=command",
        f"user={uid} by=command ended=",
    ]:
        assert event in text, event
    assert all(line.startswith("session ") for line in logged_lines)


@engines(["db"])
def test_a_user_id_cannot_forge_a_log_line(logged, settings):
    log("revoked", user="x\nINFO session signed-in id=forged user=admin")
    (line,) = lines(logged)
    assert "\n" not in line and "\\n" in line
