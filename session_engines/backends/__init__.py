"""The session engines, side by side as in ``django.contrib.sessions.backends``.

Each module is a ``SESSION_ENGINE``: ``session_engines.backends.<name>``.
"""
