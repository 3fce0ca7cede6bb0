"""Records each test marked `hostile(case, answer)` and how it ended, for the docs' table.

testkit/plugin.py registers a Recorder in every lesson's pytest process. At the end of the
session it writes build/hostile/<folder>.json (<folder> is the one holding pytest.ini: a lesson,
or the root tests/); docs/hooks/hostile_table.py turns those files into the table of hostile
cases on the Security page. build/ is not tracked, so `make test` changes no tracked file.

The file:

    {"folder": "gs2_sync_consumer", "run": "2025-01-31T12:00:00.123456+00:00", "complete": true,
     "cases": [{"nodeid": "tests/test_e2e.py::test_x", "case": "...", "answer": "...",
                "result": "passed", "reason": "", "run": "2025-01-31T12:00:00.123456+00:00"}]}

"result" is "passed", "failed" or "skipped" ("reason" says why it failed or was skipped).
A complete run (the whole suite, as `make test` runs it: no paths, no -k/-m, not stopped
early) replaces the file. A partial run (`pytest tests/test_e2e.py`, `-k`, `-x`) updates the
rows it ran and keeps the others with their own "run" time, so the docs can tell a result of
an earlier run from a fresh one. Only folders inside this repository are recorded (copies of
a lesson in a temporary folder are not), unless TESTKIT_HOSTILE_RESULTS names another folder
for the files.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "build" / "hostile"
RESULTS_ENV = "TESTKIT_HOSTILE_RESULTS"


def hostile_cases(item):
    """[(case, answer)] of every hostile mark on a test item, closest first."""
    cases = []
    for mark in item.iter_markers("hostile"):
        args = [*mark.args, *(mark.kwargs[k] for k in ("case", "answer") if k in mark.kwargs)]
        if len(args) != 2 or not all(isinstance(a, str) and a.strip() for a in args):
            raise pytest.UsageError(
                f"{item.nodeid}: the hostile mark takes two texts, "
                f'hostile("what is tried", "the answer the contract gives"), got {mark}'
            )
        if tuple(args) not in cases:
            cases.append(tuple(args))
    return cases


def skip_reason(report):
    if hasattr(report, "wasxfail"):
        return f"expected to fail: {report.wasxfail}".rstrip(": ")
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return text.removeprefix("Skipped: ")


def fold(outcome, report):
    """A test's (result, reason) so far, updated with the report of one phase of it."""
    result, reason = outcome
    if report.failed:
        if result == "failed":
            return outcome
        where = "" if report.when == "call" else f"error in {report.when}"
        return "failed", where
    if report.skipped and result is None:
        return "skipped", skip_reason(report)
    if report.passed and report.when == "call" and result is None:
        return "passed", ""
    return outcome


def merge(previous, rows, complete):
    """The rows to store: this run's alone when it was complete, else the previous ones
    updated with this run's (the nodeid and case identify a row)."""
    if complete or not previous:
        return rows
    key = lambda row: (row["nodeid"], row["case"])  # noqa: E731
    fresh = {key(row): row for row in rows}
    kept = [fresh.pop(key(row), row) for row in previous]
    return kept + list(fresh.values())


def results_folder(rootpath):
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    if Path(rootpath).resolve().parent == ROOT:
        return RESULTS
    return None


class Recorder:
    def __init__(self, config):
        self.config = config
        self.cases = {}  # nodeid -> [(case, answer)]
        self.outcomes = {}  # nodeid -> (result, reason)
        self.partial = False  # something was deselected or failed to collect
        self.started = datetime.now(UTC).isoformat()

    def pytest_deselected(self, items):
        self.partial = True

    def pytest_collectreport(self, report):
        if report.failed:
            self.partial = True

    def pytest_collection_finish(self, session):
        for item in session.items:
            cases = hostile_cases(item)
            if cases:
                self.cases[item.nodeid] = cases
                self.outcomes[item.nodeid] = (None, "")

    def pytest_runtest_logreport(self, report):
        if report.nodeid in self.outcomes:
            self.outcomes[report.nodeid] = fold(self.outcomes[report.nodeid], report)

    def complete(self, session):
        from_testpaths = self.config.args_source == pytest.Config.ArgsSource.TESTPATHS
        stopped = session.shouldstop or session.shouldfail
        every_one_ran = all(result for result, _ in self.outcomes.values())
        return from_testpaths and not self.partial and not stopped and every_one_ran

    def rows(self):
        return [
            {"nodeid": nodeid, "case": case, "answer": answer, "result": result,
             "reason": reason, "run": self.started}
            for nodeid, (result, reason) in self.outcomes.items() if result
            for case, answer in self.cases[nodeid]
        ]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        folder = results_folder(self.config.rootpath)
        if folder is None or self.config.option.collectonly:
            return
        name = Path(self.config.rootpath).name
        path = folder / f"{name}.json"
        try:
            previous = json.loads(path.read_text())["cases"]
        except (OSError, ValueError, KeyError):
            previous = []
        complete = self.complete(session)
        data = {"folder": name, "run": self.started, "complete": complete,
                "cases": merge(previous, self.rows(), complete)}
        folder.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a file.
        partial_file = path.with_suffix(f".{os.getpid()}.tmp")
        partial_file.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        os.replace(partial_file, path)
