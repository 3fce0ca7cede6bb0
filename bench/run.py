"""`make bench`: measure what the lessons claim, on their real servers, and write the evidence.

    .venv/bin/python bench/run.py            the full set (3 runs each): docs/bench/
    .venv/bin/python bench/run.py --quick    a reduced set, about two minutes: build/bench-quick/

Writes results.json (every number, the machine, the versions), one PNG chart and one markdown
table per scenario, and targets.md; docs/benchmarks.md includes the tables and charts.
"""

import argparse
import asyncio
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

# Not report (matplotlib): the client processes import this module again, and start faster.
import scenarios  # noqa: E402
import stack_bench  # noqa: E402
from loadgen import Clients  # noqa: E402
from servers import redis  # noqa: E402

from testkit.catalog import lesson_dirs  # noqa: E402

# The production stack's capacity (issue 14): `make bench-stack`, not part of `make bench`.
# Two workers per host, as `make gs8-stack` starts by default.
STACK = {"sockets": 10_000, "client_processes": 4, "workers": 2, "message_runs": 5,
         "timeout": 60, "open_timeout": 600, "failover_sockets": 1000, "failover_timeout": 180,
         "backoff_base": 1.0, "backoff_cap": 30.0, "settle": 5, "room_size": 10,
         "concurrency": 20}
FULL = {
    "runs": 3,
    "streams": {"clients": [1, 10, 50, 100], "count": 10, "interval": 0.1, "time_limit": 12},
    "echo": {"connections": 20, "duration": 1.0, "payload": 32, "max_messages": 100_000,
             "calibrate": [1, 2], "servers": ["daphne", "uvicorn"], "raw_consumers": True,
             "experiment": True},
    # Fan-out runs are short, so their medians are noisy: 5 runs, and bursts of about 10,000
    # deliveries (10 messages to a room of 1000), so that a burst lasts seconds, not a blink.
    "fanout": {"receivers": [10, 100, 1000], "burst_deliveries": 10_000, "burst_min": 3,
               "burst_max": 50, "timeout": 30, "processes": 2, "processes_from": 100,
               "chats": ["tutorial", "gs4", "gs6", "gs8"], "layers": ["memory", "redis"],
               # gs6 takes minutes to fill a room of 1000 (each join makes every socket read
               # who is online); the logged-in chats stop at 100, but for gs8's target row.
               "auth_max": 100, "auth_full": ["gs8-uvicorn-redis"],
               "experiments": True, "runs": 5},
    "workers": {"receivers": [1000], "workers": [1, 2, 4], "settle": 3, "gs8": None,
                "runs": 5},
    "stack": STACK,
}
QUICK = {
    "runs": 1,
    "streams": {"clients": [1, 2], "count": 10, "interval": 0.1, "time_limit": 4},
    "echo": {"connections": 10, "duration": 0.5, "payload": 32, "max_messages": 100_000,
             "calibrate": [1, 2], "servers": ["uvicorn"], "raw_consumers": False,
             "experiment": False},
    "fanout": {"receivers": [10, 100], "burst_deliveries": 500, "burst_min": 3,
               "burst_max": 20, "timeout": 5, "processes": 2, "processes_from": 100,
               "chats": ["tutorial", "gs4", "gs8"], "layers": ["memory", "redis"],
               "auth_max": 100, "auth_full": [], "experiments": False},
    "workers": {"receivers": [100], "workers": [2], "settle": 2, "gs8": None},
    "stack": {**STACK, "sockets": 500, "message_runs": 2, "failover_sockets": 200,
              "client_processes": 2},
}
SCENARIOS = {"streams": scenarios.run_streams, "echo": scenarios.run_echo,
             "fanout": scenarios.run_fanout, "workers": scenarios.run_workers,
             "stack": stack_bench.run_stack}
# `make bench` runs these; the stack (minutes, nginx, Redis Sentinel, PostgreSQL) runs alone.
DEFAULT = ["streams", "echo", "fanout", "workers"]
PACKAGES = ["Django", "channels", "daphne", "Twisted", "autobahn", "channels-redis", "redis",
            "uvicorn", "uvloop", "httptools", "websockets", "asgiref", "matplotlib"]


STARTED = time.monotonic()


def say(line):
    print(f"{time.monotonic() - STARTED:6.1f}s {line}", flush=True)


def machine():
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kib = next((int(line.split()[1]) for line in meminfo.splitlines()
                    if line.startswith("MemTotal:")), None)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    service = redis()
    redis_version = None
    if service.ok:
        import redis as redis_py

        client = redis_py.Redis.from_url(service.where)
        redis_version = client.info("server")["redis_version"]
        client.close()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1) if mem_kib else None,
        "cpu": model,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis_server": redis_version,
        "load_average_before": list(os.getloadavg()),
    }


def versions():
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def commit():
    try:
        # "-dirty": the code measured had changes not yet committed.
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"],
                              cwd=ROOT, text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


async def measure(config, names):
    results = {}
    processes = max(config["echo"]["calibrate"] + [config["fanout"]["processes"]])
    # The stack starts client processes of its own (more of them, with more open files).
    with Clients(processes if set(names) - {"stack"} else 0) as clients:
        for name in names:
            say(f"== {name}")
            started = time.monotonic()
            load_before = list(os.getloadavg())
            try:
                results[name] = await SCENARIOS[name](config, clients, say)
            except Exception as error:  # one broken scenario must not lose the others' numbers
                traceback.print_exc()
                first_line = (str(error).splitlines() or [""])[0][:300]
                results[name] = {"error": f"{type(error).__name__}: {error}"[:2000],
                                 "skipped": [f"{name} failed: {type(error).__name__}: "
                                             f"{first_line}"]}
            finally:
                # Whatever happened, no server outlives its scenario.
                scenarios.stop(*scenarios.STARTED)
                scenarios.STARTED.clear()
            results[name]["seconds"] = time.monotonic() - started
            # Each scenario says when it ran and how busy the (shared) machine was.
            results[name]["generated"] = datetime.datetime.now(datetime.UTC).isoformat(
                timespec="seconds")
            results[name]["commit"] = commit()
            results[name]["load_average"] = {"before": load_before,
                                             "after": list(os.getloadavg())}
            say(f"   {name}: {results[name]['seconds']:.0f} s, load average "
                f"{load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}")
    return results


def _terminate(signum, frame):
    # `kill` or a closed terminal: unwind, so that the finally blocks stop the servers.
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced set, about two minutes")
    parser.add_argument("--out", type=Path, help="where to write (default: docs/bench/, or "
                        "build/bench-quick/ with --quick)")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the tables and charts from the results.json in --out")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    import report
    out = args.out or (ROOT / "build" / "bench-quick" if args.quick else ROOT / "docs" / "bench")
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        results = json.loads((out / "results.json").read_text())
        results["targets"] = report.targets(results)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        report.write(results, out)
        say(f"rewrote the tables and charts in {out}")
        return
    # `make bench-quick` tries everything once, the stack too (at 500 sockets), as a smoke test.
    names = args.only.split(",") if args.only else list(SCENARIOS) if args.quick else DEFAULT
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"no scenario {', '.join(sorted(unknown))}; there are {', '.join(SCENARIOS)}")
    config = QUICK if args.quick else FULL
    started = time.monotonic()
    say(f"benchmark ({'quick' if args.quick else 'full'}): {', '.join(names)} -> {out}")
    # The scenarios not run now keep their last numbers (`make bench` and `make bench-stack`
    # write the same results.json); each says when it ran.
    previous = {}
    if (out / "results.json").exists():
        old = json.loads((out / "results.json").read_text())
        if old.get("mode") == ("quick" if args.quick else "full"):
            previous = {k: v for k, v in old.get("scenarios", {}).items()
                        if k in SCENARIOS and k not in names}
    results = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "commit": commit(),
        "machine": machine(),
        "versions": versions(),
        "lessons": [path.name for path in lesson_dirs()],
        "config": config,
        "scenarios": {**previous, **asyncio.run(measure(config, names))},
    }
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["seconds"] = time.monotonic() - started
    results["targets"] = report.targets(results)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    report.write(results, out)
    say(f"done in {results['seconds']:.0f} s; results, tables and charts in {out}")
    for target in results["targets"]:
        say(f"  {target['status']:8} {target['target']}: {target['measured_text']}")


if __name__ == "__main__":
    main()
