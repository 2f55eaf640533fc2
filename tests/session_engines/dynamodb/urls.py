"""The project's URLs plus one test view that stores as much random data as asked."""

import secrets

from django.http import JsonResponse
from django.urls import path

from sessiondemo.urls import urlpatterns as project_urls


def stuff(request):
    request.session["blob"] = secrets.token_urlsafe(int(request.GET["bytes"]))
    return JsonResponse({"stored": True})


urlpatterns = [path("stuff", stuff), *project_urls]
