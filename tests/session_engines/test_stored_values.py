"""Nothing fails on what a session holds: engines, the admin, the command, the views.

Lone surrogates (UTF-8 cannot encode them), control characters and huge values, stored as a
user id or a name, are saved and indexed (or left out of the index), shown escaped and
truncated, never a 500 or a traceback.
"""

import hashlib
import io

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils.module_loading import import_string

from session_engines.display import safe_text, session_json
from session_engines.ids import digest
from session_engines.operators import get_operator

from .helpers import engines
from .signin import make_user, sign_in_as, use_auth_site

NASTY = {
    "surrogate": "\ud800bad\udfff",
    "control": "evil\x1b[2J\r\nINFO forged log line\x00",
    "huge": "x" * 1_000_000,
}
ENGINES = engines(["db", "cache", "redis", "dynamodb"])


def test_digest_of_an_encodable_string_is_unchanged():
    for text in ["alice", "Zoë", "42", "😀", ""]:
        assert digest(text) == hashlib.sha256(text.encode()).hexdigest()


def test_digest_of_a_lone_surrogate_is_a_digest():
    assert digest("\ud800") == hashlib.sha256(b"\xed\xa0\x80").hexdigest()
    assert digest("\ud800") != digest("\udfff")


@pytest.mark.parametrize("value", NASTY.values(), ids=NASTY)
def test_safe_text_is_printable_encodable_and_bounded(value):
    text = safe_text(value)
    assert len(text) <= 200 and text.isprintable()
    text.encode()
    assert "\x1b" not in text and "\n" not in text
    session_json({"name": value}).encode("ascii")


def test_safe_text_shows_what_it_escaped():
    assert safe_text("a\ud800\x1b") == "a\\ud800\\x1b"
    assert safe_text("Zoë") == "Zoë"


def store_session(user_id, name):
    """Write a session straight through the engine, as any view could have."""
    store = import_string(f"{get_operator_engine()}.SessionStore")()
    store.update({SESSION_KEY: user_id, "profile": {"name": name}, "note": name})
    store.save()
    return store


def get_operator_engine():
    from django.conf import settings

    return settings.SESSION_ENGINE


@ENGINES
@pytest.mark.parametrize("kind", NASTY, ids=NASTY)
def test_admin_and_command_render_any_stored_value(engine, settings, kind):
    use_auth_site(settings)
    settings.SESSION_USER_NAME_PATH = "profile.name"
    value = NASTY[kind]
    store = store_session(value, value)  # no UnicodeEncodeError while digesting or writing
    records = get_operator().list(limit=100).records
    (record,) = [r for r in records if r.data.get("note") == value]
    staff = make_user("operator", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_session"))
    admin = sign_in_as("operator")
    pages = [
        "/admin/session_engines/session/",
        f"/admin/session_engines/session/{record.id}/",
        "/admin/session_engines/session/?user=" + ("x" * 300 if kind == "huge" else "bad"),
    ]
    for page in pages:
        response = admin.get(page)
        assert response.status_code == 200, page
        assert len(response.content) < 200_000
    for args in (["list"], ["show", record.id]):
        out = io.StringIO()
        call_command("sessions", *args, stdout=out)
        out.getvalue().encode()  # a terminal can print it
        assert "\x1b" not in out.getvalue()
    if engine != "cache":
        out = io.StringIO()
        call_command("sessions", "list", "--user", value, stdout=out)
        assert "session(s)." in out.getvalue()
    store.delete()


@engines(["db", "redis", "dynamodb"])
def test_an_unencodable_user_id_is_stored_and_its_sessions_can_be_listed(engine):
    store_session("\ud800", "name")
    operator = get_operator()
    assert [r.data["note"] for r in operator.list(limit=10).records] == ["name"]
    operator.for_user("\ud800")  # no error; the db and DynamoDB indexes leave it out
    assert operator.delete_for_user("\ud800") in (0, 1)
