"""Where the lessons are and what each builds on: the one module that finds lessons.

`make gsN`, `make test`, the tests, the benchmarks and the docs hooks all ask it.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = re.compile(r"^gs(\d+)_")
# The line every lesson's README.md carries, for example
# **Builds on:** [gs4_channel_layers](../gs4_channel_layers/)
BUILDS_ON = re.compile(r"^\*\*Builds on:\*\*\s*\[?`?(gs\d+_\w+)", re.MULTILINE)


def lesson_number(path):
    return int(FOLDER.match(Path(path).name).group(1))


def lesson_dirs(root=ROOT):
    """Every gsN_topic/ folder that is a Django project (has manage.py), in lesson order."""
    return sorted(
        (p for p in Path(root).glob("gs[0-9]*_*")
         if FOLDER.match(p.name) and (p / "manage.py").is_file()),
        key=lesson_number,
    )


def lesson_dir(number, root=ROOT):
    """gs<number>_<topic>/ for a number like "4" (or "gs4")."""
    number = str(number).removeprefix("gs")
    for path in lesson_dirs(root):
        if str(lesson_number(path)) == number:
            return path
    names = ", ".join(p.name for p in lesson_dirs(root))
    raise SystemExit(f"No lesson folder gs{number}_*/ here; the lessons are: {names}")


def settings_module(path):
    """"gs4.settings", read from the lesson's manage.py."""
    text = (Path(path) / "manage.py").read_text()
    return re.search(r'"DJANGO_SETTINGS_MODULE",\s*"([\w.]+)"', text).group(1)


def project_package(path):
    return settings_module(path).split(".")[0]


def asgi_module(path):
    return project_package(path) + ".asgi"


def builds_on(path, root=ROOT):
    """The lesson folder that `path` builds on, named in its README.md; None for the first."""
    readme = Path(path) / "README.md"
    match = BUILDS_ON.search(readme.read_text()) if readme.is_file() else None
    if not match:
        return None
    base = Path(root) / match.group(1)
    return base if (base / "manage.py").is_file() else None
