"""Parse the login body strictly; every problem is an InvalidInput with a status and a message."""

import json

from .services import UserInfo

MAX_BODY_BYTES = 16 * 1024
MAX_FIELD_CHARS = 150
FIELDS = ("userId", "userNm")


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
    if not isinstance(data, dict):
        raise InvalidInput("Body must be a JSON object.")
    return data


def parse_user_info(data):
    values = {}
    for field in FIELDS:
        value = data.get(field)
        if value is None:
            raise InvalidInput(f"'{field}' is required.")
        if not isinstance(value, str):
            raise InvalidInput(f"'{field}' must be a string.")
        if not value.strip():
            raise InvalidInput(f"'{field}' must not be empty.")
        if len(value) > MAX_FIELD_CHARS:
            raise InvalidInput(f"'{field}' must be at most {MAX_FIELD_CHARS} characters.")
        values[field] = value
    return UserInfo(**values)
