"""UserInfo in the session: the seed's model, kept under one session key.

Only ``request.session`` is used, so any SESSION_ENGINE works unchanged.
"""

from dataclasses import asdict, dataclass

SESSION_KEY = "userInfo"


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
