"""A minimal project around session_engines for its tests: real users, django.contrib.auth.

``use_auth_site(settings)`` makes this module the URLconf (a JSON sign-in, sign-out, password
change, "remember me", a view that writes what the client sends into its session, the admin and
``session_engines.urls``) with the middleware a project needs, and the index on auth's user id.
``Clock`` is the policy's clock, moved by hand.
"""

import json

from django.contrib import admin
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.models import User
from django.http import JsonResponse
from django.test import Client
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from session_engines import policy

PASSWORD = "correct horse battery"
JSON = "application/json"
MIDDLEWARE = [
    "session_engines.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def use_auth_site(settings):
    """Serve this module's views with the middleware and settings a project using auth has."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = MIDDLEWARE
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    for name in ("SESSION_USER_ID_PATH", "SESSION_USER_NAME_PATH"):
        if hasattr(settings, name):
            delattr(settings, name)  # the index holds auth's user id, the default


class Clock:
    """The policy's clock (``session_engines.policy.now``), set and moved by the test."""

    def __init__(self, monkeypatch, start=1_800_000_000):
        self.time = start
        monkeypatch.setattr(policy, "now", lambda: self.time)

    def advance(self, seconds):
        self.time += seconds


def body(request):
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        return {}


@csrf_exempt
def sign_in(request):
    data = body(request)
    user = authenticate(request, username=data.get("username"), password=data.get("password"))
    if user is None:
        return JsonResponse({"error": "Wrong username or password."}, status=401)
    login(request, user)
    return JsonResponse({"user": user.pk})


@csrf_exempt
def sign_out(request):
    logout(request)
    return JsonResponse({})


def whoami(request):
    user = request.user
    return JsonResponse({"user": user.pk if user.is_authenticated else None})


@csrf_exempt
def change_password(request):
    request.user.set_password(body(request)["password"])
    request.user.save()
    update_session_auth_hash(request, request.user)
    return JsonResponse({})


@csrf_exempt
def remember_me(request):
    request.session.set_expiry(30 * 24 * 3600)
    return JsonResponse({})


@csrf_exempt
def write(request):
    """Write what the client sends into its session: the seed's unauthenticated /login."""
    request.session.update(body(request))
    return JsonResponse({})


urlpatterns = [
    path("sign-in", sign_in),
    path("sign-out", sign_out),
    path("whoami", whoami),
    path("change-password", change_password),
    path("remember-me", remember_me),
    path("write", write),
    path("admin/", admin.site.urls),
    path("", include("session_engines.urls")),
]


def new_client(**headers):
    return Client(headers={"User-Agent": BROWSER, **headers}, REMOTE_ADDR="203.0.113.77")


def make_user(username, **fields):
    return User.objects.create_user(username, password=PASSWORD, **fields)


def sign_in_as(username, **headers):
    """Return a new client signed in as ``username`` (an existing user) through the view."""
    client = new_client(**headers)
    credentials = json.dumps({"username": username, "password": PASSWORD})
    response = client.post("/sign-in", credentials, content_type=JSON)
    assert response.status_code == 200, response.content
    return client


def cookie(client):
    from django.conf import settings

    morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return None if morsel is None else morsel.value


def whoami_of(client):
    return client.get("/whoami").json()["user"]
