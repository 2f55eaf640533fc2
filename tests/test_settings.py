"""Each settings module starts clean, and production hardening follows DJANGO_DEBUG."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.deploy import settings_modules

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("module", settings_modules())
def test_manage_check_is_clean(module):
    result = manage("check", f"--settings=sessiondemo.settings.{module}")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_secret_key_is_required_without_debug():
    result = manage("check", DJANGO_SECRET_KEY="", DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_debug_runs_without_a_secret_key():
    result = manage("check", DJANGO_SECRET_KEY="", DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_production_cookies_are_secure(db, client):
    response = client.post(
        "/login", {"userId": "a", "userNm": "A"}, content_type="application/json"
    )
    morsel = response.cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax"
    assert "max-age=31536000" in response["Strict-Transport-Security"]


def test_plain_http_is_redirected_except_health_checks(db):
    assert Client().get("/session").status_code == 301
    assert Client().get("/healthz").status_code == 200


def test_session_serializer_is_json():
    assert settings.SESSION_SERIALIZER.endswith("JSONSerializer")
    assert settings.CACHES["sessions"]["OPTIONS"]["SERIALIZER"].endswith("JSONSerializer")
