"""Session ids: what our engines store and show in place of a session key.

A session key is a live credential: whoever holds it is signed in. Our engines store, log and
show only its SHA-256 hex digest, the session *id*, which opens nothing: a leaked table, backup,
log line or admin URL cannot be replayed as a cookie.
"""

import hashlib
import re

SESSION_ID_PATTERN = "[0-9a-f]{64}"
SESSION_ID = re.compile(SESSION_ID_PATTERN)


def digest(text):
    """Return the SHA-256 hex digest of ``text``'s UTF-8.

    A string UTF-8 cannot encode (a lone surrogate) is digested with its surrogates as
    ``surrogatepass`` writes them; every other string's digest is unchanged.
    """
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encodable(text):
    """Return whether ``text`` is a string UTF-8 can encode (no lone surrogate)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def session_id(session_key):
    """Return the non-secret id of a session: the SHA-256 hex digest of its key."""
    return digest(session_key)


def is_session_id(value):
    """Return whether ``value`` has the form of a session id."""
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def glob_escape(text):
    """Return ``text`` with Redis's glob characters escaped, for ``SCAN ... MATCH``."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
