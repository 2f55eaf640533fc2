class SessionStoreUnavailable(Exception):
    """The session store could not be reached or refused the request for now (retry later).

    Engines raise it instead of the store's own errors; the middleware answers 503.
    """


class SessionTooLarge(Exception):
    """The session does not fit in the store's item size limit; nothing was written.

    Not retryable: the middleware answers a 507 JSON error (and logs it).
    """
