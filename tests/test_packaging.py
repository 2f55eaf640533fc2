"""`pip install` of this checkout gives another project the reusable app, and only that."""

import contextlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.dynamodb import FAKE_CREDENTIALS, moto_server
from harness.servers import redis_server

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
store["cart"] = ["book"]
store.save()
print(session_engines.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
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


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed alone (``--no-deps``) into a directory of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def run(script, project, installed, timeout, **env):
    """Run ``script`` in ``project`` on the installed wheel; the venv gives Django and extras."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PYTHONPATH": f"{project}:{installed}", "PATH": "/usr/bin:/bin", **env},
    )


def test_another_project_runs_on_the_installed_wheel_without_the_extras(installed, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "othersettings.py").write_text(SETTINGS)
    result = run(SCRIPT, project, installed, 120, DJANGO_SETTINGS_MODULE="othersettings")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(str(installed))  # not this checkout's copy


# Another project with django.contrib.auth and its own AdminSite, on one engine (OTHER_ENGINE),
# with no setting about where the user is: django.contrib.auth's session key is the default.
AUTH_SETTINGS = """
import os
SECRET_KEY = "another-project-test-key-0123456789-abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "session_engines",
]
MIDDLEWARE = [
    "session_engines.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "otherurls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth",
                          "django.contrib.messages.context_processors.messages",
                          "django.template.context_processors.request"]}}]
ENGINE = os.environ["OTHER_ENGINE"]
SESSION_ENGINE = f"session_engines.backends.{ENGINE}"
if ENGINE in ("cache", "redis"):
    SESSION_CACHE_ALIAS = "sessions"
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
        },
    }
if ENGINE == "dynamodb":
    SESSION_DYNAMODB = {"TABLE_NAME": "other-sessions", "REGION_NAME": "us-east-1",
                        "ENDPOINT_URL": os.environ["DYNAMODB_ENDPOINT_URL"]}
"""

AUTH_URLS = """
from django.contrib.admin import AdminSite
from django.http import JsonResponse
from django.urls import path
from session_engines.admin import SessionAdmin
from session_engines.models import Session

class OpsSite(AdminSite):
    site_header = "Operations"

ops = OpsSite(name="ops")
ops.register(Session, SessionAdmin)

def whoami(request):
    return JsonResponse({"user": request.user.get_username() or None})

urlpatterns = [path("ops/", ops.urls), path("whoami", whoami)]
"""

# Log a user in with Django's login() (the test client's login()), list the session in the
# project's admin, end it there, and see the user's next request come in anonymous.
AUTH_SCRIPT = """
import os, re, sys
engine = os.environ["OTHER_ENGINE"]
needs = {"cache": {"django_redis", "redis"}, "redis": {"django_redis", "redis"},
         "dynamodb": {"boto3", "botocore"}}.get(engine, set())
for missing in {"boto3", "botocore", "django_redis", "redis"} - needs:
    sys.modules[missing] = None  # each engine runs with its own extra only
import django, session_engines
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from session_engines.ids import session_id
call_command("check", fail_level="WARNING")
call_command("migrate", verbosity=0)
if engine == "dynamodb":
    call_command("createsessiontable", delay=0.1, verbosity=0)
dana = User.objects.create_user("dana", password="dana-password-1")
User.objects.create_superuser("root", password="root-password-1")
phone, laptop, root = Client(), Client(), Client()
assert phone.login(username="dana", password="dana-password-1")
assert laptop.login(username="dana", password="dana-password-1")
assert root.login(username="root", password="root-password-1")
assert phone.get("/whoami").json() == {"user": "dana"}
key = phone.cookies["sessionid"].value
id = session_id(key)
ops = "/ops/session_engines/session/"
assert f'href="{ops}"' in root.get("/ops/").content.decode()
listing = root.get(ops).content.decode()
row = rf'{id}/">.*?</a></td>\\s*<td>{dana.pk}</td>\\s*<td>dana</td>'
assert re.search(row, listing) and key not in listing, listing
response = root.post(f"{ops}{id}/delete/")
assert response.status_code == 302 and response["Location"] == ops, response
assert phone.get("/whoami").json() == {"user": None}
assert laptop.get("/whoami").json() == {"user": "dana"}
assert id not in root.get(ops).content.decode()
if engine != "cache":  # Django's cache engine keeps no per-user index
    response = root.post(f"{ops}logout-everywhere/", {"user": dana.pk}, follow=True)
    assert "1 session(s) ended" in response.content.decode()
    assert laptop.get("/whoami").json() == {"user": None}
print(session_engines.__file__)
"""


@contextlib.contextmanager
def store(engine):
    """The server ``engine`` needs, started on loopback; yields the project's environment."""
    if engine in ("cache", "redis"):
        with redis_server() as url:
            yield {"REDIS_URL": url}
    elif engine == "dynamodb":
        with moto_server() as endpoint:
            yield {**FAKE_CREDENTIALS, "DYNAMODB_ENDPOINT_URL": endpoint}
    else:
        yield {}


@pytest.mark.parametrize("engine", ["db", "cache", "redis", "dynamodb"])
def test_another_project_logs_in_and_ends_sessions_in_its_own_admin(engine, installed, tmp_path):
    (tmp_path / "othersettings.py").write_text(AUTH_SETTINGS)
    (tmp_path / "otherurls.py").write_text(AUTH_URLS)
    with store(engine) as env:
        result = run(
            AUTH_SCRIPT,
            tmp_path,
            installed,
            180,
            DJANGO_SETTINGS_MODULE="othersettings",
            OTHER_ENGINE=engine,
            **env,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(str(installed))
