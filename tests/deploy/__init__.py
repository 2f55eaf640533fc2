"""Tests of what ships: the image's files, gunicorn's settings, and the CloudFormation template."""

import pkgutil
from pathlib import Path

import sessiondemo.settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "sessiondemo.yaml"


def settings_modules():
    """The engine settings modules that exist: every module in sessiondemo/settings/ but base."""
    return sorted(
        module.name
        for module in pkgutil.iter_modules(sessiondemo.settings.__path__)
        if module.name != "base"
    )
