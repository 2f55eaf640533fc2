from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login", views.login, name="login"),
    path("session", views.session, name="session"),
    path("logout", views.logout, name="logout"),
    path("prefs", views.prefs, name="prefs"),
    path("auth/login", views.auth_login, name="auth-login"),
    path("auth/logout", views.auth_logout, name="auth-logout"),
    path("auth/me", views.auth_me, name="auth-me"),
]
