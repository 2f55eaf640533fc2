"""Scrape ``/metrics`` of a real gunicorn instance of the demo (``SESSION_METRICS=1``) on the
native Redis engine: the counters move with real requests, an outage is counted, and only the
bearer token's holder may read them."""

import secrets
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from harness import ha
from harness.gunicorn import Instance
from harness.redis import redis_node
from harness.servers import free_port

ENGINE = "session_engines.backends.redis"


def scrape(url, token):
    """Return {(sample name, frozenset of labels): value} from /metrics."""
    response = requests.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples, name, **labels):
    return samples.get((name, frozenset({"engine": ENGINE, **labels}.items())), 0.0)


def until_503(url, cookies, timeout=30.0):
    """GET /session until the instance answers 503 (the killed store is seen as down)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{url}/session", cookies=cookies, timeout=10)
        if response.status_code == 503:
            return response
        time.sleep(0.05)
    raise TimeoutError(f"no 503 within {timeout}s")


def test_a_real_instance_s_metrics_follow_its_requests(tmp_path):
    token = secrets.token_urlsafe(24)
    with redis_node() as node:
        env = ha.instance_env(
            ha.ENGINES["redis"],
            name="app1",
            secret_key=secrets.token_urlsafe(50),
            workdir=tmp_path,
            store_env={"REDIS_URL": node.url},
            password=secrets.token_urlsafe(16),
        )
        env |= {"SESSION_METRICS": "1", "SESSION_METRICS_TOKEN": token}
        ha.migrate([env])
        instance = Instance(name="app1", port=free_port(), env=env, log=tmp_path / "app1.log")
        try:
            instance.start()
            url = instance.url
            refused = requests.get(f"{url}/metrics", timeout=10)
            assert refused.status_code == 403
            assert refused.json() == {"error": "Not allowed to read the metrics."}

            users = 3
            for n in range(users):
                with requests.Session() as client:
                    body = {"userId": f"u{n}", "userNm": f"User {n}"}
                    client.post(f"{url}/login", json=body, timeout=10).raise_for_status()
                    client.get(f"{url}/session", timeout=10).raise_for_status()
                    client.post(f"{url}/logout", timeout=10).raise_for_status()
            samples = scrape(url, token)
            assert sample(samples, "sessions_created_total") >= users
            assert sample(samples, "sessions_ended_total", reason="logout") >= users
            reads = sample(samples, "session_store_operation_seconds_count", operation="read")
            assert reads >= users
            slowest = sample(
                samples, "session_store_operation_seconds_bucket", operation="read", le="+Inf"
            )
            assert slowest == reads  # every read is in the histogram's last bucket

            with requests.Session() as client:
                body = {"userId": "u9", "userNm": "User 9"}
                client.post(f"{url}/login", json=body, timeout=10).raise_for_status()
                cookies = client.cookies.get_dict()
            node.kill()
            answer = until_503(url, cookies)
            assert answer.headers["Retry-After"]
            samples = scrape(url, token)  # no session read: still answered with Redis down
            assert sample(samples, "session_store_unavailable_total", operation="read") >= 1
        finally:
            instance.stop()
