"""The MkDocs hook that writes "What changed since the previous lesson" on each lesson page."""

import importlib.util
from types import SimpleNamespace

import pytest
from support import DOCS, ROOT

spec = importlib.util.spec_from_file_location("lesson_diff", DOCS / "hooks" / "lesson_diff.py")
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)


def make_lesson(root, number, package, files, builds_on=None):
    folder = root / f"gs{number}_topic{number}"
    manage = f'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{package}.settings")\n'
    base = f"gs{builds_on}_topic{builds_on}"
    readme = f"# gs{number}\n\n**Builds on:** [{base}](../{base}/)\n" if builds_on else "# first\n"
    for relative, text in {"manage.py": manage, "README.md": readme, **files}.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


@pytest.fixture
def two_lessons(tmp_path):
    make_lesson(tmp_path, 3, "gs3", {
        "gs3/settings.py": 'ROOT_URLCONF = "gs3.urls"\nDEBUG = True\n',
        "gs3/__init__.py": "",
        "app/consumers.py": "class A:\n    pass\n",
        "app/old.py": "x = 1\n",
        "app/apps.py": "class AppConfig: ...\n",
        "app/routing.py": "routes = []\n",
        "app/tests/test_a.py": "def test(): pass\n",
        "app/migrations/0001_initial.py": "ops = []\n",
    })
    make_lesson(tmp_path, 4, "gs4", {
        "gs4/settings.py": 'ROOT_URLCONF = "gs4.urls"\nDEBUG = True\n',
        "app/consumers.py": "class A:\n    group = 'room'\n",
        "app/routing.py": "routes = []\n",
        "app/models.py": "class Room:\n    pass\n",
        "app/templates/app/room.html": "<p>```</p>\n",
        "app/management/commands/notify.py": "print('hi')\n",
        "app/tests/test_b.py": "def test(): pass\n",
    }, builds_on=3)
    return tmp_path


def test_files_are_matched_with_the_project_package_renamed(two_lessons):
    folders = hook.lesson_folders(two_lessons)
    changed, added, removed, unchanged = hook.compare(folders[3], folders[4])
    # settings.py differs only by the lesson's name (gs3.urls -> gs4.urls): not a change.
    assert [(str(old), str(new)) for old, new, _ in changed] == [
        ("app/consumers.py", "app/consumers.py")]
    assert sorted(map(str, added)) == [
        "app/management/commands/notify.py", "app/models.py", "app/templates/app/room.html"]
    # Tests, migrations, README, apps.py and __init__ never count.
    assert list(map(str, removed)) == ["app/old.py"]
    assert list(map(str, unchanged)) == ["app/routing.py", "gs4/settings.py"]


def test_the_section_holds_real_diffs_in_collapsible_admonitions(two_lessons):
    text = hook.section(4, hook.lesson_folders(two_lessons))
    assert text.startswith("## What changed since gs3\n")
    assert '??? abstract "Changed: `app/consumers.py`"' in text
    assert "    -    pass\n    +    group = 'room'\n" in text
    assert "ROOT_URLCONF" not in text
    assert "**Unchanged** (but for the lesson's name): `app/routing.py`, `gs4/settings.py`." in text
    assert "**New files:** `app/management/commands/notify.py`" in text
    # A template holding ``` gets a longer fence, so it cannot end the block early.
    assert "    ````diff\n" in text
    assert "**Removed files:** `app/old.py`." in text
    assert "test_b" not in text and "0001_initial" not in text and "# gs4" not in text
    assert "AppConfig" not in text


def test_a_real_change_in_a_renamed_file_is_shown(tmp_path):
    make_lesson(tmp_path, 1, "gs1", {"gs1/settings.py": 'ROOT_URLCONF = "gs1.urls"\n'})
    make_lesson(tmp_path, 2, "gs2", {"gs2/settings.py": 'ROOT_URLCONF = "gs2.urls"\nX = 1\n'},
                builds_on=1)
    text = hook.section(2, hook.lesson_folders(tmp_path))
    assert '??? abstract "Changed: `gs1/settings.py` → `gs2/settings.py`"' in text
    assert "    +X = 1\n" in text


def page(number):
    return SimpleNamespace(file=SimpleNamespace(src_uri=f"lessons/gs{number}.md"))


def config(root):
    return SimpleNamespace(docs_dir=str(root / "docs"))


def test_the_hook_appends_or_fills_the_marker(two_lessons):
    appended = hook.on_page_markdown("# gs4\n\nText.\n", page(4), config(two_lessons), None)
    assert appended.startswith("# gs4\n\nText.\n\n## What changed since gs3")
    marked = "# gs4\n<!-- lesson-diff -->\n## Try it\n"
    filled = hook.on_page_markdown(marked, page(4), config(two_lessons), None)
    assert filled.index("What changed") < filled.index("## Try it")
    assert "<!-- lesson-diff -->" not in filled


def test_the_first_lesson_and_other_pages_are_left_alone(two_lessons):
    assert hook.on_page_markdown("# gs3\n", page(3), config(two_lessons), None) == "# gs3\n"
    other = SimpleNamespace(file=SimpleNamespace(src_uri="concepts/routing.md"))
    assert hook.on_page_markdown("# R\n", other, config(two_lessons), None) == "# R\n"


def test_a_lesson_that_names_no_base_gets_no_section(tmp_path):
    make_lesson(tmp_path, 1, "gs1", {"gs1/settings.py": "A = 1\n"})
    make_lesson(tmp_path, 2, "gs2", {"gs2/settings.py": "A = 2\n"})
    assert hook.section(2, hook.lesson_folders(tmp_path)) == ""


def test_the_base_is_the_lesson_named_in_the_readme_not_the_previous_one(tmp_path):
    make_lesson(tmp_path, 4, "gs4", {"chat/consumers.py": "a = 1\n"})
    make_lesson(tmp_path, 6, "gs6", {"chat/consumers.py": "a = 1\n", "chat/models.py": "m = 1\n"},
                builds_on=4)
    make_lesson(tmp_path, 7, "gs7", {"chat/consumers.py": "a = 2\n", "echo/consumers.py": "e\n"},
                builds_on=4)
    text = hook.section(7, hook.lesson_folders(tmp_path))
    assert text.startswith("## What changed since gs4\n")
    # A whole new app is listed, not dumped; a changed file is diffed.
    assert "**New app `echo/`** (its code is on this page): `echo/consumers.py`." in text
    assert 'New: `echo/consumers.py`' not in text
    assert "    -a = 1\n    +a = 2\n" in text
    assert "models.py" not in text


def test_an_app_left_behind_is_named_once(tmp_path):
    make_lesson(tmp_path, 3, "gs3", {"app/consumers.py": "a\n", "app/routing.py": "r\n"})
    make_lesson(tmp_path, 4, "gs4", {"chat/consumers.py": "c\n"}, builds_on=3)
    text = hook.section(4, hook.lesson_folders(tmp_path))
    assert "**Not carried over from gs3:** the app `app/` (`app/consumers.py`, `app/routing.py`)." \
        in text
    assert "Removed files" not in text and "-a\n" not in text


def test_the_real_lessons():
    folders = hook.lesson_folders(ROOT)
    for number, folder in folders.items():
        text = hook.section(number, folders)
        if number == min(folders):
            assert text == ""
        else:
            # Every lesson but the first names the lesson it builds on, and the page shows it.
            assert text.startswith("## What changed since gs"), folder.name
