"""Which user a session belongs to, and the name operators see (session_engines.users)."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User

from session_engines.users import user_id_of, user_names


@pytest.fixture
def auth_defaults(settings):
    """No user path settings: the user is django.contrib.auth's."""
    del settings.SESSION_USER_ID_PATH
    del settings.SESSION_USER_NAME_PATH


def test_the_user_id_is_auths_by_default(auth_defaults):
    assert user_id_of({SESSION_KEY: "7", "userInfo": {"userId": "alice"}}) == "7"
    assert user_id_of({}) is None


def test_names_of_a_page_cost_one_query(auth_defaults, db, django_assert_num_queries):
    users = [User.objects.create_user(f"user{n}") for n in range(50)]
    sessions = [{SESSION_KEY: str(user.pk)} for user in users]
    not_users = [{SESSION_KEY: "not-a-pk"}, {SESSION_KEY: "9" * 30}, {SESSION_KEY: "-1"}, {}]
    with django_assert_num_queries(1):
        names = user_names([*sessions, *not_users, sessions[0]])
    assert names == [user.username for user in users] + [None] * 4 + ["user0"]
    with django_assert_num_queries(0):
        assert user_names(not_users[:2]) == [None, None]


def test_a_name_path_reads_the_name_from_the_session(settings, db, django_assert_num_queries):
    settings.SESSION_USER_ID_PATH = "profile.id"
    settings.SESSION_USER_NAME_PATH = "profile.name"
    with django_assert_num_queries(0):
        assert user_names([{"profile": {"id": 1, "name": "Ann"}}, {"profile": 3}]) == ["Ann", None]


def test_no_name_for_a_custom_user_id_without_a_name_path(settings, db):
    settings.SESSION_USER_ID_PATH = "profile.id"
    del settings.SESSION_USER_NAME_PATH
    user = User.objects.create_user("ann")
    assert user_names([{"profile": {"id": user.pk}, SESSION_KEY: str(user.pk)}]) == [None]
