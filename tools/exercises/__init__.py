"""Exercises cut from the lessons, checked by the lessons' own tests.

Each lesson folder has an `exercise.json` that names its gaps:

    {"tasks": [{"file": "chat/consumers.py", "function": "ChatConsumer.receive",
                "task": "...", "hint": "...",
                "tests": ["tests/test_consumers.py::test_x[InMemoryChannelLayer]"]}]}

- `make exercise gsN` copies the lesson into exercises/gsN_topic/ and replaces the body of each
  named function with a stub that raises NotImplementedError with its task and hint.
- `make check gsN` runs every task's tests in the copy (one pytest process) and says which tasks
  are done and what to do next; it exits 0 only when every task's tests pass.
- `make solution gsN` prints the difference between the copy and the lesson.
"""

import ast
import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import tokenize
from dataclasses import dataclass
from pathlib import Path

from testkit.catalog import ROOT, lesson_dir
from tools.exercises.report import selects

SPEC = "exercise.json"
EXERCISES = ROOT / "exercises"
# What a copy leaves out: generated files, the lesson's own database.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "db.sqlite3*",
                                "staticfiles", "*.log")
STUB_PREFIX = "TODO: "


class ExerciseError(SystemExit):
    """A problem the learner or the lesson's author must fix; exits with its message."""


@dataclass
class Task:
    number: int
    file: str
    function: str
    task: str
    hint: str
    tests: list

    @property
    def where(self):
        return f"{self.file}, {self.function}"

    def message(self):
        return f"{STUB_PREFIX}{self.task} Hint: {self.hint}"


def load_tasks(folder):
    """The tasks of the exercise.json in `folder` (a lesson, or a learner's copy of one)."""
    spec = Path(folder) / SPEC
    try:
        data = json.loads(spec.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExerciseError(f"{spec} is missing: this lesson has no exercise yet.") from None
    except ValueError as error:
        raise ExerciseError(f"{spec} is not valid JSON: {error}") from None
    tasks = []
    for number, item in enumerate(data.get("tasks", []), 1):
        missing = [k for k in ("file", "function", "task", "hint", "tests") if not item.get(k)]
        if missing:
            raise ExerciseError(f"{spec}: task {number} lacks {', '.join(missing)}")
        tasks.append(Task(number, item["file"], item["function"], item["task"].strip(),
                          item["hint"].strip(), list(item["tests"])))
    if not tasks:
        raise ExerciseError(f"{spec} lists no tasks")
    return tasks


# ----- stubs -----

def find_function(tree, qualified, where="source"):
    """The def (sync or async) named like "ChatConsumer.receive" or "message_error"."""
    body = tree.body
    node = None
    for part in qualified.split("."):
        node = next((n for n in body if isinstance(
            n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            raise ExerciseError(
                f"{where}: no function {qualified} here (looked for {part!r}). The lesson has "
                f"changed: update the task in its {SPEC}.")
        body = node.body
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ExerciseError(f"{where}: {qualified} is a class, not a function")
    return node


def signature_end(source, node):
    """The line (1-based) where a def's signature ends: its first logical NEWLINE token."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.NEWLINE and token.start[0] >= node.lineno:
            return token.start[0]
    raise ExerciseError(f"cannot find the end of the signature of {node.name}")


def quoted(text):
    """A Python string literal for `text`, in the quotes that need no backslashes."""
    if '"' in text and "'" not in text and "\\" not in text:
        return f"'{text}'"
    return json.dumps(text, ensure_ascii=False)


def stub_lines(task, indent):
    """`raise NotImplementedError("TODO: ... Hint: ...")`, wrapped to fit 100 columns."""
    chunks = textwrap.wrap(task.message(), width=max(40, 94 - len(indent)),
                           drop_whitespace=False)
    lines = [f"{indent}raise NotImplementedError("]
    lines += [f"{indent}    {quoted(chunk)}" for chunk in chunks]
    lines.append(f"{indent})")
    return lines


def is_stub(node, task=None):
    """True if the function's body is only (a docstring and) a stub's raise."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return False
    call = body[0].exc
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "NotImplementedError"
            and call.args and isinstance(call.args[0], ast.Constant)):
        return False
    text = call.args[0].value
    return text.startswith(STUB_PREFIX) and (task is None or text == task.message())


def cut(source, tasks, where="source"):
    """`source` with the body of each task's function replaced by its stub (docstrings stay)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    gaps = []
    for task in tasks:
        node = find_function(tree, task.function, where)
        first = signature_end(source, node) + 1
        body = node.body
        if body[0].lineno < first:
            raise ExerciseError(f"{where}: {task.function} has its body on the def line; "
                                "put it on lines of its own")
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if len(body) == 1:
                raise ExerciseError(f"{where}: {task.function} has only a docstring")
            first = body[0].end_lineno + 1
        last = node.end_lineno
        # Comments at the end of the body go too; they may give the answer away.
        while last < len(lines) and lines[last].strip().startswith("#") and (
                len(lines[last]) - len(lines[last].lstrip()) > node.col_offset):
            last += 1
        indent = " " * body[-1].col_offset
        gaps.append((first, last, stub_lines(task, indent)))
    for first, last, stub in sorted(gaps, reverse=True):
        lines[first - 1:last] = stub
    return "\n".join(lines) + "\n"


# ----- copies -----

def rewrite_pytest_ini(lesson, copy):
    """The copy's pytest.ini, with its pythonpath (`. ..`: the lesson and the repository root)
    pointing at the same folders from where the copy is."""
    ini = copy / "pytest.ini"
    if not ini.is_file():
        return

    def moved(entry):
        target = (lesson / entry).resolve()
        if target == lesson.resolve() or lesson.resolve() in target.parents:
            return entry  # inside the lesson: the same place inside the copy
        try:
            return Path(os.path.relpath(target, copy)).as_posix()
        except ValueError:  # Windows: another drive
            return str(target)

    text = ini.read_text(encoding="utf-8")
    match = re.search(r"^pythonpath\s*=\s*(.*)$", text, re.MULTILINE)
    if not match:
        return
    entries = match.group(1).split()
    new = [moved(e) for e in entries]
    text = text[:match.start(1)] + " ".join(new) + text[match.end(1):]
    if ".." in entries:
        text = text.replace("`..` is", f"`{moved('..')}` is", 1)
    ini.write_text(text, encoding="utf-8")


def copy_lesson(lesson, copy, tasks=()):
    """A copy of `lesson` at `copy`, with the gaps of `tasks` cut; returns `copy`."""
    lesson, copy = Path(lesson), Path(copy)
    by_file = {}
    for task in tasks:
        by_file.setdefault(task.file, []).append(task)
    # Cut first, so a task naming a function that is gone stops us before anything is written.
    cut_files = {}
    for name, file_tasks in by_file.items():
        path = lesson / name
        if not path.is_file():
            raise ExerciseError(f"{lesson / SPEC}: {name} does not exist in {lesson.name}/")
        cut_files[name] = cut(path.read_text(encoding="utf-8"), file_tasks,
                              where=f"{lesson.name}/{name}")
    shutil.copytree(lesson, copy, ignore=IGNORE)
    for name, text in cut_files.items():
        (copy / name).write_text(text, encoding="utf-8")
    rewrite_pytest_ini(lesson, copy)
    return copy


def exercise_dir(number, into=None):
    return Path(into or EXERCISES) / lesson_dir(number).name


def shown(path):
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def make_exercise(number, into=None):
    lesson = lesson_dir(number)
    copy = exercise_dir(number, into)
    n = lesson.name.split("_")[0]
    if copy.exists():
        raise ExerciseError(
            f"{shown(copy)}/ already exists: your work is in it, and it stays as it is.\n"
            f"  Carry on:     make check {n}\n"
            f"  Start over:   rename or delete {shown(copy)}/, then run make exercise {n} again")
    tasks = load_tasks(lesson)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy_lesson(lesson, copy, tasks)
    print(f"Wrote {shown(copy)}/: {lesson.name} with {len(tasks)} gap(s) to fill.\n")
    for task in tasks:
        print(f"  {task.number}. {task.task}\n     ({task.where})")
    print(f"\nEach gap raises NotImplementedError with its task and a hint. When you have "
          f"written one:\n  make check {n}      (tells you what is done, and what is next)\n"
          f"  make solution {n}   (your copy against the lesson's code)")
    return copy


# ----- running the tasks' tests -----

# Whether a test's node id is one that a task's selection names (a file, a test, or a test
# with its parameters).
matches = selects


def run_tests(folder, tasks, extra=(), timeout=600):
    """Run the tasks' tests in `folder` in one pytest process.
    Returns ({nodeid: (outcome, message)}, pytest's output)."""
    folder = Path(folder)
    selections = list(dict.fromkeys(s for t in tasks for s in t.tests))
    with tempfile.TemporaryDirectory(prefix="exercise-") as tmp:
        report = Path(tmp) / "report.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["EXERCISE_REPORT"] = str(report)
        env["EXERCISE_TASKS"] = json.dumps([t.tests for t in tasks])
        # A learner's copy never writes the docs' table of hostile cases.
        env["TESTKIT_HOSTILE_RESULTS"] = str(Path(tmp) / "hostile")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        command = [sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
                   "-p", "tools.exercises.report", *extra, *selections]
        try:
            done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as error:
            output = f"the tests did not finish in {timeout} s:\n{error.stdout or ''}"
        try:
            results = json.loads(report.read_text())
        except (OSError, ValueError):
            results = {}
    return {k: tuple(v) for k, v in results.items()}, output


def task_result(task, results):
    """("done" | "failed" | "skipped" | "not run", message) of one task."""
    ran = [(nodeid, r) for nodeid, r in results.items()
           if any(matches(s, nodeid) or matches(nodeid, s) for s in task.tests)]
    if not ran:
        return "not run", "its tests did not run"
    for outcome in ("failed", "skipped"):
        for nodeid, (result, message) in ran:
            if result == outcome:
                return outcome, f"{nodeid}: {message}".strip()
    return "done", ""


def stub_left(folder, task):
    try:
        tree = ast.parse((Path(folder) / task.file).read_text(encoding="utf-8"))
        return is_stub(find_function(tree, task.function))
    except (OSError, SyntaxError, ExerciseError):
        return False


def check(number, into=None):
    copy = exercise_dir(number, into)
    n = copy.name.split("_")[0]
    if not copy.is_dir():
        raise ExerciseError(f"There is no {shown(copy)}/ yet. Start with: make exercise {n}")
    tasks = load_tasks(copy)
    print(f"Running the tests of {len(tasks)} task(s) in {shown(copy)}/ ...", flush=True)
    results, output = run_tests(copy, tasks)
    outcomes = [task_result(task, results) for task in tasks]
    done = sum(1 for state, _ in outcomes if state == "done")
    print(f"\n{copy.name}: {done} of {len(tasks)} task(s) done\n")
    labels = {"done": "done", "failed": "not yet", "skipped": "skipped", "not run": "not run"}
    for task, (state, _) in zip(tasks, outcomes, strict=True):
        print(f"  [{labels[state]:>7}]  {task.number}. {textwrap.shorten(task.task, 64)}  "
              f"({task.function})")
    pending = [(t, o) for t, o in zip(tasks, outcomes, strict=True) if o[0] != "done"]
    if not pending:
        print(f"\nEvery task passes its tests. Compare with the lesson: make solution {n}")
        return 0
    task, (state, message) = pending[0]
    print(f"\nNext: task {task.number}, in {task.where}")
    print(textwrap.indent(textwrap.fill(task.task, 92), "  "))
    if stub_left(copy, task):
        print("  (the stub is still there: replace its raise with your code)")
    print(textwrap.indent(textwrap.fill(f"Hint: {task.hint}", 92), "  "))
    if state == "skipped":
        print(f"  Its tests were skipped: {message}")
    elif state == "not run":
        print("  Its tests did not run. What pytest said:")
        print(textwrap.indent("\n".join(output.strip().splitlines()[-25:]), "    "))
    elif f"NotImplementedError: {STUB_PREFIX}" in message:
        print(f"  Its tests fail on the stub: {message.split(': NotImplementedError')[0]}")
    else:
        print("  What the tests say:")
        print(textwrap.indent("\n".join(message.splitlines()[:12]), "    "))
    tests = " ".join(shlex.quote(t) if os.name != "nt" else f'"{t}"' for t in task.tests)
    print(f"\n  Run its tests yourself (the whole story):\n"
          f"    cd {shown(copy)} && {shown(sys.executable)} -m pytest {tests}")
    return 1


# ----- the solution -----

def files(folder):
    folder = Path(folder)
    found = set()
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if path.is_file() and not IGNORE(str(path.parent), [path.name]) and not any(
                IGNORE(str(folder), [p]) for p in parts):
            found.add(path.relative_to(folder).as_posix())
    return found


def read_lines(path):
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return []


def solution(number, into=None):
    lesson = lesson_dir(number)
    copy = exercise_dir(number, into)
    if not copy.is_dir():
        raise ExerciseError(f"There is no {shown(copy)}/ to compare. Start with: "
                            f"make exercise {lesson.name.split('_')[0]}")
    color = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
    paint = {"+": "\033[32m", "-": "\033[31m", "@": "\033[36m"}
    changed = 0
    # pytest.ini differs only in where the repository root is.
    for name in sorted((files(copy) | files(lesson)) - {"pytest.ini"}):
        diff = list(difflib.unified_diff(read_lines(copy / name), read_lines(lesson / name),
                                         f"{shown(copy)}/{name} (yours)",
                                         f"{lesson.name}/{name} (the lesson)"))
        if not diff:
            continue
        changed += 1
        for line in diff:
            line = line if line.endswith("\n") else line + "\n"
            start = paint.get(line[0]) if color and not line.startswith(("---", "+++")) else None
            sys.stdout.write(f"{start}{line}\033[0m" if start else line)
    if not changed:
        print(f"{shown(copy)}/ is the same as {lesson.name}/.")
    else:
        print(f"\n{changed} file(s) differ: lines with - are yours, lines with + the lesson's.")
    return 0
