"""gunicorn.conf.py: real gunicorn settings, sane defaults, env overrides, and in step with the
load balancer and ECS timeouts in the template."""

import os
import runpy

import gunicorn.config
import pytest

from tests.deploy import ROOT
from tests.deploy.template import container, load, properties

GUNICORN_ENV = (
    "PORT",
    "GUNICORN_BIND",
    "GUNICORN_WORKERS",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "FORWARDED_ALLOW_IPS",
)


def read_conf(monkeypatch, **env):
    for name in GUNICORN_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return {name: value for name, value in values.items() if not name.startswith("_")}


def test_every_setting_is_one_gunicorn_knows(monkeypatch):
    known = {setting.name for setting in gunicorn.config.KNOWN_SETTINGS}
    settings = {name for name, value in read_conf(monkeypatch).items() if not callable(value)}
    assert settings - {"os"} <= known  # a misspelt name would be silently ignored by gunicorn


def test_defaults(monkeypatch):
    conf = read_conf(monkeypatch)
    assert conf["bind"] == "0.0.0.0:8080"
    assert conf["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert conf["accesslog"] == "-"
    assert conf["forwarded_allow_ips"] == "*"
    assert 0 < conf["graceful_timeout"] <= conf["timeout"] <= 60


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"PORT": "9000"}, {"bind": "0.0.0.0:9000"}),
        ({"GUNICORN_BIND": "127.0.0.1:8123", "PORT": "8123"}, {"bind": "127.0.0.1:8123"}),
        ({"WEB_CONCURRENCY": "5"}, {"workers": 5}),
        ({"GUNICORN_WORKERS": "3", "WEB_CONCURRENCY": "5"}, {"workers": 3}),
        ({"GUNICORN_THREADS": "8", "GUNICORN_TIMEOUT": "20"}, {"threads": 8, "timeout": 20}),
        (
            {"GUNICORN_GRACEFUL_TIMEOUT": "10", "GUNICORN_KEEPALIVE": "90"},
            {"graceful_timeout": 10, "keepalive": 90},
        ),
        ({"FORWARDED_ALLOW_IPS": "10.42.0.0/16"}, {"forwarded_allow_ips": "10.42.0.0/16"}),
    ],
)
def test_environment_overrides(monkeypatch, env, expected):
    conf = read_conf(monkeypatch, **env)
    assert {name: conf[name] for name in expected} == expected


def test_timeouts_fit_the_alb_and_ecs(monkeypatch):
    conf, template = read_conf(monkeypatch), load()
    balancer = {
        item["Key"]: item["Value"]
        for item in properties(template, "LoadBalancer")["LoadBalancerAttributes"]
    }
    # The ALB, not gunicorn, closes idle keep-alive connections (no 502 on a reused one).
    assert conf["keepalive"] > int(balancer["idle_timeout.timeout_seconds"])
    # In-flight requests finish before ECS's SIGKILL.
    assert conf["graceful_timeout"] < container(template)["StopTimeout"]
