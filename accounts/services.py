"""UserInfo in the session (the seed's model, under one session key), named preferences, and
real sign-in with django.contrib.auth.

UserInfo is the seed's demo of session state: whatever a client types, unauthenticated, and it
grants nothing. Who is signed in is django.contrib.auth's (``request.user``). Only
``request.session`` and django.contrib.auth are used, so any SESSION_ENGINE works unchanged.
"""

from dataclasses import asdict, dataclass, field

from django.contrib import auth

SESSION_KEY = "userInfo"
# One flat session key per preference ("prefs:theme"): two requests that set different
# preferences change different session keys.
PREFS_PREFIX = "prefs:"


@dataclass(frozen=True)
class UserInfo:
    userId: str | None = None
    userNm: str | None = None


def get_user_info(*, session):
    return UserInfo(**session.get(SESSION_KEY, {}))


def log_in(*, session, user_info):
    """Store UserInfo under a fresh session key (no session fixation)."""
    if get_user_info(session=session).userId not in (None, user_info.userId):
        session.flush()  # another user's data must not carry over
    else:
        session.cycle_key()
    session[SESSION_KEY] = asdict(user_info)
    return user_info


def log_out(*, session):
    session.flush()


@dataclass(frozen=True)
class Pref:
    name: str
    value: str


def set_pref(*, session, pref):
    """Store one preference under its own session key; return it."""
    session[PREFS_PREFIX + pref.name] = pref.value
    return pref


def get_prefs(*, session):
    """Return every preference of the session as {name: value}."""
    return {
        key.removeprefix(PREFS_PREFIX): value
        for key, value in session.items()
        if key.startswith(PREFS_PREFIX)
    }


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def sign_in(*, request, credentials):
    """Return the user the credentials authenticate, logged in under a new key; None if none.

    ``auth.login()`` cycles the session key (and flushes another user's session first).
    """
    user = auth.authenticate(request, username=credentials.username, password=credentials.password)
    if user is not None:
        auth.login(request, user)
    return user


def sign_out(*, request):
    """Log the user out: the session is deleted from the store and the cookie cleared."""
    auth.logout(request)


def describe_user(user):
    """Return {"id", "username"} for a signed-in user, None for an anonymous one."""
    if not user.is_authenticated:
        return None
    return {"id": str(user.pk), "username": user.get_username()}
