class SessionStoreUnavailable(Exception):
    """The session store could not be reached or refused the request for now (retry later).

    Engines raise it instead of the store's own errors; the middleware answers 503.
    """
