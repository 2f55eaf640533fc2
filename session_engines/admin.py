"""Session pages in the Django admin, for whichever engine SESSION_ENGINE selects.

No model is registered (the sessions may not live in the database at all): the views are
added to ``admin.site``'s URLs behind ``admin_view`` (active staff only, CSRF-protected,
never cached), and each view checks the ``Session`` model's permissions itself: ``view_session``
to list and read sessions, ``delete_session`` to end them (403 otherwise). A "Sessions" entry
is added to the admin index and sidebar for users who may view sessions, when SESSION_ENGINE
has an operator (without one the pages answer 404).
"""

from django.contrib import admin
from django.urls import path, re_path, reverse

from . import admin_views
from .operators import has_operator


def session_urls(site):
    return [
        path("sessions/", site.admin_view(admin_views.session_list), name="session_engines_list"),
        path(
            "sessions/logout-everywhere/",
            site.admin_view(admin_views.logout_everywhere),
            name="session_engines_logout_everywhere",
        ),
        re_path(
            r"^sessions/(?P<id>[0-9a-f]{64})/$",
            site.admin_view(admin_views.session_detail),
            name="session_engines_detail",
        ),
        re_path(
            r"^sessions/(?P<id>[0-9a-f]{64})/delete/$",
            site.admin_view(admin_views.session_delete),
            name="session_engines_delete",
        ),
    ]


def index_entry(site, request):
    """The index entry for ``request.user``, or None when they may not see sessions."""
    if not has_operator() or not request.user.has_perm(admin_views.VIEW_PERM):
        return None
    url = reverse("admin:session_engines_list", current_app=site.name)
    can_delete = request.user.has_perm(admin_views.DELETE_PERM)
    return {
        "name": "Session engines",
        "app_label": "session_engines",
        "app_url": url,
        "has_module_perms": True,
        "models": [
            {
                "name": "Sessions",
                "object_name": "Session",
                "admin_url": url,
                "add_url": None,
                "view_only": True,
                "perms": {"add": False, "change": False, "delete": can_delete, "view": True},
            }
        ],
    }


def install(site):
    """Add the session pages to ``site`` (once): its URLs, and an entry on its index."""
    if getattr(site, "session_engines_installed", False):
        return
    get_urls, get_app_list = site.get_urls, site.get_app_list

    def urls():
        return session_urls(site) + get_urls()

    def app_list(request, app_label=None):
        apps = get_app_list(request, app_label)
        if app_label is None and site.has_permission(request):
            entry = index_entry(site, request)
            if entry:
                apps = sorted([*apps, entry], key=lambda app: app["name"].lower())
        return apps

    site.get_urls, site.get_app_list = urls, app_list
    site.session_engines_installed = True


install(admin.site)
