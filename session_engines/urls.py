from django.urls import path

from . import views

urlpatterns = [
    path("sessions", views.sessions, name="sessions"),
    path("sessions/<str:id>/end", views.end_session, name="end-session"),
    path("logout-everywhere", views.logout_everywhere, name="logout-everywhere"),
]
