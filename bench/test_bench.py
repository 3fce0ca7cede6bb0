"""Tests for the benchmark's own code: `.venv/bin/pytest bench/test_bench.py` from the root.

Not part of `make test` (no lesson's pytest.ini and not tests/): the benchmark is not run by
the test suite. These check that the harness measures what it says: the bare echo really
echoes on both servers, the statistics are right, and each target's verdict follows from the
numbers.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import report  # noqa: E402
from loadgen import Clients, open_many, percentile, split  # noqa: E402
from servers import BareServer  # noqa: E402


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


def test_split_shares_sockets_evenly():
    assert split(10, 3) == [4, 3, 3]
    assert split(1000, 2) == [500, 500]
    assert sum(split(7, 4)) == 7


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_bare_echo_sends_every_frame_back(kind):
    server = BareServer(kind).start()
    try:
        async def talk():
            sockets = await open_many(server.ws("/ws/echo/"), 3)
            for i, ws in enumerate(sockets):
                await ws.send(f"frame {i} é")
                assert await asyncio.wait_for(ws.recv(), 5) == f"frame {i} é"
                await ws.send(b"\x00\x01")
                assert await asyncio.wait_for(ws.recv(), 5) == b"\x00\x01"
            for ws in sockets:
                await ws.close()

        asyncio.run(talk())
    finally:
        server.stop()


def test_client_processes_count_every_round_trip():
    server = BareServer("uvicorn").start()
    try:
        async def measure():
            with Clients(2) as clients:
                await clients.call("open", [{"url": server.ws("/ws/echo/"), "n": 2}] * 2)
                answers = await clients.call("echo", [{
                    "start_at": time.monotonic(), "duration": 5, "payload": "x",
                    "max_messages": 25}] * 2)
                await clients.call("close", [{}] * 2)
            return answers

        answers = asyncio.run(measure())
        # Bounded by count: 2 processes x 2 sockets x 25 round trips, all answered.
        assert [a["round_trips"] for a in answers] == [50, 50]
        assert all(len(a["rtts"]) == 50 and min(a["rtts"]) > 0 for a in answers)
    finally:
        server.stop()


def results(gs3_hundred=1.2, gs8_p99=100.0, gs4_p99=300.0, tutorial_p99=320.0, lost=0,
            held=10_000, stack_lost=0, all_back=True):
    """A results.json with just what the targets read."""
    def fan(key, p99, lost=0):
        return {"key": key, "rows": [{"receivers": 1000, "p99_ms": p99, "lost": lost,
                                      "burst_lost": 0}]}

    return {"scenarios": {
        "streams": {"series": {"gs3": {"rows": [{"clients": 1, "wall_s": 1.0},
                                                {"clients": 100, "wall_s": gs3_hundred}]}}},
        "fanout": {"rows": [fan("gs8-uvicorn-redis", gs8_p99), fan("gs4-redis", gs4_p99, lost),
                            fan("tutorial-redis", tutorial_p99)]},
        "stack": {"idle": {"asked": 10_000, "held": held, "asgi_kib_per_socket": 40.0,
                           "p99_ms": 900.0, "lost": stack_lost},
                  "failover": {"opened": 1000, "dropped": 500, "all_back": all_back,
                               "all_back_s": 20.0, "half_back_s": 5.0, "up_at_end": 1000,
                               "after": {"lost": 0}}},
    }}


TARGETS = 7


def test_targets_met_when_the_numbers_meet_them():
    assert [t["status"] for t in report.targets(results())] == ["met"] * TARGETS


def test_each_target_missed_by_its_own_number():
    cases = [results(gs3_hundred=1.6), results(gs8_p99=151.0), results(gs4_p99=601.0),
             results(gs4_p99=330.0), results(held=9_999), results(stack_lost=1),
             results(all_back=False)]
    for index, case in enumerate(cases):
        statuses = [t["status"] for t in report.targets(case)]
        assert statuses[index] == "missed", (index, statuses)
        # A slower gs4 also falls behind the tutorial's consumer: the one case with two misses.
        assert statuses.count("met") == TARGETS - (2 if index == 2 else 1), (index, statuses)


def test_a_lost_message_misses_the_gs4_targets():
    statuses = [t["status"] for t in report.targets(results(lost=1))]
    assert statuses[2] == statuses[3] == "missed"


def test_targets_not_measured_without_results():
    assert {t["status"] for t in report.targets({"scenarios": {}})} == {"not measured"}


def test_report_writes_every_fragment_and_chart(tmp_path):
    # The last committed full run: every fragment the docs page includes, and its charts.
    committed = json.loads((BENCH.parent / "docs" / "bench" / "results.json").read_text())
    report.write(committed, tmp_path)
    for name in ["machine", "targets", "calibration", "streams", "echo", "fanout", "workers"]:
        text = (tmp_path / f"{name}.md").read_text()
        assert "|" in text, f"{name}.md has no table"
    for name in ["streams", "echo", "fanout", "workers"]:
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
