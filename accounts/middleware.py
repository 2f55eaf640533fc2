"""Small middlewares that sit outside everything else."""

import contextlib

from django.conf import settings
from django.http import JsonResponse


def served_by(get_response):
    """Every response says which instance answered: X-Served-By: <INSTANCE_ID>."""

    def middleware(request):
        response = get_response(request)
        response["X-Served-By"] = settings.INSTANCE_ID
        return response

    return middleware


def json_errors(get_response):
    """Every error is JSON: a 4xx or 5xx answered otherwise becomes ``{"error": <its reason>}``.

    Our views and error handlers answer JSON already; this covers what answers before or
    beside them (the empty 405 of the admin's ``require_POST`` views, ...). The status, the
    other headers (Allow, Retry-After) and the cookies stay.
    """

    def middleware(request):
        response = get_response(request)
        if response.status_code < 400 or is_json(response):
            return response
        replaced = JsonResponse(
            {"error": f"{response.reason_phrase}."}, status=response.status_code
        )
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length"):
                replaced[name] = value
        replaced.cookies = response.cookies
        return replaced

    return middleware


def is_json(response):
    return response.get("Content-Type", "").partition(";")[0].strip() == "application/json"


def healthz(get_response):
    """GET /healthz: 200 without touching the session, the database or ALLOWED_HOSTS.

    The ALB health checker sends ``Host: <target IP>``; answering before host validation
    keeps that from turning into a 400 while ALLOWED_HOSTS stays strict for everything else.
    """

    def middleware(request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok", "instance": settings.INSTANCE_ID})
        return get_response(request)

    return middleware


def session_conflicts(get_response):
    """Every response says how many write conflicts its session's save retried.

    ``X-Session-Conflicts: <n>``, read from the session after SessionMiddleware saved it (so
    this sits outside it in MIDDLEWARE). An engine without the ``conflicts`` attribute, or a
    request that never reached the session, counts as 0.
    """

    def middleware(request):
        response = get_response(request)
        session = getattr(request, "session", None)
        response["X-Session-Conflicts"] = str(getattr(session, "conflicts", 0))
        return response

    return middleware


def database_queries(get_response):
    """Every response says how many database queries it ran: ``X-Database-Queries: <n>``.

    Outermost in MIDDLEWARE when DJANGO_COUNT_QUERIES is on (the benchmark's round trips to a
    database-backed session store), so the session's save is counted too.
    """
    from django.db import connections

    def middleware(request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with contextlib.ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(counted))
            response = get_response(request)
        response["X-Database-Queries"] = str(count)
        return response

    return middleware
