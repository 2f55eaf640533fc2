"""`pip install` of this checkout gives another project the reusable app, and only that."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Another project's settings: only what the README's "Use the engines in your project" says.
SETTINGS = """
SECRET_KEY = "another-project-test-key-0123456789-abcdefghijklmnopqrstuvwxyz"
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "session_engines",
]
MIDDLEWARE = [
    "session_engines.middleware.SessionMiddleware",  # in place of Django's
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
SESSION_ENGINE = "session_engines.backends.db"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth",
                          "django.contrib.messages.context_processors.messages",
                          "django.template.context_processors.request"]}}]
"""

# Without the optional client libraries: a db-engine project installs neither extra.
SCRIPT = """
import sys
for missing in ("boto3", "botocore", "django_redis", "redis"):
    sys.modules[missing] = None  # importing it now raises ImportError
import django, session_engines
django.setup()
from django.core.management import call_command
from django.template.loader import get_template
call_command("check", fail_level="WARNING")
call_command("migrate", verbosity=0)
get_template("session_engines/admin/session_list.html")
from session_engines.backends.db import SessionStore
store = SessionStore()
store["userInfo"] = {"userId": "alice"}
store.save()
print(session_engines.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_describes_itself_with_the_package_readme_and_version(wheel):
    from session_engines import __version__

    archive = zipfile.ZipFile(wheel)
    (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
    headers, _, description = archive.read(metadata).decode().partition("\n\n")
    assert f"Version: {__version__}" in headers.splitlines()
    assert "Description-Content-Type: text/markdown" in headers.splitlines()
    assert description.strip() == (ROOT / "session_engines" / "README.md").read_text().strip()


def test_the_wheel_holds_the_app_its_migrations_and_templates_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"session_engines"}
    assert "session_engines/migrations/0001_initial.py" in names
    assert "session_engines/templates/session_engines/admin/session_list.html" in names
    assert "session_engines/management/commands/createsessiontable.py" in names
    assert "session_engines/py.typed" in names  # PEP 561: its type hints reach the project


def test_another_project_runs_on_the_installed_wheel_without_the_extras(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    (project / "othersettings.py").write_text(SETTINGS)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=project, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": f"{project}:{target}", "DJANGO_SETTINGS_MODULE": "othersettings",
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(str(target))  # not this checkout's copy
