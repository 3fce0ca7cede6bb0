"""The exercises (`make exercise/check/solution gsN`): for every lesson, its untouched exercise
fails every task's check, and each task names tests that exist and ran.

The exercises run in copies made by the same code as `make exercise`, every gap cut (the
learner's starting point), one pytest process per lesson, in parallel. That the same tests pass
on the lesson's own code is its own suite's job (`make test` runs it); the learner's whole
round, from a stub to "every task done", is played on gs1 by the CLI test below.
"""

import ast
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.catalog import ROOT, lesson_dirs
from tools import exercises
from tools.exercises import ExerciseError, Task, copy_lesson, find_function, is_stub, load_tasks

LESSONS = lesson_dirs()


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tools.lesson", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{lesson name: (copy, tasks, results, pytest output)}"""
    jobs = []
    for lesson in LESSONS:
        if not (lesson / exercises.SPEC).is_file():
            continue
        tasks = load_tasks(lesson)
        base = tmp_path_factory.mktemp(lesson.name)
        jobs.append((lesson.name, copy_lesson(lesson, base / lesson.name, tasks), tasks))

    def run(job):
        name, copy, tasks = job
        results, output = exercises.run_tests(copy, tasks)
        return name, (copy, tasks, results, output)

    with ThreadPoolExecutor(max(2, min(6, os.cpu_count() or 2))) as pool:
        return dict(pool.map(run, jobs))


def test_every_lesson_has_an_exercise_of_two_to_four_tasks():
    assert len(LESSONS) >= 8
    for lesson in LESSONS:
        tasks = load_tasks(lesson)
        assert 2 <= len(tasks) <= 4, lesson.name
        for task in tasks:
            # Each named function exists today: a renamed one fails here, naming its file.
            tree = ast.parse((lesson / task.file).read_text())
            find_function(tree, task.function, f"{lesson.name}/{task.file}")


@pytest.mark.parametrize("lesson", [p.name for p in LESSONS])
def test_the_untouched_exercise_fails_every_task(lesson, runs):
    copy, tasks, results, output = runs[lesson]
    for task in tasks:
        tree = ast.parse((copy / task.file).read_text())
        assert is_stub(find_function(tree, task.function), task), task.where
        state, message = exercises.task_result(task, results)
        assert state == "failed", f"task {task.number} ({task.where}): {state}\n{output[-3000:]}"
        # Each of the task's selections names tests that exist and ran.
        for selection in task.tests:
            assert any(exercises.matches(selection, nodeid) for nodeid in results), selection


def test_make_exercise_check_and_solution_as_a_learner_uses_them(tmp_path):
    made = run_cli("exercise", "gs1", "--into", str(tmp_path))
    assert made.returncode == 0, made.stderr
    copy = tmp_path / "gs1_basic"
    tasks = load_tasks(copy)
    assert "make check gs1" in made.stdout
    # A learner's work is never overwritten.
    mine = copy / tasks[0].file
    mine.write_text(mine.read_text() + "# my work\n")
    again = run_cli("exercise", "gs1", "--into", str(tmp_path))
    assert again.returncode != 0
    assert "already exists" in again.stderr and "Start over" in again.stderr
    assert mine.read_text().endswith("# my work\n")

    checked = run_cli("check", "gs1", "--into", str(tmp_path))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"0 of {len(tasks)} task(s) done" in checked.stdout
    assert f"Next: task 1, in {tasks[0].where}" in checked.stdout
    assert f"Hint: {tasks[0].hint}"[:60] in " ".join(checked.stdout.split())

    diff = run_cli("solution", "gs1", "--into", str(tmp_path))
    assert diff.returncode == 0
    assert "-        raise NotImplementedError(" in diff.stdout
    assert "+# my work" not in diff.stdout and "-# my work" in diff.stdout

    # Solved: the lesson's own file in place of the learner's, every task done, exit 0.
    for task in tasks:
        (copy / task.file).write_text((ROOT / "gs1_basic" / task.file).read_text())
    solved = run_cli("check", "gs1", "--into", str(tmp_path))
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert f"{len(tasks)} of {len(tasks)} task(s) done" in solved.stdout


SOURCE = textwrap.dedent('''\
    import json


    def helper(data):
        return data


    class Consumer:
        @staticmethod
        @decorate(
            "with arguments",
        )
        def load(self, a,
                 b=(1, 2)) -> list:  # the signature goes on
            """Kept: it says what the function is for."""
            # An answer in a comment goes too.
            return [a, b]
            # So does this one.

        async def receive(self, text_data=None):
            return json.loads(text_data)
    ''')


def test_a_stub_keeps_signature_decorators_and_docstring_and_raises_its_task():
    tasks = [Task(1, "x.py", "Consumer.load", "Load it.", "Use a list.", ["t"]),
             Task(2, "x.py", "Consumer.receive", "Decode it.", "json.loads", ["t"])]
    text = exercises.cut(SOURCE, tasks)
    assert "@staticmethod\n    @decorate(\n" in text
    signature = "    def load(self, a,\n             b=(1, 2)) -> list:  # the signature goes on\n"
    assert signature in text
    assert '"""Kept: it says what the function is for."""' in text
    assert "return [a, b]" not in text and "answer in a comment" not in text
    assert "So does this one" not in text
    assert "async def receive(self, text_data=None):" in text
    namespace = {"decorate": lambda *a: lambda f: f}
    exec(compile(text, "x.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="TODO: Load it. Hint: Use a list."):
        namespace["Consumer"].load(None, 1)
    assert namespace["helper"](3) == 3
    tree = ast.parse(text)
    assert is_stub(find_function(tree, "Consumer.receive"), tasks[1])
    assert not is_stub(find_function(tree, "helper"))


def test_a_function_that_is_gone_fails_loudly_naming_the_file():
    task = Task(1, "x.py", "Consumer.vanished", "t", "h", ["t"])
    with pytest.raises(ExerciseError, match=r"gs9_x/x.py: no function Consumer.vanished"):
        exercises.cut(SOURCE, [task], where="gs9_x/x.py")


def test_the_copys_pytest_ini_still_reaches_the_repository_root(tmp_path):
    lesson = LESSONS[0]
    copy = copy_lesson(lesson, tmp_path / "deep" / "er" / lesson.name)
    line = next(x for x in (copy / "pytest.ini").read_text().splitlines()
                if x.startswith("pythonpath"))
    entries = line.split("=", 1)[1].split()
    assert "." in entries
    assert any((copy / e).resolve() == ROOT for e in entries), entries
