"""A user's own sessions, as JSON: ``GET /sessions`` and ``POST /logout-everywhere``.

The caller is whoever SESSION_USER_ID_PATH names in their session; nothing else is trusted.
Answers: 401 without a user in the session; 501 when the engine keeps no per-user index
(Django's cache-backed engine), changing nothing; 503 from the middleware when the store is
down. Include ``session_engines.urls`` in the project's URLconf.
"""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .ids import session_id
from .operators import NoOperator, UserIndexUnavailable, get_operator
from .users import user_id_of


def error(message, status, **headers):
    return JsonResponse({"error": message}, status=status, headers=headers)


def signed_in(method):
    """Only ``method`` (405 otherwise), only with a user id in the session (401 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request):
            allowed = {method, "HEAD"} if method == "GET" else {method}
            if request.method not in allowed:
                message = f"Method {request.method} not allowed; use {method}."
                return error(message, 405, Allow=method)
            user_id = user_id_of(dict(request.session.items()))
            if user_id is None:
                return error("Not logged in.", 401)
            try:
                return view(request, user_id)
            except (UserIndexUnavailable, NoOperator) as exc:
                return error(str(exc), 501)

        return wrapper

    return decorator


@signed_in("GET")
def sessions(request, user_id):
    current = session_id(request.session.session_key)
    records = get_operator().for_user(user_id)
    return JsonResponse(
        {
            "user": user_id,
            "sessions": [
                {
                    "id": record.id,
                    "current": record.id == current,
                    "expires": record.expires,
                    "size": record.size,
                }
                for record in records
            ],
        }
    )


# No CSRF token (API clients), yet no cross-site page can do it, whatever the project's
# SameSite setting: it must be a JSON request, which HTML forms cannot send and a cross-site
# fetch can send only after a CORS preflight that is never granted.
@csrf_exempt
@signed_in("POST")
def logout_everywhere(request, user_id):
    if request.content_type != "application/json":
        return error("Content-Type must be application/json.", 415)
    ended = get_operator().delete_for_user(user_id)  # this session too, and every instance's
    request.session.flush()  # and the cookie goes
    return JsonResponse({"user": user_id, "ended": ended})
