"""MkDocs hook: "What changed since gsM" on every lesson page that builds on another lesson.

The section is generated at build time from the lesson folders, so it can never go stale. For
docs/lessons/gsN.md it diffs the files that teach (consumers, routing, settings, templates, ...)
between the lesson gsN builds on (named in its README.md, found by testkit/catalog.py) and
gsN_*/, matching files by path with the project package renamed (gs3/settings.py is compared with
gs4/settings.py). An app that is new as a whole is listed, not dumped: the page shows its code.
A page that contains the marker <!-- lesson-diff --> gets the section there; any other lesson
page gets it at the end.
"""

import difflib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from testkit.catalog import builds_on, lesson_dirs, lesson_number, project_package  # noqa: E402

MARKER = "<!-- lesson-diff -->"
PAGE = re.compile(r"^lessons/gs(\d+)\.md$")

# Every Python file, template and script a learner reads; tests, migrations and boilerplate
# (manage.py, apps.py, __init__.py, READMEs) are left out.
BOILERPLATE = {"manage.py", "apps.py", "__init__.py"}
SKIPPED_PARTS = {"tests", "migrations", "__pycache__", ".pytest_cache"}


def lesson_folders(root):
    """{N: path} for every gsN_*/ folder that is a Django project (has manage.py)."""
    return {lesson_number(path): path for path in lesson_dirs(root)}


def teaches(relative):
    parts = relative.parts
    if SKIPPED_PARTS & set(parts) or relative.name in BOILERPLATE:
        return False
    if "templates" in parts:
        return True
    if "static" in parts:
        return relative.suffix == ".js"
    return relative.suffix == ".py"


def teaching_files(folder):
    """{key: relative path}, the key having the project package replaced by a placeholder."""
    package = project_package(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and teaches(relative):
            parts = list(relative.parts)
            if parts[0] == package:
                parts[0] = "<project>"
            files["/".join(parts)] = relative
    return files


def read_lines(path):
    return path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)


def unified(old_folder, old_rel, new_folder, new_rel):
    old = read_lines(old_folder / old_rel) if old_rel else []
    new = read_lines(new_folder / new_rel) if new_rel else []
    diff = difflib.unified_diff(
        old, new,
        fromfile=f"{old_folder.name}/{old_rel}" if old_rel else "/dev/null",
        tofile=f"{new_folder.name}/{new_rel}" if new_rel else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in diff)


def fenced(text, language):
    """A fence longer than any run of backticks inside the text, so the text can't close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}{fence}\n"


def indent(text):
    return "".join(f"    {line}" if line.strip() else "\n" for line in text.splitlines(True))


def renamed(text, old_folder, new_folder):
    """The old lesson's text with its names (gs3_topic, gs3) replaced by the new lesson's."""
    old_package, new_package = project_package(old_folder), project_package(new_folder)
    text = text.replace(old_folder.name, new_folder.name)
    return re.sub(rf"\b{re.escape(old_package)}\b", new_package, text)


def compare(old_folder, new_folder):
    """(changed, added, removed, unchanged): changed holds (old_rel, new_rel, diff text);
    unchanged also holds the files that differ only by the lesson's own name."""
    old_files, new_files = teaching_files(old_folder), teaching_files(new_folder)
    changed, added, removed, unchanged = [], [], [], []
    # The lesson's apps first, then its project package (settings, asgi, urls).
    for key in sorted(old_files.keys() | new_files.keys(), key=lambda k: (k.startswith("<"), k)):
        old_rel, new_rel = old_files.get(key), new_files.get(key)
        if old_rel and new_rel:
            old_text = (old_folder / old_rel).read_text(encoding="utf-8", errors="replace")
            new_text = (new_folder / new_rel).read_text(encoding="utf-8", errors="replace")
            if renamed(old_text, old_folder, new_folder) == new_text:
                unchanged.append(new_rel)
            else:
                diff = unified(old_folder, old_rel, new_folder, new_rel)
                changed.append((old_rel, new_rel, diff))
        elif new_rel:
            added.append(new_rel)
        else:
            removed.append(old_rel)
    return changed, added, removed, unchanged


def code(path):
    return f"`{path.as_posix()}`"


def whole_apps(files, other_files, packages):
    """The top-level folders of `files` that `other_files` has nothing of: apps new (or gone)
    as a whole. The project packages are never one."""
    tops = {p.parts[0] for p in files if len(p.parts) > 1}
    other_tops = {p.parts[0] for p in other_files if len(p.parts) > 1}
    return sorted(tops - other_tops - set(packages))


def base_of(number, folders):
    """The folder lesson `number` builds on: its README's "Builds on" line, else None."""
    folder = folders.get(number)
    base = builds_on(folder, folder.parent) if folder else None
    return base if base in folders.values() else None


def section(number, folders):
    """The Markdown section for lesson `number`, or "" when it builds on no other lesson."""
    old_folder = base_of(number, folders)
    if old_folder is None:
        return ""
    new_folder = folders[number]
    previous = lesson_number(old_folder)
    changed, added, removed, unchanged = compare(old_folder, new_folder)
    packages = (project_package(old_folder), project_package(new_folder))
    new_apps = whole_apps(added, removed + unchanged + [c[1] for c in changed], packages)
    gone_apps = whole_apps(removed, added + unchanged + [c[0] for c in changed], packages)
    lines = [
        f"## What changed since gs{previous}",
        "",
        f"This lesson builds on gs{previous}. Generated when this site is built, from "
        f"`{old_folder.name}/` and `{new_folder.name}/`: the files that teach, compared by path "
        f"(the project package `{project_package(old_folder)}/` matched with "
        f"`{project_package(new_folder)}/`). Tests, migrations, `manage.py`, `apps.py` and "
        "READMEs are left out.",
        "",
    ]
    for app in new_apps:
        files = [p for p in added if p.parts[0] == app]
        lines += [f"**New app `{app}/`** (its code is on this page): "
                  + ", ".join(code(p) for p in files) + ".", ""]
    for app in gone_apps:
        files = [p for p in removed if p.parts[0] == app]
        lines += [f"**Not carried over from gs{previous}:** the app `{app}/` ("
                  + ", ".join(code(p) for p in files) + ").", ""]
    added = [p for p in added if p.parts[0] not in new_apps]
    removed = [p for p in removed if p.parts[0] not in gone_apps]
    if added:
        lines += ["**New files:** " + ", ".join(code(p) for p in added) + ".", ""]
    if removed:
        lines += ["**Removed files:** " + ", ".join(code(p) for p in removed) + ".", ""]
    if unchanged:
        lines += ["**Unchanged** (but for the lesson's name): "
                  + ", ".join(code(p) for p in unchanged) + ".", ""]
    if not (changed or added or removed or new_apps or gone_apps):
        lines += ["No file that teaches differs.", ""]
    for old_rel, new_rel, diff in changed:
        title = code(new_rel) if old_rel == new_rel else f"{code(old_rel)} → {code(new_rel)}"
        lines.append(f'??? abstract "Changed: {title}"')
        lines.append(indent(fenced(diff, "diff")))
    for new_rel in added:
        diff = unified(old_folder, None, new_folder, new_rel)
        lines.append(f'??? abstract "New: {code(new_rel)}"')
        lines.append(indent(fenced(diff, "diff")))
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown, page, config, files, **kwargs):
    match = PAGE.match(page.file.src_uri)
    if not match:
        return markdown
    # The lesson folders sit beside docs/, at the repository root.
    root = Path(config.docs_dir).resolve().parent
    text = section(int(match.group(1)), lesson_folders(root))
    if not text:
        return markdown
    if MARKER in markdown:
        return markdown.replace(MARKER, text, 1)
    return markdown.rstrip("\n") + "\n\n" + text
