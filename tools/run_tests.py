"""`make test`: services, ruff, each lesson's tests in its own pytest process, the docs build.

The lessons' pytest processes run JOBS at a time (default 2; `make test JOBS=1`: one by one),
with the repository-wide tests/ beside them; then the tests that read the lessons' results,
and the docs build.
Each suite's output is printed whole when it ends. One summary at the end; its last line is
`N passed, N failed, N skipped`; the exit status is 1 if anything failed.
"""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testkit.catalog import lesson_dirs  # noqa: E402
from testkit.services import provision  # noqa: E402

BIN = Path(sys.executable).parent
BUILD = ROOT / "build"
# Suites that take longest start first, so the last one to end is a short one.
SLOWEST_FIRST = ["gs8_", "gs4_", "gs5_", "gs6_", "gs7_"]
# Tests in tests/ that read what the lessons' own runs recorded in build/: they run last.
AFTER_LESSONS = "agree_with_the_last_run"


def banner(text):
    print(f"\n===== {text} =====", flush=True)


def check(name, command):
    """A step that is one check: it passes or fails as a whole."""
    banner(name)
    started = time.monotonic()
    ok = subprocess.run(command, cwd=ROOT).returncode == 0
    return name, (1, 0, 0) if ok else (0, 1, 0), time.monotonic() - started, ""


def pytest_suite(path, args=(), name=None):
    """One pytest process for a folder with its own pytest.ini: a lesson, or the root tests/
    (`args` selects some of its tests; `name` tells that run apart)."""
    name = name or path.name
    report = BUILD / "junit" / f"{name}.xml"
    log = BUILD / "logs" / f"{name}.log"
    report.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    print(f"started   {name}", flush=True)
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
             f"--junitxml={report}", *args], cwd=path, stdout=out, stderr=subprocess.STDOUT,
        ).returncode
    elapsed = time.monotonic() - started
    banner(f"{name} (pytest, {elapsed:.0f}s)")
    print(log.read_text(errors="replace"), end="", flush=True)
    if not report.exists() or code == 5:
        return name, (0, 1, 0), elapsed, "ran no test"
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, skipped = int(suite.get("tests")), int(suite.get("skipped"))
    failed = int(suite.get("failures")) + int(suite.get("errors"))
    note = "" if code in (0, 1) else f"pytest exit {code}"
    if code != 0 and failed == 0:
        failed = 1
    return name, (total - failed - skipped, failed, skipped), elapsed, note


def lessons_slowest_first():
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    return sorted(lesson_dirs(), key=lambda p: next(
        (i for prefix, i in rank.items() if p.name.startswith(prefix)), len(rank)))


def main():
    started = time.monotonic()
    banner("services")
    provision()
    results = [check("ruff", [BIN / "ruff", "check", "."])]
    jobs = max(1, int(os.environ.get("JOBS", "2")))
    repository = ROOT / "tests"
    banner(f"pytest: {jobs} lesson suite(s) at a time, and the repository-wide tests/ beside them")
    # tests/ (docs, exercises, troubleshooting, settings) mostly waits on the processes it
    # starts: it runs beside the lessons, all but the checks that read the lessons' results.
    with ThreadPoolExecutor(1) as side, ThreadPoolExecutor(jobs) as pool:
        beside = side.submit(pytest_suite, repository, ["-k", f"not {AFTER_LESSONS}"])
        by_name = {r[0]: r for r in pool.map(pytest_suite, lessons_slowest_first())}
        results += [by_name[p.name] for p in lesson_dirs()]
        results.append(beside.result())
    results.append(pytest_suite(repository, ["-k", AFTER_LESSONS], name="tests-after-lessons"))
    results.append(check("docs build", [BIN / "mkdocs", "build", "--strict", "-q",
                                        "-d", str(BUILD / "site")]))
    banner(f"summary ({time.monotonic() - started:.0f}s)")
    totals = [0, 0, 0]
    for name, counts, elapsed, note in results:
        for i, n in enumerate(counts):
            totals[i] += n
        status = "FAIL" if counts[1] else "ok"
        print(f"{status:4}  {name:24} {counts[0]:4} passed {counts[1]:3} failed "
              f"{counts[2]:3} skipped  {elapsed:6.1f}s  {note}")
    if os.environ.get("CI") == "true":
        print("CI=true: a test skipped for a missing service counts as failed")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    sys.exit(1 if totals[1] else 0)


if __name__ == "__main__":
    main()
