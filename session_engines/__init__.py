"""Django session engines for running behind a load balancer on AWS.

A reusable app: add ``session_engines`` to INSTALLED_APPS and point SESSION_ENGINE at
``session_engines.backends.dynamodb``. It never imports the project that uses it.
"""

__version__ = "0.2.0"
