"""A project's own AdminSite with ``SessionAdmin`` registered on it, and a URLconf for it."""

from django.contrib.admin import AdminSite
from django.urls import path

from session_engines.admin import SessionAdmin
from session_engines.models import Session

from . import urls

site = AdminSite(name="ops")
site.register(Session, SessionAdmin)

urlpatterns = [
    path("ops/", site.urls),
    path("sign-in", urls.sign_in),
    path("whoami", urls.whoami),
]
