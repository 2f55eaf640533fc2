"""The admin, the app's URLs, and the few views the tests sign in and out with."""

import secrets

from django.contrib import admin
from django.contrib.auth import get_user_model, login, logout
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET, require_POST


@require_POST
def sign_in(request):
    """Log the user named by ``username`` in, with django.contrib.auth's own login()."""
    login(request, get_user_model().objects.get_by_natural_key(request.POST["username"]))
    return JsonResponse({"userId": str(request.user.pk)})


@require_POST
def sign_out(request):
    logout(request)
    return JsonResponse({"userId": None})


@require_GET
def whoami(request):
    """Return the signed-in user's id (read from the session), or None."""
    return JsonResponse({"userId": str(request.user.pk) if request.user.is_authenticated else None})


@require_POST
def remember(request):
    """Store ``bytes`` random characters in the session (a write after the view)."""
    request.session["blob"] = secrets.token_urlsafe(int(request.GET.get("bytes", "8")))
    return JsonResponse({"stored": True})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("sign-in", sign_in),
    path("sign-out", sign_out),
    path("whoami", whoami),
    path("remember", remember),
    path("", include("session_engines.urls")),
]


def server_error(request):
    """A 500 that reads no session (Django's default one reads the CSRF token from it)."""
    return JsonResponse({"error": "Server error."}, status=500)


handler500 = server_error
