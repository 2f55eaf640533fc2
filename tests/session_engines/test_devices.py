"""Each session's device: created, signed in, last seen, a User-Agent summary, the address."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from session_engines.devices import agent_summary, client_address
from session_engines.ids import session_id

from .helpers import engines
from .signin import cookie, make_user, sign_in_as, use_auth_site

AGENTS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87": "Edge on Windows",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
    "Mobile Safari/537.36": "Chrome on Android",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0": (
        "Firefox on macOS"
    ),
    "curl/8.5.0": "curl",
    "": "Other",
    None: "Other",
    "\x1b[31m<script>alert(1)</script>\ud800" * 1000: "Other",
}


@pytest.mark.parametrize(("header", "summary"), AGENTS.items())
def test_the_agent_summary_is_named_from_a_fixed_list(header, summary):
    assert agent_summary(header) == summary


@pytest.mark.parametrize(
    ("mode", "address", "recorded"),
    [
        ("truncated", "203.0.113.77", "203.0.113.0"),
        ("truncated", "2001:db8:1234:5678::1", "2001:db8:1234::"),
        ("full", "203.0.113.77", "203.0.113.77"),
        ("full", "2001:db8::1", "2001:db8::1"),
        ("none", "203.0.113.77", None),
        ("truncated", "not an address", None),
        ("full", "", None),
    ],
)
def test_the_client_address_is_full_truncated_or_none(mode, address, recorded):
    assert client_address(address, mode) == recorded


@pytest.fixture
def alice_signed_in(engine, settings):
    use_auth_site(settings)
    make_user("alice")
    return sign_in_as("alice")


@engines(["db", "redis", "dynamodb", "cache"])
def test_the_admin_and_the_command_show_the_device(alice_signed_in, settings):
    settings.SESSION_POLICY = {"CLIENT_ADDRESS": "full"}
    id = session_id(cookie(alice_signed_in))
    staff = make_user("operator", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename="view_session"))
    admin = sign_in_as("operator")
    listing = admin.get("/admin/session_engines/session/").content.decode()
    assert "Firefox on Linux" in listing and "203.0.113.0" in listing  # signed in: truncated
    detail = admin.get(f"/admin/session_engines/session/{id}/").content.decode()
    assert "Firefox on Linux" in detail and "Last seen" in detail
    out = io.StringIO()
    call_command("sessions", "show", id, stdout=out)
    shown = out.getvalue()
    assert "Device   Firefox on Linux\n" in shown and "Address  203.0.113.0\n" in shown
    assert "Login    20" in shown and "Seen     20" in shown
    out = io.StringIO()
    call_command("sessions", "list", stdout=out)
    assert "Firefox on Linux  203.0.113.0" in out.getvalue()
    full = sign_in_as("alice")  # signed in under CLIENT_ADDRESS "full"
    out = io.StringIO()
    call_command("sessions", "show", session_id(cookie(full)), stdout=out)
    assert "Address  203.0.113.77\n" in out.getvalue()
