"""The admin's session pages: list, detail, delete one, log one user out everywhere.

Every page goes through ``get_operator()``, so it works for whichever engine is configured,
and shows only the session's id (the SHA-256 of its key), never the key. Every page checks its
permission itself (``admin_view`` only lets active staff in): seeing sessions needs
``session_engines.view_session``, ending them ``session_engines.delete_session``.
"""

import json
from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from .operators import UserIndexUnavailable, get_operator, has_operator
from .users import user_name_of

PAGE_SIZE = 50
NO_INDEX = "This session engine cannot index sessions by user"
VIEW_PERM = "session_engines.view_session"
DELETE_PERM = "session_engines.delete_session"


def needs(perm):
    """403 without ``perm`` (as the admin does), then 404 when the engine has no operator."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied
            if not has_operator():
                raise Http404(f"No session operator for {settings.SESSION_ENGINE!r}.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def render(request, template, title, **context):
    context = {
        **admin.site.each_context(request),
        "title": title,
        "can_delete": request.user.has_perm(DELETE_PERM),
        **context,
    }
    return TemplateResponse(request, f"session_engines/admin/{template}", context)


def row(record):
    return {
        "id": record.id,
        "user_id": record.user_id,
        "user_name": user_name_of(record.data),
        "expires": record.expires,
        "size": record.size,
    }


@needs(VIEW_PERM)
def session_list(request):
    operator = get_operator()
    user_id = request.GET.get("user", "").strip()
    cursor, next_url, index_error = None, None, None
    if user_id:
        try:
            records = operator.for_user(user_id)
        except UserIndexUnavailable as exc:
            records, index_error = [], str(exc)
    else:
        try:
            page = operator.list(cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
        except ValueError:
            return HttpResponseBadRequest("Not a page cursor.")
        records, cursor = page.records, page.cursor
        if cursor:
            next_url = "?" + urlencode({"cursor": cursor})
    return render(
        request,
        "session_list.html",
        "Sessions",
        rows=[row(record) for record in records],
        user_id=user_id,
        next_url=next_url,
        supports_user_index=operator.supports_user_index,
        index_error=index_error,
        no_index=NO_INDEX,
    )


@needs(VIEW_PERM)
def session_detail(request, id):
    record = get_operator().get(id)
    if record is None:
        raise Http404("No such session.")
    data = json.dumps(record.data, indent=2, sort_keys=True, default=str)
    title = f"Session {id[:12]}…"
    return render(request, "session_detail.html", title, session=row(record), data=data)


@needs(DELETE_PERM)
@require_POST
def session_delete(request, id):
    if get_operator().delete(id):
        messages.success(request, f"Session {id[:12]}… ended.")
    else:
        messages.warning(request, f"Session {id[:12]}… was already gone.")
    return redirect("admin:session_engines_list")


@needs(DELETE_PERM)
@require_POST
def logout_everywhere(request):
    user_id = request.POST.get("user", "").strip()
    if not user_id:
        messages.error(request, "Give the user id to log out everywhere.")
        return redirect("admin:session_engines_list")
    try:
        ended = get_operator().delete_for_user(user_id)
    except UserIndexUnavailable as exc:
        messages.error(request, f"{NO_INDEX}: {exc}")
    else:
        messages.success(request, f"Logged {user_id} out everywhere: {ended} session(s) ended.")
    return redirect(reverse("admin:session_engines_list") + "?" + urlencode({"user": user_id}))
