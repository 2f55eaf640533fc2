"""Our DynamoDB session engine. SESSION_DYNAMODB in base holds its configuration."""

from .base import *  # noqa: F401,F403

SESSION_ENGINE = "session_engines.backends.dynamodb"
