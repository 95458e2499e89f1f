"""The benchmark's quick run, so that ``bench/`` cannot rot.

It runs exactly what ``python -m bench.run`` runs, with a few hundred
officers for about a minute or two, and checks that it works: offers reach
officers, races have exactly one winner, everyone comes back after the
storm, and the JSON holds every figure. Timings are not checked here: they
depend on the machine and on what else runs (see bench/README.md).

A second, shorter run (``--processes 2``) checks figure 1 across two
processes in cluster mode: offers reach officers on both, none is missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
# A quick run takes one to three minutes; the rest is headroom for a busy
# machine (the suite itself may run beside it).
RUN_TIMEOUT_S = 480


def bench(tmp_path_factory, name: str, *options: str) -> dict:
    """Run ``python -m bench.run --quick`` with ``options``; its JSON."""
    out = tmp_path_factory.mktemp("bench") / f"{name}.json"
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", *options, "--out", str(out)],
        cwd=ROOT,
        check=True,
        timeout=RUN_TIMEOUT_S,
        stdout=subprocess.DEVNULL,
    )
    return orjson.loads(out.read_bytes())


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    return bench(tmp_path_factory, "quick")


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_the_quick_run_writes_every_figure_with_machine_and_settings(result):
    numbers = {row["figure"].split(".")[0] for row in result["figures"]}
    assert numbers == {"1", "2", "3", "4", "5", "6"}
    assert result["machine"]["cpu_count"] >= 1
    assert result["settings"]["officers"] == 300
    assert set(result["targets"]) >= {"alarm_to_offers_p99_ms", "loop_lag_max_ms"}
    for row in result["figures"]:
        assert row["value"] is not None, row


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_offers_reach_the_officers_on_the_platform_and_the_floor(result):
    for run in ("platform", "floor"):
        steady = result[run]["steady"]
        assert steady["alarm_to_offers_ms"]["n"] > 0, run
        assert steady["offered"]["p50"] > 0, run
        assert steady["missing_offers"] == 0, run
        assert result[run]["ingest"]["positions_per_s"] > 0, run


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_every_race_has_exactly_one_winner(result):
    races = result["platform"]["race"]
    assert set(races) == {"2", "10", "50", "200"}
    for k, race in races.items():
        assert race["alarms"] > 0, k
        assert race["double_assignments"] == 0, k
        assert race["no_winner"] == 0, k
        assert set(race["refusals"]) <= {"409 taken"}, (k, race["refusals"])
    check = result["platform"]["race_check"]
    assert check["alarms_checked"] > 0
    assert check["assigned_twice"] == 0
    assert "double assignment" not in result["platform"]["errors"]


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_every_officer_is_back_after_the_storm(result):
    for run in ("platform", "floor"):
        storm = result[run]["storm"]
        assert storm["not_back"] == 0, run
        assert "reload on resume" not in result[run]["errors"], run
    assert result["platform"]["memory"]["per_officer_bytes"] > 0


# Two processes, fewer officers, connect and steady phases only: well under
# a minute on an idle machine.
CLUSTER_OFFICERS = 200


@pytest.fixture(scope="module")
def cluster_result(tmp_path_factory) -> dict:
    return bench(
        tmp_path_factory, "two", "--processes", "2", "--officers", str(CLUSTER_OFFICERS)
    )


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_two_processes_offer_to_officers_on_both_and_miss_none(cluster_result):
    assert cluster_result["processes"] == 2
    (entry,) = cluster_result["figure_1"]
    assert entry["processes"] == 2
    for stat in ("p50_ms", "p99_ms", "max_ms"):
        assert entry[stat] is not None, stat
    assert entry["alarms"] > 0
    # An offer raised on A reaches officers connected to B only through the
    # cluster: if that path broke, B would get none, or they would be missing
    # against what the platform recorded as sent.
    assert entry["offers_by_node"].get("A", 0) > 0
    assert entry["offers_by_node"].get("B", 0) > 0
    assert entry["offers_recorded"] > 0
    assert entry["missing_offers"] == 0
    assert entry["offers_not_recorded"] == 0
    assert entry["alarms_without_offers"] == 0
    # Nothing went wrong, and no officer was dropped by the server (as
    # happened before sockets stopped holding Tornado's read loop).
    assert cluster_result["runs"]["2"]["errors"] == {}
