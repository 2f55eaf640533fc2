"""The web page `/` in headless Chromium through HAProxy (round-robin, two instances)."""

import pytest

from harness.chromium import chromium
from harness.ha import cluster

RELOADS = 4


def log_in_and_reload(url):
    """Log in with the page's form, then reload the page.

    Returns the instance that answered the login, and (instance, userId) of every page shown.
    """
    with chromium() as page:
        page.goto(f"{url}/")
        assert page.text("#userId") == "null"
        page.loading(
            lambda: page.evaluate(
                """
                const form = document.getElementById("login");
                form.userId.value = "alice";
                form.userNm.value = "Alice Kim";
                form.querySelector("button").click();
                """
            )
        )
        [login] = [r for r in page.responses if r[0].endswith("/login")]
        assert login[1] == 200
        seen = [(page.text("#instance"), page.text("#userId"))]
        for _ in range(RELOADS):
            page.reload()
            seen.append((page.text("#instance"), page.text("#userId")))
        return login[2]["x-served-by"], seen


@pytest.mark.parametrize("engine", ["cache", "dynamodb"])
def test_page_keeps_user_info_whichever_instance_serves_it(engine):
    with cluster(engine) as running:
        logged_in_on, seen = log_in_and_reload(running.url)

    assert {instance for instance, _ in seen} == {"app1", "app2"}
    assert all(user_id == "alice" for _, user_id in seen)


def test_page_loses_user_info_on_the_local_engine():
    with cluster("db") as running:
        logged_in_on, seen = log_in_and_reload(running.url)

    assert {instance for instance, _ in seen} == {"app1", "app2"}
    # The login stored UserInfo on one instance; the first page served by the other shows
    # none, and drops the cookie: from then on the user is logged out everywhere.
    elsewhere = next(index for index, (instance, _) in enumerate(seen) if instance != logged_in_on)
    assert all(user_id == "alice" for _, user_id in seen[:elsewhere])
    assert all(user_id == "null" for _, user_id in seen[elsewhere:])
