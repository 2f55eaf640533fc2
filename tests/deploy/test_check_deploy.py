"""Production is DJANGO_DEBUG=0: `manage.py check --deploy` reports nothing for every module."""

import os
import subprocess
import sys

import pytest
from django.core.management.utils import get_random_secret_key

from tests.deploy import ROOT, settings_modules


def check_deploy(module, **env):
    environ = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": get_random_secret_key()}
    environ.pop("DJANGO_HTTPS", None)  # production default: on whenever DEBUG is off
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "DEBUG",
            f"--settings=sessiondemo.settings.{module}",
        ],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_engine_has_a_settings_module():
    assert {"db", "cache", "dynamodb"} <= set(settings_modules())


@pytest.mark.parametrize("module", settings_modules())
def test_check_deploy_reports_nothing(module):
    result = check_deploy(module)
    # --fail-level DEBUG: any message at all, even a hint, is a failure.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_catches_a_weak_secret_key():
    # The check is live, not silenced wholesale: a short key is reported.
    result = check_deploy("db", DJANGO_SECRET_KEY="too-short")
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_check_deploy_is_clean_with_hsts_preload_on():
    # W021 is silenced only while preload is off; on, there is nothing to report either.
    result = check_deploy("db", DJANGO_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr
