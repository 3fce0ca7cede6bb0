"""testkit/hostile.py: each pytest process records its hostile-marked tests and their results."""

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
from support import ROOT

from testkit import hostile

MADE_UP_TESTS = '''
import pytest

@pytest.mark.hostile("a case that passes", "it passes")
def test_passes():
    pass

@pytest.mark.hostile("a case that fails", "it fails")
def test_fails():
    assert False

@pytest.mark.hostile("a case that skips", "it skips")
def test_skips():
    pytest.skip("no such service here")

@pytest.fixture
def broken():
    raise RuntimeError("broken fixture")

@pytest.mark.hostile("a case whose setup fails", "an error")
def test_setup_fails(broken):
    pass

@pytest.mark.xfail(reason="known bug")
@pytest.mark.hostile("a case expected to fail", "it fails, as expected")
def test_expected_to_fail():
    assert False

@pytest.mark.parametrize("n", [
    pytest.param(1, id="one", marks=pytest.mark.hostile(case="param one", answer="fine")),
    2,
])
def test_params(n):
    pass

def test_not_marked():
    pass
'''


def made_up_folder(tmp_path, tests=MADE_UP_TESTS):
    """A folder laid out like a lesson: pytest.ini loading testkit's plugin, and tests/."""
    folder = tmp_path / "made_up_lesson"
    (folder / "tests").mkdir(parents=True)
    (folder / "pytest.ini").write_text(
        f"[pytest]\npythonpath = {ROOT}\naddopts = -p testkit.plugin\ntestpaths = tests\n")
    (folder / "tests" / "test_made_up.py").write_text(tests)
    return folder


def run_pytest(folder, results, *args):
    env = {**os.environ, hostile.RESULTS_ENV: str(results)}
    # The made-up tests need neither Django nor asyncio: leaving those plugins out is quicker.
    quick = ["-p", "no:cacheprovider", "-p", "no:django", "-p", "no:asyncio"]
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *quick, *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def read(results):
    return json.loads((results / "made_up_lesson.json").read_text())


def by_nodeid(data):
    return {row["nodeid"].split("::")[1]: row for row in data["cases"]}


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    """The made-up folder's tests run once, as `make test` runs a lesson: (folder, results)."""
    tmp_path = tmp_path_factory.mktemp("whole_run")
    folder, results = made_up_folder(tmp_path), tmp_path / "results"
    run = run_pytest(folder, results)
    assert run.returncode == 1, run.stdout  # one test fails on purpose
    return folder, results


def test_a_whole_run_records_each_marked_test_with_its_result(whole_run):
    data = read(whole_run[1])
    assert data["folder"] == "made_up_lesson"
    assert data["complete"] is True
    rows = by_nodeid(data)
    assert {name: (row["result"], row["reason"]) for name, row in rows.items()} == {
        "test_passes": ("passed", ""),
        "test_fails": ("failed", ""),
        "test_skips": ("skipped", "no such service here"),
        "test_setup_fails": ("failed", "error in setup"),
        "test_expected_to_fail": ("skipped", "expected to fail: known bug"),
        "test_params[one]": ("passed", ""),
    }
    assert (rows["test_passes"]["case"], rows["test_passes"]["answer"]) == (
        "a case that passes", "it passes")
    assert rows["test_params[one]"]["case"] == "param one"
    assert all(row["run"] == data["run"] for row in data["cases"])


def test_a_partial_run_updates_its_rows_and_keeps_the_others(whole_run, tmp_path):
    folder, results = whole_run[0], tmp_path / "results"
    shutil.copytree(whole_run[1], results)
    first = read(results)
    run_pytest(folder, results, "-k", "passes or skips")
    second = read(results)
    assert second["complete"] is False
    rows = by_nodeid(second)
    assert len(rows) == len(first["cases"])
    fresh = {name for name, row in rows.items() if row["run"] == second["run"]}
    assert fresh == {"test_passes", "test_skips"}
    assert rows["test_fails"]["result"] == "failed"
    assert rows["test_fails"]["run"] == first["run"]


def test_collecting_only_writes_nothing(tmp_path):
    folder, results = made_up_folder(tmp_path), tmp_path / "results"
    assert run_pytest(folder, results, "--collect-only").returncode == 0
    assert not results.exists()


def test_a_mark_without_its_two_texts_stops_the_run(tmp_path):
    tests = 'import pytest\n\n@pytest.mark.hostile("a case only")\ndef test_x():\n    pass\n'
    folder, results = made_up_folder(tmp_path, tests), tmp_path / "results"
    run = run_pytest(folder, results)
    assert run.returncode != 0
    assert 'hostile("what is tried", "the answer the contract gives")' in run.stdout + run.stderr


def report(when, outcome, longrepr=None, **extra):
    return SimpleNamespace(when=when, failed=outcome == "failed", skipped=outcome == "skipped",
                           passed=outcome == "passed", longrepr=longrepr, **extra)


def fold_all(*reports):
    outcome = (None, "")
    for one in reports:
        outcome = hostile.fold(outcome, one)
    return outcome


def test_fold_takes_the_worst_phase():
    assert fold_all(report("setup", "passed"), report("call", "passed"),
                    report("teardown", "passed")) == ("passed", "")
    assert fold_all(report("setup", "passed"), report("call", "passed"),
                    report("teardown", "failed")) == ("failed", "error in teardown")
    assert fold_all(report("setup", "passed"), report("call", "failed"),
                    report("teardown", "failed")) == ("failed", "")
    skipped = report("setup", "skipped", ("file.py", 3, "Skipped: no Redis"))
    assert fold_all(skipped, report("teardown", "passed")) == ("skipped", "no Redis")


def test_merge_replaces_after_a_complete_run_and_updates_after_a_partial_one():
    old = [{"nodeid": "a", "case": "x", "result": "failed"},
           {"nodeid": "b", "case": "y", "result": "passed"}]
    new = [{"nodeid": "a", "case": "x", "result": "passed"},
           {"nodeid": "c", "case": "z", "result": "passed"}]
    assert hostile.merge(old, new, complete=True) == new
    assert hostile.merge(old, new, complete=False) == [new[0], old[1], new[1]]


def test_only_folders_of_this_repository_are_recorded(monkeypatch, tmp_path):
    monkeypatch.delenv(hostile.RESULTS_ENV, raising=False)
    assert hostile.results_folder(ROOT / "gs1_basic") == ROOT / "build" / "hostile"
    assert hostile.results_folder(ROOT / "tests") == ROOT / "build" / "hostile"
    # A copy of a lesson elsewhere (the troubleshooting tests make some) is not.
    assert hostile.results_folder(tmp_path / "gs1_basic") is None
    monkeypatch.setenv(hostile.RESULTS_ENV, str(tmp_path / "out"))
    assert hostile.results_folder(tmp_path / "gs1_basic") == tmp_path / "out"


def test_results_go_to_a_folder_git_ignores():
    # `make test` must not change a tracked file.
    ignored = subprocess.run(["git", "check-ignore", "-q", str(hostile.RESULTS / "x.json")],
                             cwd=ROOT)
    assert ignored.returncode == 0
    tracked = subprocess.run(["git", "ls-files", str(hostile.RESULTS)], cwd=ROOT,
                             capture_output=True, text=True)
    assert tracked.stdout == ""
