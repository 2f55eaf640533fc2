"""Django's SessionMiddleware, plus the session policy, and a store outage is a 503 JSON answer.

Each request's session is the engine's ``SessionStore`` with ``session_engines.policy`` applied
(idle and absolute timeouts, last-seen, the device record of a new session). A rejected
request (answered 4xx) whose session holds only the policy's own stamp saves nothing.

Never a 500 page, and never a silent new session that logs the user out: the request fails
as a whole, and the client retries. Replace ``django.contrib.sessions.middleware.
SessionMiddleware`` with ``session_engines.middleware.SessionMiddleware`` in MIDDLEWARE.

Settings: SESSION_STORE_RETRY_AFTER (seconds, default 2).
"""

import logging
import sys

from django.contrib.sessions import middleware
from django.http import JsonResponse

from . import signals
from .conf import setting
from .exceptions import SessionStoreUnavailable, SessionTooLarge
from .policy import enforcing

logger = logging.getLogger("session_engines")


def store_unavailable_response(exc):
    logger.error("session store unavailable: %r", exc)
    retry_after = setting("SESSION_STORE_RETRY_AFTER", 2)
    response = JsonResponse(
        {"error": "The session store is unavailable. Retry shortly."}, status=503
    )
    response["Retry-After"] = str(retry_after)
    return response


def session_too_large_response(exc):
    logger.error("session not saved: %s", exc)
    return JsonResponse({"error": "The session is too large to store."}, status=507)


STORE_ERRORS = (SessionStoreUnavailable, SessionTooLarge)


def error_response(exc):
    """Return the answer for a session store error, or None for any other exception."""
    if isinstance(exc, SessionStoreUnavailable):
        return store_unavailable_response(exc)
    if isinstance(exc, SessionTooLarge):  # not retryable: no Retry-After
        return session_too_large_response(exc)
    return None


def mark_store_error(sender, request=None, **kwargs):
    """Mark the request with a store error raised outside any view.

    A later middleware that reads the session first (CSRF in the session,
    LoginRequiredMiddleware, ...) turns the error into a 500 before it reaches us. Django
    signals it on the way (``got_request_exception``, connected in ``AppConfig.ready()``);
    process_response then answers it as it would for a view.
    """
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, STORE_ERRORS):
        request.session_store_error = exc


class SessionMiddleware(middleware.SessionMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        self.SessionStore = enforcing(self.SessionStore)

    def error_response(self, exc):
        """Return the answer for a store error (signalled when it is an outage), or None."""
        if isinstance(exc, SessionStoreUnavailable):
            operation = getattr(exc, "operation", None)  # set by signals.operation()
            arguments = {"operation": operation, "exception": exc}
            signals.send(signals.store_unavailable, self.SessionStore, **arguments)
        return error_response(exc)

    def process_exception(self, request, exception):
        # A load (or save) inside the view failed.
        return self.error_response(exception)

    def process_response(self, request, response):
        marked = getattr(request, "session_store_error", None)
        if marked is not None:  # the 500 page is replaced
            return self.error_response(marked)
        # The save after the view failed (a timed-out write may still land): tell the client to
        # retry, which is safe: every write is conditional.
        try:
            session = getattr(request, "session", None)
            if isinstance(session, self.SessionStore) and session.modified:
                if response.status_code >= 400 and not session.changed:
                    session.modified = False  # a rejected request writes no last-seen
                elif not session.is_empty():
                    session.stamp_new(request)  # a session written for the first time
            return super().process_response(request, response)
        except STORE_ERRORS as exc:
            return self.error_response(exc)
