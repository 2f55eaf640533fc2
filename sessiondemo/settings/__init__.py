"""Settings package: ``base`` holds everything; one thin module per session engine.

Pick one with ``DJANGO_SETTINGS_MODULE`` (``sessiondemo.settings.db`` by default).
"""
