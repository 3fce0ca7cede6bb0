"""The MkDocs hook that writes the table of hostile cases on the Security page."""

import importlib.util
import json
import os
from types import SimpleNamespace

import markdown
import pytest
from support import DOCS, ROOT

from testkit.catalog import lesson_dirs

spec = importlib.util.spec_from_file_location("hostile_table", DOCS / "hooks" / "hostile_table.py")
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)

# Every way a test can carry the mark, in a made-up lesson's tests/.
SHARED = '''
import pytest

ERROR = "an error frame"
BAD = [
    pytest.param("x", id="from-a-list", marks=pytest.mark.hostile("a listed case", ERROR)),
    pytest.param("y", id="unmarked"),
]
UNUSED = [pytest.param("z", id="never-used", marks=pytest.mark.hostile("unused", "-"))]
'''
TESTS = '''
import pytest
from shared import BAD

hostile = pytest.mark.hostile
REFUSED = "refused at the handshake"


@pytest.mark.hostile("a decorated case", "its answer")
def test_decorated():
    pass


@hostile(case="keywords and an alias", answer=REFUSED)
async def test_async_with_keywords():
    pass


@pytest.mark.parametrize("text", BAD)
def test_imported_list(text):
    pass


@pytest.mark.parametrize("n", [
    1,
    pytest.param(2, id="inline", marks=[pytest.mark.slow, hostile("an inline case", "ok")]),
])
def test_inline(n):
    pass


@pytest.mark.hostile("a class case", "for each method")
class TestGroup:
    pytestmark = pytest.mark.hostile("a class pytestmark", "also for each method")

    def test_one(self):
        pass

    def helper(self):
        pass


def test_unmarked():
    pass


def helper_not_a_test():
    pytest.mark.hostile("inside a body", "not a mark of any test")
'''
MODULE_MARK = '''
import pytest

pytestmark = pytest.mark.hostile("a module pytestmark", "for every test here")


def test_a():
    pass


def test_b():
    pass
'''


def make_lesson(root, name="gs1_made_up", files=None):
    folder = root / name
    (folder / "tests").mkdir(parents=True)
    (folder / "manage.py").write_text("")
    files = files if files is not None else {
        "shared.py": SHARED, "test_cases.py": TESTS, "test_module.py": MODULE_MARK,
        "not_a_test_file.py": '@pytest.mark.hostile("not collected", "-")\ndef test_x(): ...\n'}
    for name, text in files.items():
        (folder / "tests" / name).write_text(text)
    return folder


def cases(folder):
    return [(row["nodeid"], row["case"], row["answer"]) for row in hook.static_cases(folder)]


def test_the_test_files_are_read_for_every_form_of_the_mark(tmp_path):
    folder = make_lesson(tmp_path)
    assert cases(folder) == [
        ("tests/test_cases.py::test_decorated", "a decorated case", "its answer"),
        ("tests/test_cases.py::test_async_with_keywords", "keywords and an alias",
         "refused at the handshake"),
        ("tests/test_cases.py::test_imported_list[from-a-list]", "a listed case",
         "an error frame"),
        ("tests/test_cases.py::test_inline[inline]", "an inline case", "ok"),
        ("tests/test_cases.py::TestGroup::test_one", "a class case", "for each method"),
        ("tests/test_cases.py::TestGroup::test_one", "a class pytestmark",
         "also for each method"),
        ("tests/test_module.py::test_a", "a module pytestmark", "for every test here"),
        ("tests/test_module.py::test_b", "a module pytestmark", "for every test here"),
    ]


def results_file(folder, results, run="2025-01-31T12:00:00.000001+00:00", complete=True):
    path = folder.parent / "build" / "hostile" / f"{folder.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"folder": folder.name, "run": run, "complete": complete,
                                "cases": results}))
    return path


def result(nodeid, case, answer, outcome="passed", reason="",
           run="2025-01-31T12:00:00.000001+00:00"):
    return {"nodeid": nodeid, "case": case, "answer": answer, "result": outcome,
            "reason": reason, "run": run}


def test_rows_join_results_with_cases_not_run_yet(tmp_path):
    folder = make_lesson(tmp_path)
    results = {"run": "2025-01-31T12:00:00.000001+00:00", "cases": [
        result("tests/test_cases.py::test_decorated", "a decorated case", "its answer"),
        result("tests/test_module.py::test_a", "a module pytestmark", "for every test here"),
        result("tests/test_module.py::test_b", "a module pytestmark", "for every test here",
               "skipped", "no Redis"),
        result("tests/test_cases.py::test_inline[inline]", "an inline case", "ok", "failed",
               run="2025-01-30T08:00:00+00:00"),
        # A test file deleted since that run: its row goes.
        result("tests/test_gone.py::test_x", "a deleted case", "-"),
    ]}
    rows = {row["case"]: row["tests"] for row in hook.rows_for(folder, hook.static_cases(folder),
                                                              results)}
    assert rows["a decorated case"] == [("tests/test_cases.py::test_decorated", "passed", "")]
    assert rows["a module pytestmark"] == [("tests/test_module.py::test_a", "passed", ""),
                                           ("tests/test_module.py::test_b", "skipped", "no Redis")]
    assert rows["an inline case"] == [("tests/test_cases.py::test_inline[inline]",
                                       "failed in an earlier run (2025-01-30 08:00 UTC)", "")]
    assert rows["a listed case"] == [("tests/test_cases.py::test_imported_list[from-a-list]",
                                      hook.NOT_RUN, "")]
    assert "a deleted case" not in rows
    assert list(rows)[:3] == ["a decorated case", "a module pytestmark", "an inline case"]


def html_of(text):
    return markdown.markdown(text, extensions=["tables", "attr_list"])


def test_the_tests_own_words_are_shown_as_text():
    cell = hook.inline('HTML, `<script>alert(1)</script>`, or <b>bold</b> | a pipe, *stars*')
    html = html_of(f"| a | b |\n| --- | --- |\n| {cell} | x |\n")
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>" not in html and "<script>" not in html and "<em>" not in html
    # The pipe stayed inside its cell: two cells in the row, not three.
    body_row = html.split("<tbody>")[1]
    assert body_row.count("<td>") == 2 and "a pipe" in body_row


def test_the_page_lists_every_lesson_with_its_cases_and_results(tmp_path):
    folder = make_lesson(tmp_path, "gs1_made_up")
    make_lesson(tmp_path, "gs2_made_up", {"test_nothing.py": "def test_x():\n    pass\n"})
    results_file(folder, [result("tests/test_cases.py::test_decorated", "a decorated case",
                                 "its answer", "failed")])
    (tmp_path / "docs" / "lessons").mkdir(parents=True)
    (tmp_path / "docs" / "lessons" / "gs1.md").write_text("# gs1\n")
    text = hook.render(tmp_path, tmp_path / "build" / "hostile", tmp_path / "docs", "")
    html = html_of(text)
    assert '<h3 id="gs1_made_up">' in html and '<h3 id="gs2_made_up">' in html
    assert '<a href="lessons/gs1.md">gs1</a>' in html
    assert "<td><strong>failed</strong></td>" in html
    assert "<td>not run yet</td>" in html
    assert "No test in <code>gs2_made_up/</code> is marked hostile yet." in html
    # The summary: gs1 has 7 cases in 8 tests; 1 failed and 7 were not run yet.
    assert "| [`gs1_made_up/`](#gs1_made_up) | 7 | 0 | 1 | 0 | 7 |" in text


def test_without_results_the_page_still_lists_the_cases(tmp_path):
    folder = make_lesson(tmp_path)
    text = hook.render(tmp_path, tmp_path / "no-results-here", None, "")
    assert "No results yet" in text
    assert text.count("| not run yet | <code>") == len({row["case"] for row in
                                                        hook.static_cases(folder)})


def test_the_hook_fills_in_the_marker_only(tmp_path):
    make_lesson(tmp_path)
    (tmp_path / "docs").mkdir()
    config = SimpleNamespace(docs_dir=str(tmp_path / "docs"))
    page = SimpleNamespace(file=SimpleNamespace(src_uri="security.md"))
    assert hook.on_page_markdown("no marker", page, config, None) == "no marker"
    filled = hook.on_page_markdown(f"before\n\n{hook.MARKER}\n\nafter", page, config, None)
    assert filled.startswith("before") and filled.endswith("after")
    assert "a decorated case" in filled and hook.MARKER not in filled


def test_gs8s_page_has_the_marker_and_the_hook_is_registered():
    # The table belongs to the lesson about hardening; the Security page links to it.
    assert hook.MARKER in (DOCS / "lessons" / "gs8.md").read_text()
    assert hook.MARKER not in (DOCS / "security.md").read_text()
    assert "docs/hooks/hostile_table.py" in (ROOT / "mkdocs.yml").read_text()


@pytest.mark.parametrize("lesson", lesson_dirs(), ids=lambda p: p.name)
def test_every_lesson_tries_hostile_input(lesson):
    assert hook.static_cases(lesson), f"no test in {lesson.name}/tests is marked hostile"


def fresh_results(lesson):
    """The lesson's results file, if it is newer than every one of its test files."""
    path = ROOT / "build" / "hostile" / f"{lesson.name}.json"
    data = hook.load_results(path)
    if not data or not data.get("complete"):
        return None
    newest = max(os.path.getmtime(p) for p in (lesson / "tests").rglob("*.py"))
    return data if os.path.getmtime(path) > newest else None


@pytest.mark.parametrize("lesson", lesson_dirs(), ids=lambda p: p.name)
def test_the_files_read_agree_with_the_last_run(lesson):
    # What the docs read from the test files, when there are no results, is what pytest
    # really collected in the last whole run of the lesson's tests.
    data = fresh_results(lesson)
    if data is None:
        pytest.skip(f"no whole run of {lesson.name}'s tests since they last changed")
    ran = {(row["case"], row["answer"]) for row in data["cases"]}
    read = {(row["case"], row["answer"]) for row in hook.static_cases(lesson)}
    assert read == ran
