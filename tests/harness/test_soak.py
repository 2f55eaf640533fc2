"""``python -m harness.soak``, short: every shared store under steady load, then its faults.

The short form of ``make soak`` (8 s of soak per store, 6 s runs per fault, a fault a third of the
way in): the figures the README states must hold on every run. Each fault returns once the store
serves again (failover done, the killed node back as a replica), so nothing here waits a fixed
time for a condition; no timing is asserted.
"""

import json

import pytest

from harness import soak
from harness.ha import cluster

CLIENTS, SOAK_SECONDS, FAULT_SECONDS, IDLE = 6, 8.0, 6.0, 5
# Per store: the faults the short form runs on it (instance kill once, on the cheapest store).
SHORT_FORM = {
    "redis": ("instance", "restart"),
    "redis_aof": ("restart",),
    "redis_sentinel": ("failover",),
    "redis_cluster": ("primary",),
    "dynamodb": ("restart",),
}


def assert_never_wrong(row):
    """Every answer a 200 with the session intact or a 503 with Retry-After; never a 500."""
    assert row["s500"] == 0
    assert row["s503_no_retry_after"] == 0
    assert row["other"] == 0
    assert row["wrong"] == 0  # nothing older (or empty) saved over what a user last wrote
    assert row["ok"] > 0 and row["sessions"] > IDLE
    assert {"app1", "app2"} <= set(row["served_by"])  # round-robin: both instances answered


@pytest.mark.parametrize("store", SHORT_FORM)
def test_sessions_survive_steady_load_and_faults(store):
    engine = soak.STORES[store]
    with cluster(engine, env=soak.instance_env(engine, wait_replicas=1)) as running:
        steady = soak.run_load(
            running, clients=CLIENTS, seconds=SOAK_SECONDS, idle=IDLE, warm_up=SOAK_SECONDS / 4
        )
        faulted = {
            fault: soak.run_load(
                running, clients=CLIENTS, seconds=FAULT_SECONDS, idle=IDLE, fault=fault
            )
            for fault in SHORT_FORM[store]
        }

    assert_never_wrong(steady)
    assert steady["s503"] == steady["dropped"] == steady["lost"] == 0  # 0 errors, 0 lost
    assert steady["rss_growth_pct"] < 10
    for fault, row in faulted.items():
        assert_never_wrong(row)
        if fault != "instance":
            assert row["dropped"] == 0  # a store fault costs 503s, never a dropped request
        if (store, fault) in soak.VOLATILE:
            assert row["idle_lost"] == IDLE  # in memory only: a restart loses every session
        else:
            assert row["lost"] == 0
            assert row["kept"] == row["sessions"]


def test_writes_both_tables(tmp_path):
    row = {key: 0 for key, _ in soak.SOAK_COLUMNS + soak.FAULT_COLUMNS}
    soaks, faults = [{**row, "store": "redis"}], [{**row, "store": "redis", "fault": "restart"}]
    md, js = soak.write(soaks, faults, out=tmp_path, settings={"out": tmp_path, "clients": 8})

    saved = json.loads(js.read_text())
    assert saved["settings"] == {"out": str(tmp_path), "clients": 8}
    assert [row["fault"] for row in saved["faults"]] == ["restart"]
    soak_table, fault_table = md.read_text().split("\n\n")
    assert soak_table.startswith("| store | seconds | clients |")
    assert fault_table.startswith("| store | fault | requests |")
    assert "| redis | restart |" in fault_table


@pytest.mark.parametrize(
    "args",
    [["--stores", "sqlite"], ["--faults", "frozen"], ["--clients", "0"], ["--seconds", "1"]],
)
def test_rejects_unknown_stores_faults_and_bounds(args, capsys):
    with pytest.raises(SystemExit):
        soak.parse_args(args)
    assert "error:" in capsys.readouterr().err
