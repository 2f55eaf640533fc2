"""session_engines.conf.setting: our settings read once, and again once a test changes them."""

from django.conf import LazySettings
from django.contrib.auth import SESSION_KEY

from session_engines.conf import setting
from session_engines.users import user_id_of


def test_an_unset_setting_is_its_default_and_a_set_one_its_value(settings):
    assert not hasattr(settings, "SESSION_TEST_UNSET")
    assert setting("SESSION_TEST_UNSET", 7) == 7
    settings.SESSION_TEST_UNSET = 8  # setting_changed: read anew
    assert setting("SESSION_TEST_UNSET", 7) == 8
    del settings.SESSION_TEST_UNSET
    assert setting("SESSION_TEST_UNSET", 7) == 7


def test_a_changed_setting_is_seen_by_the_engines_at_their_next_read(settings):
    data = {SESSION_KEY: "1", "profile": {"id": "2"}}
    assert user_id_of(data) == "1"
    settings.SESSION_USER_ID_PATH = "profile.id"
    assert user_id_of(data) == "2"


def test_a_dict_setting_changed_in_place_is_seen(settings):
    settings.SESSION_POLICY = {"IDLE_TIMEOUT": 60}
    assert setting("SESSION_POLICY")["IDLE_TIMEOUT"] == 60
    settings.SESSION_POLICY["IDLE_TIMEOUT"] = 90  # the project's own dict, not a copy
    assert setting("SESSION_POLICY")["IDLE_TIMEOUT"] == 90


def test_a_setting_is_read_from_django_once_per_settings_object_set_or_not(settings, monkeypatch):
    settings.SESSION_TEST_SET = 1  # a settings object of this test's own: nothing read yet
    reads = []
    lookup = LazySettings.__getattr__

    def counted(self, name):
        reads.append(name)
        return lookup(self, name)

    monkeypatch.setattr(LazySettings, "__getattr__", counted)
    for _ in range(3):
        assert setting("SESSION_TEST_UNSET", 7) == 7  # Django raises AttributeError for it
        assert setting("SESSION_TEST_SET") == 1
    assert sorted(reads) == ["SESSION_TEST_SET", "SESSION_TEST_UNSET"]
