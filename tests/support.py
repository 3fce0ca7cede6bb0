"""Helpers for the repository-wide tests: lesson folders, copies of them, the docs' sources."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from testkit.catalog import ROOT, lesson_dirs

DOCS = ROOT / "docs"
PYTHON = sys.executable
LEFT_OUT = shutil.ignore_patterns("db.sqlite3*", "__pycache__", ".pytest_cache", "*.log")


def lesson_number(path):
    return int(re.match(r"gs(\d+)_", path.name).group(1))


def lesson_page(path):
    return DOCS / "lessons" / f"gs{lesson_number(path)}.md"


def lesson_pages():
    return sorted(DOCS.glob("lessons/gs*.md"), key=lambda p: int(re.sub(r"\D", "", p.stem)))


def copy_lesson(number, dest):
    """A private copy of lesson gsN in dest, to break on purpose; the original is untouched."""
    source = next(p for p in lesson_dirs() if lesson_number(p) == number)
    return Path(shutil.copytree(source, Path(dest) / source.name, ignore=LEFT_OUT))


def edit(path, old, new):
    """Replace `old` by `new` once in a copied file; fail loudly if the lesson no longer has it."""
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}: update this reproduction"
    path.write_text(text.replace(old, new, 1))


def lesson_env(extra=None):
    """Environment for a copied lesson: the repository root importable (testkit), no service
    URLs from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run(folder, *args, env=None, timeout=60):
    """Run `python args...` inside a copied lesson; returns the CompletedProcess (never raises
    for a non-zero exit: the tests look at what failed and how)."""
    return subprocess.run(
        [PYTHON, *args], cwd=folder, env=lesson_env(env), capture_output=True, text=True,
        timeout=timeout,
    )


def settings_package(folder):
    text = (Path(folder) / "manage.py").read_text()
    return re.search(r'"DJANGO_SETTINGS_MODULE",\s*"(\w+)\.settings"', text).group(1)
