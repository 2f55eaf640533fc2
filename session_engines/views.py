"""A signed-in user's own sessions, as JSON: ``GET /sessions``, ``POST /logout-everywhere`` and
``POST /sessions/<id>/end``.

The caller is ``request.user``, as ``django.contrib.auth`` authenticated it (its id is what
``login()`` stores and the per-user index holds: SESSION_USER_ID_PATH's default), never a value a
client wrote into its session. Answers: 401 for an anonymous caller; 404 for a session that is
not the caller's own (or no session at all), changing nothing; 501 when the engine keeps no
per-user index (Django's cache-backed engine) or the index holds another id
(SESSION_USER_ID_PATH set), changing nothing; 503 from the middleware when the store is down.
Include ``session_engines.urls`` in the project's URLconf, after AuthenticationMiddleware.
"""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import signals
from .devices import device
from .ids import session_id
from .operators import NoOperator, UserIndexUnavailable, get_operator
from .policy import log
from .users import auth_user_id, holds_auth_user_id

OTHER_INDEX = (
    "SESSION_USER_ID_PATH is set: the per-user index does not hold django.contrib.auth's "
    "user ids, so it cannot tell which sessions are the signed-in user's."
)


def error(message, status, **headers):
    return JsonResponse({"error": message}, status=status, headers=headers)


def signed_in(method):
    """Only ``method`` (405 otherwise), only for an authenticated ``request.user`` (401).

    A GET view acts on no unsafe method, so CSRF has nothing to protect there: it is exempt,
    and a POST to it gets this JSON 405 rather than the project's CSRF failure page.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, **kwargs):
            allowed = {method, "HEAD"} if method == "GET" else {method}
            if request.method not in allowed:
                message = f"Method {request.method} not allowed; use {method}."
                return error(message, 405, Allow=method)
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                return error("Not logged in.", 401)
            if method == "POST" and request.content_type != "application/json":
                return error("Content-Type must be application/json.", 415)
            if not holds_auth_user_id():
                return error(OTHER_INDEX, 501)
            try:
                return view(request, auth_user_id(user), **kwargs)
            except (UserIndexUnavailable, NoOperator) as exc:
                return error(str(exc), 501)

        return csrf_exempt(wrapper) if method == "GET" else wrapper

    return decorator


def describe(record, current):
    return {
        "id": record.id,
        "current": record.id == current,
        "expires": record.expires,
        "size": record.size,
        **device(record.data),
    }


@signed_in("GET")
def sessions(request, user_id):
    current = session_id(request.session.session_key)
    records = get_operator().for_user(user_id)
    return JsonResponse(
        {"user": user_id, "sessions": [describe(record, current) for record in records]}
    )


# No CSRF token (API clients), yet no cross-site page can do these, whatever the project's
# SameSite setting: each must be a JSON request, which HTML forms cannot send and a cross-site
# fetch can send only after a CORS preflight that is never granted.
@csrf_exempt
@signed_in("POST")
def logout_everywhere(request, user_id):
    current = request.session.session_key
    ended = get_operator().delete_for_user(user_id)  # this session too, and every instance's
    log("revoked", key=current, user=user_id, by="logout-everywhere", ended=ended)
    with signals.quiet():  # ended and signalled by the operator already
        request.session.flush()  # and the cookie goes
    return JsonResponse({"user": user_id, "ended": ended})


@csrf_exempt
@signed_in("POST")
def end_session(request, user_id, id):
    operator = get_operator()
    record = operator.get(id)
    if record is None or record.user_id != user_id:  # not found, or not the caller's to end
        return error("No such session.", 404)
    ended = operator.delete(id)
    log("revoked", id=id, user=user_id, by="end-device")
    current = id == session_id(request.session.session_key)
    if current:
        with signals.quiet():  # ended and signalled by the operator already
            request.session.flush()  # the caller ended the session it came with
    return JsonResponse({"user": user_id, "id": id, "ended": ended, "current": current})
