"""A pytest plugin for `make check`: writes each test's outcome to $EXERCISE_REPORT as JSON,
{nodeid: [outcome, message]}, outcome "passed", "failed" or "skipped".

$EXERCISE_TASKS lists each task's test selections. Once a task has a failing test, its other
tests are skipped (as -x would do, task by task): one failure says it is not done yet, and a
stub's failures are often slow ones (a test waiting for a frame that never comes).
"""

import json
import os
from pathlib import Path

import pytest

results = {}
TASKS = json.loads(os.environ.get("EXERCISE_TASKS") or "[]")
failed_tasks = set()


def selects(selection, nodeid):
    selection = selection.rstrip("/")
    return (nodeid == selection or nodeid.startswith(selection + "::")
            or nodeid.startswith(selection + "[") or nodeid.startswith(selection + "/"))


def tasks_of(nodeid):
    return {i for i, selections in enumerate(TASKS) if any(selects(s, nodeid) for s in selections)}


def pytest_runtest_setup(item):
    tasks = tasks_of(item.nodeid)
    if tasks and tasks <= failed_tasks:
        pytest.skip("not run: a test of this task failed already")


def message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return report.longrepr[2].removeprefix("Skipped: ")
    lines = str(report.longrepr or "").strip().splitlines()
    return lines[-1] if lines else ""


def record(nodeid, outcome, text):
    previous = results.get(nodeid)
    # The first failure (setup, call or teardown) is the one that says most.
    if previous and previous[0] == "failed":
        return
    if outcome == "passed" and previous:
        return
    results[nodeid] = [outcome, text]


def pytest_runtest_logreport(report):
    if report.failed:
        record(report.nodeid, "failed", message(report))
        failed_tasks.update(tasks_of(report.nodeid))
    elif report.skipped:
        record(report.nodeid, "skipped", message(report))
    elif report.when == "call":
        record(report.nodeid, "passed", "")


def pytest_collectreport(report):
    if report.failed:
        record(report.nodeid, "failed", f"could not collect: {message(report)}")


def pytest_sessionfinish(session):
    path = os.environ.get("EXERCISE_REPORT")
    if path:
        Path(path).write_text(json.dumps(results, indent=1))
