"""A store outage is a 503 JSON answer with Retry-After: never a 500 page, never a logout."""

import pytest
from django.test import Client

from harness.servers import free_port

from .helpers import assert_503, use_redis


@pytest.fixture(params=["session_engines.backends.cache", "session_engines.backends.redis"])
def redis_down(request, settings, db):
    settings.SESSION_ENGINE = request.param
    settings.SESSION_CACHE_ALIAS = "sessions"
    use_redis(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there


def test_save_failure_is_503(redis_down, client):
    assert_503(client.post("/remember"))


def test_load_failure_is_503(redis_down, client):
    client.cookies["sessionid"] = "a" * 32
    assert_503(client.get("/whoami"))


def reads_the_session_first(get_response):
    """Like LoginRequiredMiddleware or anything that looks at request.user before the view."""

    def middleware(request):
        request.session.get("anything")
        return get_response(request)

    return middleware


@pytest.mark.parametrize("where", ["csrf-in-session", "middleware"])
def test_a_load_failure_outside_the_view_is_503_too(redis_down, settings, where):
    # Django turns an error outside a view into a 500 before our middleware sees it (and the
    # test client would re-raise it: ask it not to, as a real server does not).
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32
    if where == "csrf-in-session":
        settings.CSRF_USE_SESSIONS = True  # CsrfViewMiddleware reads the session in process_view
        response = client.post("/admin/login/", {"username": "a", "password": "b"})
    else:
        index = settings.MIDDLEWARE.index("session_engines.middleware.SessionMiddleware")
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE[: index + 1],
            f"{__name__}.reads_the_session_first",
            *settings.MIDDLEWARE[index + 1 :],
        ]
        response = client.get("/whoami")
    assert_503(response)
