from django.urls import path

from . import views

urlpatterns = [
    path("sessions", views.sessions, name="sessions"),
    path("logout-everywhere", views.logout_everywhere, name="logout-everywhere"),
]
