"""Parse request bodies strictly; every problem is an InvalidInput with a status and a message."""

import json
import re
import unicodedata

from .services import Credentials, Pref, UserInfo

MAX_BODY_BYTES = 16 * 1024
MAX_FIELD_CHARS = 150
FIELDS = ("userId", "userNm")
MAX_PREF_NAME_CHARS = 64
PREF_NAME = re.compile(r"[A-Za-z0-9_.-]+")
MAX_USERNAME_CHARS = 150  # django.contrib.auth's User.username
MAX_PASSWORD_CHARS = 1024
# Characters no field of ours may hold: C0 and C1 controls and DEL (category Cc), the Unicode
# line and paragraph separators (they end a log line as a newline does), and the bidirectional
# embeddings, overrides and isolates that make a name display as another ("Trojan Source").
FORBIDDEN_CATEGORIES = {"Cc", "Zl", "Zp"}
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class InvalidInput(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def read_json_body(request):
    """The request's JSON object, read without trusting its declared size."""
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise InvalidInput("Content-Type must be application/json.", status=415)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidInput("Content-Length is not a number.") from None
    if declared > MAX_BODY_BYTES:
        raise InvalidInput(f"Body is over {MAX_BODY_BYTES} bytes.", status=413)
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput(f"Body is over {MAX_BODY_BYTES} bytes.", status=413)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("Body is not valid JSON.") from None
    except RecursionError:  # "[[[[...": nested deeper than the parser recurses (~1,000)
        raise InvalidInput("Body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise InvalidInput("Body must be a JSON object.")
    return data


def require_string(data, field, *, controls=False):
    """Return ``data[field]`` if it is a string that UTF-8 can encode, without controls.

    ``controls=True`` lets control characters through (a password, which is only hashed).
    """
    value = data.get(field)
    if value is None:
        raise InvalidInput(f"'{field}' is required.")
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, such as the JSON escape "\ud800"
        raise InvalidInput(f"'{field}' is not valid Unicode (a lone surrogate).") from None
    if not controls and (position := first_control(value)) is not None:
        code = f"U+{ord(value[position]):04X}"
        raise InvalidInput(f"'{field}' holds a control character ({code} at {position}).")
    return value


def first_control(value):
    """Return the index of the first character no field may hold, or None."""
    for index, char in enumerate(value):
        if unicodedata.category(char) in FORBIDDEN_CATEGORIES or char in BIDI_CONTROLS:
            return index
    return None


def parse_user_info(data):
    values = {}
    for field in FIELDS:
        value = require_string(data, field)
        if not value.strip():
            raise InvalidInput(f"'{field}' must not be empty.")
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInput(f"'{field}' must be at most {MAX_FIELD_CHARS} characters.")
        values[field] = value
    return UserInfo(**values)


def parse_pref(data):
    name = require_string(data, "name")
    if not name:
        raise InvalidInput("'name' must not be empty.")
    if len(name) > MAX_PREF_NAME_CHARS:
        raise InvalidInput(f"'name' must be at most {MAX_PREF_NAME_CHARS} characters.")
    if not PREF_NAME.fullmatch(name):
        raise InvalidInput("'name' may hold only letters, digits and '_', '.', '-'.")
    value = require_string(data, "value")
    if len(value) > MAX_FIELD_CHARS:
        raise InvalidInput(f"'value' must be at most {MAX_FIELD_CHARS} characters.")
    return Pref(name=name, value=value)


def parse_credentials(data):
    username = require_string(data, "username")
    if not username:
        raise InvalidInput("'username' must not be empty.")
    if len(username) > MAX_USERNAME_CHARS:
        raise InvalidInput(f"'username' must be at most {MAX_USERNAME_CHARS} characters.")
    password = require_string(data, "password", controls=True)
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"'password' must be at most {MAX_PASSWORD_CHARS} characters.")
    return Credentials(username=username, password=password)
