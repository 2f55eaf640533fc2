"""The seed's JSON API (login, session, logout), preferences, real sign-in (/auth/...), a web
page, JSON error pages.

The seed's /login is unauthenticated: it stores whatever UserInfo a client sends, and grants
nothing. Signing in is /auth/login, with django.contrib.auth.
"""

from dataclasses import asdict
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from . import services, throttle
from .validation import (
    InvalidInput,
    parse_credentials,
    parse_pref,
    parse_user_info,
    read_json_body,
)

THROTTLE_RETRY_AFTER = 2  # seconds, when the throttle's cache is down


def error(message, status, **headers):
    return JsonResponse({"error": message}, status=status, headers=headers)


def allow(*methods):
    """Like require_http_methods, but the 405 is JSON like every other error.

    A GET view acts on no unsafe method, so CSRF has nothing to protect there: it is exempt,
    and a POST to it gets this 405 rather than a CSRF failure.
    """
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in allowed:
                use = " or ".join(methods)
                response = error(f"Method {request.method} not allowed; use {use}.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapper) if methods == ("GET",) else wrapper

    return decorator


# No CSRF token for API clients (curl, Postman), yet a cross-site HTML form cannot log anyone
# in: forms cannot send application/json, a cross-site fetch with it needs a CORS preflight we
# never grant, and the session cookie is SameSite=Lax.
@csrf_exempt
@allow("POST")
def login(request):
    try:
        user_info = parse_user_info(read_json_body(request))
    except InvalidInput as exc:
        return error(exc.message, exc.status)
    services.log_in(session=request.session, user_info=user_info)
    return JsonResponse(asdict(user_info))


@allow("GET")
def session(request):
    return JsonResponse(asdict(services.get_user_info(session=request.session)))


@csrf_exempt
@allow("POST")
def logout(request):
    services.log_out(session=request.session)
    return JsonResponse(asdict(services.UserInfo()))


# CSRF as for /login: a JSON-only API that no cross-site form can call (see login above).
@csrf_exempt
@allow("GET", "POST")
def prefs(request):
    """GET: every preference of the session; POST {"name": ..., "value": ...}: set one."""
    if request.method in ("GET", "HEAD"):
        return JsonResponse(services.get_prefs(session=request.session))
    try:
        pref = parse_pref(read_json_body(request))
    except InvalidInput as exc:
        return error(exc.message, exc.status)
    return JsonResponse(asdict(services.set_pref(session=request.session, pref=pref)))


# CSRF as for /login: JSON only, so no cross-site form can sign anyone in (login CSRF).
@csrf_exempt
@allow("POST")
def auth_login(request):
    """POST {"username", "password"}: sign in with django.contrib.auth, under a new key.

    400/413/415 for a bad body, 401 for wrong credentials, 429 with Retry-After while the
    username or the client address has too many recent failures (accounts.throttle), 503
    when the throttle cannot count. Nothing in the session changes unless it succeeds.
    """
    try:
        credentials = parse_credentials(read_json_body(request))
    except InvalidInput as exc:
        return error(exc.message, exc.status)
    scope = {"username": credentials.username, "address": throttle.client_address(request)}
    try:
        if wait := throttle.locked_for(**scope):
            return too_many_failures(wait)
        user = services.sign_in(request=request, credentials=credentials)
        if user is None:
            if wait := throttle.record_failure(**scope):
                return too_many_failures(wait)
            return error("Invalid username or password.", 401)
        throttle.record_success(username=credentials.username)
    except throttle.ThrottleUnavailable:
        message = "Sign-in is unavailable. Retry shortly."
        return error(message, 503, **{"Retry-After": str(THROTTLE_RETRY_AFTER)})
    return JsonResponse({"user": services.describe_user(user)})


def too_many_failures(wait):
    message = f"Too many failed sign-ins. Retry in {wait} seconds."
    return error(message, 429, **{"Retry-After": str(wait)})


# JSON only as well, so a cross-site form cannot sign a user out (logout CSRF).
@csrf_exempt
@allow("POST")
def auth_logout(request):
    if request.content_type != "application/json":
        return error("Content-Type must be application/json.", 415)
    services.sign_out(request=request)
    return JsonResponse({"user": None})


@allow("GET")
def auth_me(request):
    """Who is signed in: {"user": {"id", "username"}}, or {"user": null}."""
    return JsonResponse({"user": services.describe_user(request.user)})


@allow("GET")
def home(request):
    context = {
        "instance": settings.INSTANCE_ID,
        "engine": settings.SESSION_ENGINE,
        "user_info": services.get_user_info(session=request.session),
        "signed_in": services.describe_user(request.user),
    }
    return render(request, "accounts/home.html", context)


def bad_request(request, exception=None):
    return error("Bad request.", 400)


def forbidden(request, exception=None):
    return error("Forbidden.", 403)


def not_found(request, exception=None):
    return error("Not found.", 404)


def csrf_failure(request, reason=""):
    return error(f"CSRF check failed: {reason}", 403)


def server_error(request):
    return error("Internal server error.", 500)
