"""The admin's session pages, on every engine with an operator (Django test client, staff).

Seeing sessions needs ``session_engines.view_session``, ending them ``delete_session``.
"""

import re

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from django.utils.module_loading import import_string
from django_redis import get_redis_connection

from session_engines.admin import SessionAdmin
from session_engines.ids import session_id
from session_engines.models import Session

from .helpers import (
    INDEXED_ENGINES,
    NOBODY,
    OPERATOR_ENGINES,
    UNINDEXED_ENGINES,
    engines,
    ids_of,
    key_of,
    log_in,
    log_in_several,
    new_client,
    use_redis,
    user_id,
    user_info,
)

LIST = "/admin/session_engines/session/"
ID = re.compile(r"/session_engines/session/([0-9a-f]{64})/")


@pytest.fixture(autouse=True)
def no_static_manifest(settings):
    """Admin pages link static files; the manifest exists only after collectstatic."""
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": static}


def staff_client(username, *perms, **fields):
    """A client logged in as a new staff user holding ``perms`` (codenames of session_engines)."""
    user = User.objects.create_user(username, password="not-used", is_staff=True, **fields)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="session_engines", codename__in=perms)
    )
    assert user.user_permissions.count() == len(perms)
    client = new_client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(engine):
    """A session operator: may view and end sessions."""
    return staff_client("operator", "view_session", "delete_session")


def page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def raw_keys(logged_in, staff):
    """Every live session key (read before any is ended: ending one clears its cookie)."""
    return [key_of(client) for client in (staff, *sum(logged_in.values(), []))]


ROW = re.compile(
    r'<td><a href="[^"]*/([0-9a-f]{64})/">.*?</a></td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>'
)


def users_and_names(listing):
    """``{session id: (user, name)}`` for each row of a session list page."""
    return {id: (user, name) for id, user, name in ROW.findall(listing)}


def assert_no_raw_key(text, keys):
    assert keys and all(len(key) >= 32 and key not in text for key in keys)


@engines(OPERATOR_ENGINES)
def test_list_open_and_delete_one(engine, staff):
    logged_in = log_in_several()
    keys = raw_keys(logged_in, staff)
    index = page(staff, "/admin/")
    assert f'href="{LIST}"' in index
    listing = page(staff, LIST)
    rows = users_and_names(listing)
    for user, clients in logged_in.items():
        for client in clients:
            assert rows[session_id(key_of(client))] == (user_id(user), user)
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    detail = page(staff, f"{LIST}{bob_id}/")
    assert "<th>Name</th><td>bob</td>" in detail and SESSION_KEY in detail and bob_id in detail
    response = staff.post(f"{LIST}{bob_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert "ended" in response.content.decode()
    assert user_info(bob) == NOBODY
    assert bob_id not in page(staff, LIST)
    assert staff.get(f"{LIST}{bob_id}/").status_code == 404
    for text in (index, listing, detail, response.content.decode()):
        assert_no_raw_key(text, keys)


@engines(INDEXED_ENGINES)
def test_log_a_user_out_everywhere(engine, staff):
    logged_in = log_in_several()
    keys = raw_keys(logged_in, staff)
    alice = logged_in["alice"]
    filtered = page(staff, LIST, data={"user": user_id("alice")})
    assert set(ID.findall(filtered)) == ids_of(alice)
    response = staff.post(f"{LIST}logout-everywhere/", {"user": user_id("alice")}, follow=True)
    text = response.content.decode()
    assert f"Logged {user_id('alice')} out everywhere: 2 session(s) ended." in text
    assert not ID.findall(text)  # alice has none left
    assert all(user_info(client) == NOBODY for client in alice)
    assert user_info(logged_in["carol"][0])["userId"] == user_id("carol")
    assert_no_raw_key(text, keys)


@engines(UNINDEXED_ENGINES)
def test_admin_says_plainly_the_engine_cannot_index_users(engine, staff):
    logged_in = log_in_several()
    listing = page(staff, LIST)
    assert "This session engine cannot index sessions by user" in listing
    assert "no per-user index" in page(staff, LIST, data={"user": user_id("alice")})
    response = staff.post(f"{LIST}logout-everywhere/", {"user": user_id("alice")}, follow=True)
    assert "cannot index sessions by user" in response.content.decode()
    assert all(user_info(client)["userId"] == user_id("alice") for client in logged_in["alice"])


@engines(OPERATOR_ENGINES)
def test_pages_walk_every_session_exactly_once(engine, staff, monkeypatch):
    logged_in = log_in_several()
    # Enough keys that SCAN pages on any server: Valkey's returns whole buckets (up to 7 keys).
    logged_in["carol"] += [log_in("carol") for _ in range(10)]
    monkeypatch.setattr(SessionAdmin, "list_per_page", 2)
    ids, url, pages = [], LIST, 0
    while url:
        text = page(staff, url if url.startswith("/") else LIST + url)
        ids += ID.findall(text)
        pages += 1
        found = re.search(r'href="(\?cursor=[^"]+)" rel="next"', text)
        url = found and found.group(1).replace("&amp;", "&")
    assert pages > 1
    assert len(ids) == len(set(ids))
    expected = ids_of(client for clients in logged_in.values() for client in clients)
    assert set(ids) == expected | {session_id(key_of(staff))}


@engines(OPERATOR_ENGINES)
def test_no_admin_page_for_anyone_but_staff(engine):
    logged_in = log_in_several()
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    member = new_client()
    member.force_login(User.objects.create_user("member", password="not-used"))
    for client in (new_client(), member, bob):
        for url in (LIST, f"{LIST}{bob_id}/"):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert client.post(f"{LIST}{bob_id}/delete/").status_code == 302
        assert client.post(f"{LIST}logout-everywhere/", {"user": user_id("bob")}).status_code == 302
    assert user_info(bob)["userId"] == user_id("bob")


@engines(["db"])
def test_changes_need_post_with_a_csrf_token(engine, staff):
    logged_in = log_in_several()
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    assert staff.get(f"{LIST}{bob_id}/delete/").status_code == 405
    strict = new_client(enforce_csrf_checks=True)
    strict.cookies = staff.cookies
    assert strict.post(f"{LIST}{bob_id}/delete/").status_code == 403
    assert strict.post(f"{LIST}logout-everywhere/", {"user": user_id("bob")}).status_code == 403
    assert user_info(bob)["userId"] == user_id("bob")


@engines(["db"])
def test_missing_user_or_id(engine, staff):
    log_in_several()
    response = staff.post(f"{LIST}logout-everywhere/", {"user": " "}, follow=True)
    assert "Give the user id" in response.content.decode()
    assert staff.get(f"{LIST}not-an-id/").status_code == 404


@engines(["cache"])
def test_bad_cursor_is_a_400(engine, staff):
    assert staff.get(LIST, {"cursor": "nope"}).status_code == 400


def sessions_entry(index):
    return f'href="{LIST}"' in index or 'href="/admin/session_engines/"' in index


@engines(OPERATOR_ENGINES)
def test_staff_without_permissions_get_403_and_no_entry(engine):
    logged_in = log_in_several()
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    nobody = staff_client("nobody")
    assert not sessions_entry(page(nobody, "/admin/"))
    for url in (LIST, f"{LIST}?user={user_id('alice')}", f"{LIST}{bob_id}/"):
        assert nobody.get(url).status_code == 403
    assert nobody.post(f"{LIST}{bob_id}/delete/").status_code == 403
    everywhere = {"user": user_id("alice")}
    assert nobody.post(f"{LIST}logout-everywhere/", everywhere).status_code == 403
    assert user_info(bob)["userId"] == user_id("bob")
    assert all(user_info(client)["userId"] == user_id("alice") for client in logged_in["alice"])


@engines(OPERATOR_ENGINES)
def test_view_permission_lists_and_reads_but_cannot_end(engine):
    logged_in = log_in_several()
    viewer = staff_client("viewer", "view_session")
    keys = raw_keys(logged_in, viewer)
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    index = page(viewer, "/admin/")
    assert f'href="{LIST}"' in index
    listing = page(viewer, LIST)
    assert bob_id in listing and "Log out everywhere" not in listing
    detail = page(viewer, f"{LIST}{bob_id}/")
    assert "<th>Name</th><td>bob</td>" in detail and "End this session" not in detail
    assert viewer.post(f"{LIST}{bob_id}/delete/").status_code == 403
    everywhere = {"user": user_id("alice")}
    assert viewer.post(f"{LIST}logout-everywhere/", everywhere).status_code == 403
    assert user_info(bob)["userId"] == user_id("bob")
    assert all(user_info(client)["userId"] == user_id("alice") for client in logged_in["alice"])
    assert bob_id in page(viewer, LIST)
    for text in (index, listing, detail):
        assert_no_raw_key(text, keys)


@engines(["db"])
def test_superusers_may_view_and_end_sessions(engine):
    bob = log_in_several()["bob"][0]
    bob_id = session_id(key_of(bob))
    root = staff_client("root", is_superuser=True)
    assert f'href="{LIST}"' in page(root, "/admin/")
    detail = page(root, f"{LIST}{bob_id}/")
    assert "End this session" in detail
    assert root.post(f"{LIST}{bob_id}/delete/").status_code == 302
    assert user_info(bob) == NOBODY


@pytest.mark.parametrize("backend", ["cached_db", "file", "signed_cookies"])
def test_engine_without_an_operator_has_no_entry_and_no_500(backend, settings, db, tmp_path):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{backend}"
    settings.SESSION_FILE_PATH = str(tmp_path)
    root = staff_client("root", is_superuser=True)
    assert not sessions_entry(page(root, "/admin/"))
    some_id = "0" * 64
    for url in (LIST, f"{LIST}{some_id}/"):
        assert root.get(url).status_code == 404
    assert root.post(f"{LIST}{some_id}/delete/").status_code == 404
    assert root.post(f"{LIST}logout-everywhere/", {"user": "1"}).status_code == 404


def test_admin_site_has_the_session_admin_registered_not_patched_in():
    assert isinstance(admin.site.get_model_admin(Session), SessionAdmin)
    for name in ("get_urls", "get_app_list", "each_context"):
        assert getattr(admin.site, name).__func__ is getattr(AdminSite, name)


@engines(OPERATOR_ENGINES)
def test_a_custom_admin_site_serves_the_session_pages(engine, staff):
    logged_in = log_in_several()  # through /sign-in, which the custom site's URLconf lacks
    keys = raw_keys(logged_in, staff)
    bob = logged_in["bob"][0]
    bob_id = session_id(key_of(bob))
    ops = "/ops/session_engines/session/"
    with override_settings(ROOT_URLCONF="tests.session_engines.custom_site"):
        assert staff.get(LIST).status_code == 404  # admin.site is not mounted here
        assert f'href="{ops}"' in page(staff, "/ops/")
        listing = page(staff, ops)
        assert f'href="{ops}{bob_id}/"' in listing
        assert users_and_names(listing)[bob_id] == (user_id("bob"), "bob")
        detail = page(staff, f"{ops}{bob_id}/")
        assert f'action="{ops}{bob_id}/delete/"' in detail and 'href="/ops/"' in detail
        response = staff.post(f"{ops}{bob_id}/delete/", follow=True)
        assert response.redirect_chain == [(ops, 302)]
        assert "ended" in response.content.decode()
        alice = user_id("alice")
        response = staff.post(f"{ops}logout-everywhere/", {"user": alice})
        assert response.status_code == 302 and response["Location"] == f"{ops}?user={alice}"
    assert user_info(bob) == NOBODY
    for text in (listing, detail):
        assert_no_raw_key(text, keys)


@engines(OPERATOR_ENGINES)
def test_names_come_from_the_user_model_and_other_ids_show_none(engine, settings):
    assert not hasattr(settings, "SESSION_USER_ID_PATH")  # the user is django.contrib.auth's
    assert not hasattr(settings, "SESSION_USER_NAME_PATH")
    staff = staff_client("operator", "view_session", "delete_session")
    dana = User.objects.create_user("dana", password="dana-password-1", first_name="Dana")
    member = new_client()
    assert member.login(username="dana", password="dana-password-1")
    strangers = []
    for stranger in ("not-a-pk", "9" * 30):
        store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
        store[SESSION_KEY] = stranger
        store.save()
        strangers.append(session_id(store.session_key))
    rows = users_and_names(page(staff, LIST))
    assert rows[session_id(key_of(member))] == (str(dana.pk), "dana")
    assert rows[session_id(key_of(staff))][1] == "operator"
    assert [rows[id] for id in strangers] == [("not-a-pk", "–"), ("9" * 30, "–")]
    detail = page(staff, f"{LIST}{session_id(key_of(member))}/")
    assert "<th>Name</th><td>dana</td>" in detail
    assert "<th>Name</th><td>–</td>" in page(staff, f"{LIST}{strangers[0]}/")


@engines(INDEXED_ENGINES)
def test_the_index_is_by_auth_user_whatever_logs_them_in(engine):
    staff = staff_client("operator", "view_session", "delete_session")
    dana = User.objects.create_user("dana", password="dana-password-1")
    phone, laptop = new_client(), new_client()
    for client in (phone, laptop):
        assert client.login(username="dana", password="dana-password-1")  # not /sign-in
    assert set(ID.findall(page(staff, LIST, data={"user": dana.pk}))) == ids_of([phone, laptop])
    response = staff.post(f"{LIST}logout-everywhere/", {"user": dana.pk}, follow=True)
    assert f"Logged {dana.pk} out everywhere: 2 session(s) ended." in response.content.decode()
    assert not ID.findall(page(staff, LIST, data={"user": dana.pk}))
    assert session_id(key_of(staff)) in ID.findall(page(staff, LIST))


@pytest.mark.parametrize("backend", ["db", "cache"])
def test_djangos_own_engines_are_listed_and_ended(backend, settings, db, redis_url):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{backend}"
    settings.SESSION_CACHE_ALIAS = "sessions"
    use_redis(settings, redis_url)
    get_redis_connection("sessions").flushdb()
    root = staff_client("root", is_superuser=True)
    member = log_in("carol")
    carol_id = session_id(key_of(member))
    assert f'href="{LIST}"' in page(root, "/admin/session_engines/")
    assert users_and_names(page(root, LIST))[carol_id] == (user_id("carol"), "carol")
    assert root.post(f"{LIST}{carol_id}/delete/").status_code == 302
    assert carol_id not in page(root, LIST)
    assert user_info(member) == NOBODY
