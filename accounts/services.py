"""UserInfo in the session (the seed's model, under one session key), and named preferences.

Only ``request.session`` is used, so any SESSION_ENGINE works unchanged.
"""

from dataclasses import asdict, dataclass

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
