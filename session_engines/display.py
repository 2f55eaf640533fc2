"""Render any value a session holds as safe text: for the admin, the command and the logs.

A session may hold anything a view once wrote: lone surrogates (which UTF-8 cannot encode),
control characters (which forge log lines or garble a terminal), megabytes. ``safe_text`` makes
any of them printable, encodable and bounded, so no page, command or log line fails on a value.
"""

import json

MAX_CHARS = 200
ELLIPSIS = "…"


def escape(text):
    """Return ``text`` with what is not printable or not encodable escaped (``\\ud800``)."""
    if text.isprintable():
        try:
            text.encode()
        except UnicodeEncodeError:
            pass
        else:
            return text
    return "".join(
        char if char.isprintable() and _encodable(char) else _escaped(char) for char in text
    )


def _encodable(char):
    return not "\ud800" <= char <= "\udfff"


def _escaped(char):
    return char.encode("unicode_escape", "backslashreplace").decode("ascii")


def safe_text(value, limit=MAX_CHARS):
    """Return ``value`` as printable, UTF-8-encodable text of at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit * 8:  # escaping can only lengthen: never escape megabytes to drop them
        text = text[: limit * 8]
    text = escape(text)
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


MAX_DATA_CHARS = 20_000


def session_json(data, limit=MAX_DATA_CHARS):
    """Return a session dict as indented JSON: ASCII (everything escaped), at most ``limit``."""
    text = json.dumps(data, indent=2, sort_keys=True, default=repr)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters not shown)"
