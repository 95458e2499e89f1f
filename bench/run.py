"""Run the benchmark: ``python -m bench.run [--officers N] [--quick]``.

1. Starts the platform (``run.py --demo``) on a fresh embedded database in
   a temporary directory, pinned to core 0 (its database child inherits
   the pin), and creates the officers, citizens and sessions
   (`bench.prepare`).
2. Runs the load generator (`bench.load`) in a process of its own on core
   1, then stops the platform.
3. Starts the floor (`bench.floor`) on core 0 and runs the same load
   against it, replaying what the platform sent.
4. Prints the table of figures against their targets and floor ratios and
   writes everything to ``bench/results/<date>.json``.

With ``--processes N`` (N > 1) it measures figure 1 only, across N platform
processes in cluster mode (server.realtime.cluster) on one database: the
first as above (``--demo``, its embedded database), the others on that
database, officers spread across them, citizens on the first. Only the
connect and steady phases run, and no floor (it has no processes to
spread). ``--compare`` runs the same with one process first, for a table
of both side by side.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform as machine
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from bson import ObjectId
from pymongo import MongoClient

from bench import prepare
from bench.common import children
from server.embedded import free_port

log = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "jingdi"
# Start-up includes the embedded database and the demo district.
START_TIMEOUT_S = 120
SERVER_CORE, LOAD_CORE = 0, 1

FULL = {
    "officers": 5000,
    "steady_s": 40,
    "ingest_s": 20,
    # Twice the every-4-s rhythm and a little more: 5,000 officers every
    # 1.9 s send ~2,600 positions/s, so that the rate sustained, with the
    # load generator's own delays, is at least the 2,500/s the figure asks
    # for (every 2.0 s measured 2,483-2,494/s).
    "ingest_interval_s": 1.9,
    "alarm_rate": 1.0,
    "watch_fraction": 0.5,
    "watch_s": 10.0,
    # Alarms per K. The issue asks for 1,000 each (--race-alarms 1000); on
    # the embedded store that takes most of an hour (bench/README.md).
    "race": {"2": 100, "10": 100, "50": 20, "200": 5},
    # Claimants tap within this window of each other after the offer.
    "race_window_s": 0.5,
    "race_parallel": 4,
    "storm_spread_s": 10.0,
    "storm_limit_s": 15.0,
    "phases": ["connect", "steady", "ingest", "race", "storm"],
    "seed": 8,
}
QUICK = {
    **FULL,
    "officers": 300,
    "steady_s": 8,
    "ingest_s": 5,
    "watch_s": 3.0,
    "race": {"2": 10, "10": 5, "50": 2, "200": 1},
    "storm_spread_s": 5.0,
}

TARGETS = {
    "alarm_to_offers_p99_ms": 50,
    "alarm_to_offers_floor_ratio": 1.5,
    "positions_per_s": 2500,
    "ingest_cpu_pct": 60,
    "position_to_citizen_p99_ms": 100,
    "double_assignments": 0,
    "loser_answer_p99_ms": 100,
    "memory_per_officer_bytes": 16 * 1024,
    "loop_lag_p99_ms": 10,
    "loop_lag_max_ms": 50,
    "storm_all_back_s": 15,
    "storm_alarm_to_offers_p99_ms": 1000,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the platform.")
    parser.add_argument("--officers", type=int, help="officers connected (5000)")
    parser.add_argument(
        "--quick", action="store_true", help="a small run (300 officers, a minute)"
    )
    parser.add_argument(
        "--race-alarms", type=int, metavar="N", help="alarms per claim race K"
    )
    parser.add_argument("--out", metavar="PATH", help="JSON results file")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="platform processes in cluster mode; N > 1 measures figure 1 only",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="figure 1 with one process, then with N (--processes, default 2)",
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.compare and args.processes == 1:
        args.processes = 2
    return args


# -- processes -----------------------------------------------------------------


def _pinned(core: int):
    """A preexec_fn that pins the child to ``core`` when the machine has it."""

    def preexec() -> None:  # pragma: no cover - runs in the child
        if hasattr(os, "sched_setaffinity") and core < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {core})

    return preexec


def pinning() -> str:
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return "not pinned (needs two cores and Linux)"
    return f"server and its database on core {SERVER_CORE}, load on core {LOAD_CORE}"


def _environment(data_dir: Path, port: int, db_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINGDI_")}
    env.update(
        {
            "JINGDI_SERVER_DATA_DIR": str(data_dir),
            "JINGDI_SERVER_PORT": str(port),
            "JINGDI_DATABASE_EMBEDDED_PORT": str(db_port),
            # Every simulated citizen comes from an address of its own.
            "JINGDI_SERVER_XHEADERS": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def wait_healthy(port: int, process: subprocess.Popen, path="/healthz") -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not start in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_load(plan: dict, work: Path, name: str) -> dict:
    """Run `bench.load` on its core with ``plan``; returns its output."""
    plan_path = work / f"{name}-plan.json"
    plan["out"] = str(work / f"{name}-out.json")
    plan_path.write_bytes(orjson.dumps(plan))
    subprocess.run(
        [sys.executable, "-m", "bench.load", str(plan_path)],
        cwd=ROOT,
        check=True,
        preexec_fn=_pinned(LOAD_CORE),
    )
    return orjson.loads(Path(plan["out"]).read_bytes())


# -- the two runs ----------------------------------------------------------------


def node_name(number: int) -> str:
    return chr(ord("A") + number)


def _cluster_environment(node: str) -> dict[str, str]:
    # Named explicitly on every node: they must all use the one database
    # that prepare() fills.
    return {
        "JINGDI_REALTIME_CLUSTER": "true",
        "JINGDI_REALTIME_NODE": node,
        "JINGDI_DATABASE_NAME": DATABASE,
    }


def _start(work: Path, name: str, args: list[str], env: dict) -> subprocess.Popen:
    with (work / f"{name}.log").open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "run.py", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned(SERVER_CORE),
        )


def run_platform(
    settings: dict, work: Path, processes: int = 1, name: str = "platform"
) -> tuple[dict, dict]:
    """Run the load against the platform; with ``processes`` > 1, a cluster.

    The first process is started as for a single one (``--demo``, its own
    embedded database); each other one gets a data directory and port of
    its own and that database's URI, and all are pinned to the server core,
    so that the run measures the cost of going between processes rather
    than the gain of more cores.
    """
    port, db_port = free_port(), free_port()
    uri = f"mongodb://127.0.0.1:{db_port}/?directConnection=true"
    env = _environment(work / f"{name}-data", port, db_port)
    if processes > 1:
        env.update(_cluster_environment(node_name(0)))
    servers = [_start(work, name, ["--demo"], env)]
    ports = [port]
    try:
        wait_healthy(port, servers[0])
        for number in range(1, processes):
            node = node_name(number)
            ports.append(free_port())
            env = _environment(work / f"{name}-{node}-data", ports[-1], 0)
            del env["JINGDI_DATABASE_EMBEDDED_PORT"]
            env.update(_cluster_environment(node))
            env["JINGDI_DATABASE_URI"] = uri
            servers.append(_start(work, f"{name}-{node}", [], env))
        alarms = _alarms_expected(settings)
        started = time.monotonic()
        roster = prepare.prepare(
            uri, DATABASE, settings["officers"], alarms, settings["seed"]
        )
        log.warning("prepared accounts in %.1fs", time.monotonic() - started)
        for server, server_port in zip(servers[1:], ports[1:], strict=True):
            wait_healthy(server_port, server)
        db_pids = [p for p in children(servers[0].pid) if _is_database(p)]
        plan = {
            "mode": "platform",
            "host": "127.0.0.1",
            "port": port,
            "server_pid": servers[0].pid,
            "db_pid": db_pids[0] if db_pids else None,
            "db_uri": uri,
            "db_name": DATABASE,
            "roster": roster,
            "settings": settings,
        }
        if processes > 1:
            plan["ports"] = ports
            plan["nodes"] = [node_name(n) for n in range(processes)]
            plan["server_pids"] = [s.pid for s in servers]
        out = run_load(plan, work, name)
        out["race_check"] = check_races(uri, out.get("race", {}))
        return out, roster
    finally:
        # The others first: the first holds the database they use.
        for server in reversed(servers):
            stop(server)


def _alarms_expected(settings: dict) -> int:
    rate = settings["alarm_rate"]
    steady = rate * (settings["steady_s"] + settings["ingest_s"] + 20)
    return int(steady + sum(settings["race"].values()))


def _is_database(pid: int) -> bool:
    try:
        return b"secantus" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def check_races(uri: str, races: dict) -> dict:
    """Count, in the database, race alarms that were assigned more than once."""
    client = MongoClient(uri)
    try:
        alarms = client[DATABASE].alarms
        doubles = checked = 0
        for race in races.values():
            ids = [ObjectId(i) for i in race.pop("alarm_ids", [])]
            for alarm in alarms.find({"_id": {"$in": ids}}, {"history": 1}):
                checked += 1
                steps = [h["status"] for h in alarm["history"]]
                doubles += steps.count("assigned") > 1
        return {"alarms_checked": checked, "assigned_twice": doubles}
    finally:
        client.close()


def run_floor(settings: dict, work: Path, roster: dict, record: dict) -> dict:
    port = free_port()
    floor = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        preexec_fn=_pinned(SERVER_CORE),
    )
    try:
        wait_healthy(port, floor)
        plan = {
            "mode": "floor",
            "host": "127.0.0.1",
            "port": port,
            "server_pid": floor.pid,
            "roster": roster,
            "settings": settings,
            "record": record,
        }
        return run_load(plan, work, "floor")
    finally:
        stop(floor)


# -- the table -------------------------------------------------------------------


def _ratio(value, floor):
    if value is None or not floor:
        return None
    return round(value / floor, 2)


def figures(platform: dict, floor: dict | None) -> list[dict]:
    """The rows of the table: figure, value, target, floor, ratio, verdict."""
    floor = floor or {}
    rows = []

    def row(name, value, target, ok, floor_value=None, ratio_target=None):
        ratio = _ratio(value, floor_value)
        passed = ok and (ratio_target is None or ratio is None or ratio <= ratio_target)
        rows.append(
            {
                "figure": name,
                "value": value,
                "target": target,
                "floor": floor_value,
                "ratio": ratio,
                "pass": bool(passed),
            }
        )

    def get(run, *path):
        for key in path:
            run = (run or {}).get(key)
        return run

    p99 = get(platform, "steady", "alarm_to_offers_ms", "p99")
    row(
        "1. alarm to offers p99 (ms)",
        p99,
        "<= 50, <= 1.5x floor",
        p99 is not None and p99 <= 50 and not get(platform, "steady", "missing_offers"),
        get(floor, "steady", "alarm_to_offers_ms", "p99"),
        1.5,
    )
    rate = get(platform, "ingest", "positions_per_s")
    cpu = get(platform, "ingest", "cpu_pct", "server")
    row(
        f"2. ingest CPU % of a core at {rate} positions/s",
        cpu,
        ">= 2500/s at <= 60%",
        rate is not None and rate >= 2500 and cpu is not None and cpu <= 60,
        get(floor, "ingest", "cpu_pct", "server"),
    )
    latencies = [
        get(platform, phase, "position_to_citizen_ms", "p99")
        for phase in ("steady", "ingest")
    ]
    worst = max((v for v in latencies if v is not None), default=None)
    floor_latencies = [
        get(floor, phase, "position_to_citizen_ms", "p99")
        for phase in ("steady", "ingest")
    ]
    row(
        "2. position to citizen p99 (ms)",
        worst,
        "<= 100",
        worst is not None and worst <= 100,
        max((v for v in floor_latencies if v is not None), default=None),
    )
    doubles = get(platform, "race_check", "assigned_twice") or 0
    for k, race in (platform.get("race") or {}).items():
        loser = get(race, "loser_answer_ms", "p99")
        double = race["double_assignments"] + (doubles if k == "2" else 0)
        row(
            f"3. race K={k}, {race['alarms']} alarms, {double} doubles: loser p99 (ms)",
            loser,
            "0 doubles, <= 100",
            double == 0 and loser is not None and loser <= 100,
            get(floor, "race", k, "loser_answer_ms", "p99"),
        )
    memory = get(platform, "memory", "per_officer_bytes")
    row(
        "4. memory per idle officer (bytes)",
        memory,
        "<= 16384",
        memory is not None and memory <= 16384,
        get(floor, "memory", "per_officer_bytes"),
    )
    for stat, target in (("p99", 10), ("max", 50)):
        values = [
            get(platform, phase, "loop_lag_ms", stat) for phase in ("steady", "ingest")
        ]
        value = max((v for v in values if v is not None), default=None)
        floors = [
            get(floor, phase, "loop_lag_ms", stat) for phase in ("steady", "ingest")
        ]
        row(
            f"5. event-loop lag {stat} (ms)",
            value,
            f"<= {target}",
            value is not None and value <= target,
            max((v for v in floors if v is not None), default=None),
        )
    back = get(platform, "storm", "all_back_s")
    row(
        "6. storm: all back (s)",
        back,
        "<= 15",
        back is not None and back <= 15 and not get(platform, "storm", "not_back"),
        get(floor, "storm", "all_back_s"),
    )
    storm = get(platform, "storm", "alarm_to_offers_ms", "p99")
    row(
        "6. storm: alarm to offers p99 (ms)",
        storm,
        "<= 1000",
        storm is not None and storm <= 1000,
        get(floor, "storm", "alarm_to_offers_ms", "p99"),
    )
    return rows


def table(rows: list[dict]) -> str:
    def text(value):
        if value is None:
            return "-"
        return f"{value:g}" if isinstance(value, float) else str(value)

    lines = [
        "| figure | value | target | floor | ratio | met |",
        "|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        met = "yes" if r["pass"] else "NO"
        lines.append(
            f"| {r['figure']} | {text(r['value'])} | {r['target']} | "
            f"{text(r['floor'])} | {text(r['ratio'])} | {met} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return machine.processor() or "unknown"


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": machine.python_version(),
        "pinning": pinning(),
    }


def figure_one(processes: int, run: dict) -> dict:
    """Figure 1 of one run, with what shows whether every offer arrived."""
    steady = run.get("steady") or {}
    latency = steady.get("alarm_to_offers_ms") or {}
    return {
        "processes": processes,
        "alarms": latency.get("n"),
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "max_ms": latency.get("max"),
        "offered_p50": (steady.get("offered") or {}).get("p50"),
        "offers_recorded": steady.get("offers_recorded"),
        "missing_offers": steady.get("missing_offers"),
        "missing_by_node": steady.get("missing_by_node") or {},
        "missing_late_ms": steady.get("missing_late_ms"),
        "offers_not_recorded": steady.get("offers_not_recorded"),
        "alarms_without_offers": steady.get("alarms_without_offers"),
        "offers_by_node": steady.get("offers_by_node") or {},
        "cpu_pct": steady.get("cpu_pct"),
        "errors": run.get("errors"),
    }


def figure_one_table(entries: list[dict]) -> str:
    def text(value):
        if value is None:
            return "-"
        return f"{value:g}" if isinstance(value, float) else str(value)

    lines = [
        "| processes | alarms | p50 (ms) | p99 (ms) | max (ms) | offered p50 "
        "| missing offers (per node) | offers received per node |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for e in entries:
        nodes = ", ".join(f"{k} {v}" for k, v in sorted(e["offers_by_node"].items()))
        lost = ", ".join(f"{k} {v}" for k, v in sorted(e["missing_by_node"].items()))
        missing = text(e["missing_offers"]) + (f" ({lost})" if lost else "")
        lines.append(
            f"| {e['processes']} | {text(e['alarms'])} | {text(e['p50_ms'])} | "
            f"{text(e['p99_ms'])} | {text(e['max_ms'])} | "
            f"{text(e['offered_p50'])} | {missing} | {nodes} |"
        )
    return "\n".join(lines)


def main_processes(args: argparse.Namespace, settings: dict) -> int:
    """Figure 1 with ``--processes`` N (and one process first, ``--compare``)."""
    # Only what figure 1 needs: the others either measure one process (CPU,
    # memory) or need more care across processes than they would tell.
    settings["phases"] = ["connect", "steady"]
    counts = ([1] if args.compare else []) + [args.processes]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="jingdi-bench-"))
    runs = {}
    try:
        for processes in counts:
            name = "platform" if processes == 1 else f"platform-{processes}p"
            out, _ = run_platform(settings, work, processes, name)
            out.pop("record", None)
            runs[str(processes)] = out
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    entries = [figure_one(int(n), run) for n, run in runs.items()]
    stamp = dt.datetime.now(dt.UTC)
    result = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": settings,
        "processes": args.processes,
        "targets": {"alarm_to_offers_p99_ms": TARGETS["alarm_to_offers_p99_ms"]},
        "figure_1": entries,
        "runs": runs,
        "duration_s": round(time.monotonic() - started, 1),
    }
    out = Path(args.out) if args.out else RESULTS / f"{stamp:%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(
        f"\nJingdi benchmark, figure 1 (alarm to offers), {stamp:%Y-%m-%d %H:%M} "
        f"UTC, {os.cpu_count()} CPUs ({cpu_model()}), {settings['officers']} "
        f"officers spread over the processes; {pinning()}\n"
    )
    print(figure_one_table(entries))
    for entry in entries:
        print(f"\nerrors, {entry['processes']} process(es): {entry['errors']}")
    print(f"results: {out} ({result['duration_s']:.0f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="bench: %(message)s")
    settings = dict(QUICK if args.quick else FULL)
    if args.officers:
        settings["officers"] = args.officers
    if args.race_alarms:
        settings["race"] = dict.fromkeys(settings["race"], args.race_alarms)
    if args.processes > 1:
        return main_processes(args, settings)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="jingdi-bench-"))
    try:
        platform_out, roster = run_platform(settings, work)
        record = platform_out.pop("record")
        floor_out = None
        if not args.no_floor:
            floor_out = run_floor(settings, work, roster, record)
            floor_out.pop("record", None)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    rows = figures(platform_out, floor_out)
    stamp = dt.datetime.now(dt.UTC)
    result = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": settings,
        "targets": TARGETS,
        "figures": rows,
        "platform": platform_out,
        "floor": floor_out,
        "duration_s": round(time.monotonic() - started, 1),
    }
    out = Path(args.out) if args.out else RESULTS / f"{stamp:%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(
        f"\nJingdi benchmark, {stamp:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs "
        f"({cpu_model()}), {settings['officers']} officers; {pinning()}\n"
    )
    print(table(rows))
    print(f"\nerrors: platform {platform_out.get('errors')}")
    if floor_out is not None:
        print(f"        floor {floor_out.get('errors')}")
    print(f"results: {out} ({result['duration_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
