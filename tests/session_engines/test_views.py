"""GET /sessions and POST /logout-everywhere under the demo's settings (test_own_sessions.py has
the signed-in user's own sessions)."""

import ast
from pathlib import Path

from django.conf import settings

from session_engines import views

from .test_operators import (
    OPERATOR_ENGINES,
    engines,
    log_in_several,
    user_info,
)

JSON = "application/json"


@engines(OPERATOR_ENGINES)
def test_not_logged_in_is_401(engine, client):
    assert client.get("/sessions").status_code == 401
    response = client.post("/logout-everywhere", content_type=JSON)
    assert response.status_code == 401
    assert response.json() == {"error": "Not logged in."}
    assert settings.SESSION_COOKIE_NAME not in response.cookies


@engines(["db"])
def test_wrong_methods_are_405(engine):
    logged_in = log_in_several()
    alice = logged_in["alice"][0]
    response = alice.post("/sessions")
    assert response.status_code == 405 and response["Allow"] == "GET"
    response = alice.get("/logout-everywhere")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert user_info(alice)["userId"] == "alice"


def test_session_engines_imports_no_project_app():
    """The endpoints and the admin live in session_engines, which imports neither app."""
    root = Path(views.__file__).parent
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                )
                tops = {name.split(".")[0] for name in names}
                assert not tops & {"accounts", "sessiondemo"}, source
