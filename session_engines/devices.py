"""What a session records about its device, under the private session key ``_session_engines``.

``{"created": epoch s, "seen": epoch s, "signed_in": epoch s (after login()), "agent":
"Firefox on Linux", "address": "203.0.113.0"}``: created-at and last-seen (coarse: rewritten at
most once per ``SESSION_POLICY["LAST_SEEN_INTERVAL"]``), a short summary of the User-Agent
named from a fixed vocabulary (never any of the header's own text), and the client address,
full, truncated (IPv4 /24, IPv6 /48) or not at all (``SESSION_POLICY["CLIENT_ADDRESS"]``).

The address is ``REMOTE_ADDR``: behind a load balancer, have the proxy layer put the client's
address there (e.g. from the X-Forwarded-For entry your load balancer appends), never a header
a client can write.
"""

import ipaddress
import re
from datetime import UTC, datetime

STAMP = "_session_engines"  # the session key that holds the record

# (name, pattern), first match wins: Edge and Opera also say Chrome, Chrome also says Safari.
BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/|Opera"),
    ("Samsung Internet", r"SamsungBrowser/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/"),
    ("Safari", r"Safari/"),
    ("curl", r"^curl/"),
    ("Python", r"python-requests|python-urllib|httpx|aiohttp"),
]
SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
]
MAX_HEADER_CHARS = 1024  # patterns run on at most this much of the header


def _first(table, header):
    return next((name for name, pattern in table if re.search(pattern, header)), None)


def agent_summary(user_agent):
    """Return "Browser on OS" for a User-Agent header, named from a fixed list (or "Other")."""
    header = (user_agent or "")[:MAX_HEADER_CHARS]
    browser, system = _first(BROWSERS, header), _first(SYSTEMS, header)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Other"


def client_address(remote_addr, mode):
    """Return the address to record: ``mode`` "full", "truncated" (/24, /48) or "none"."""
    if mode == "none" or not remote_addr:
        return None
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return None
    if mode == "full":
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def new_record(request, *, at, address_mode):
    """Return the device record of a session that starts now, on ``request``."""
    return {
        "created": at,
        "seen": at,
        "agent": agent_summary(request.META.get("HTTP_USER_AGENT")),
        "address": client_address(request.META.get("REMOTE_ADDR"), address_mode),
    }


def record_of(session_data):
    """Return the device record in a decoded session dict ({} when there is none)."""
    record = session_data.get(STAMP) if isinstance(session_data, dict) else None
    return record if isinstance(record, dict) else {}


def _time(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def device(session_data):
    """Return what operators show of a session's device: times as aware datetimes or None."""
    record = record_of(session_data)
    agent, address = record.get("agent"), record.get("address")
    return {
        "created": _time(record.get("created")),
        "signed_in": _time(record.get("signed_in")),
        "last_seen": _time(record.get("seen")),
        "agent": agent if isinstance(agent, str) else None,
        "address": address if isinstance(address, str) else None,
    }
