from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("session_engines.urls")),
]

if settings.SESSION_METRICS["ENABLED"]:  # SESSION_METRICS=1
    from session_engines.metrics import metrics_view

    urlpatterns.append(path("metrics", metrics_view))

handler400 = "accounts.views.bad_request"
handler403 = "accounts.views.forbidden"
handler404 = "accounts.views.not_found"
handler500 = "accounts.views.server_error"
