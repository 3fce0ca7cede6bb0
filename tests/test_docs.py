"""The docs site: it builds strictly, its links work, and every lesson has a proper page.

Parametrized over the lesson folders and pages that exist when the tests run, so a new lesson
is checked without any change here.
"""

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from support import DOCS, PYTHON, ROOT, lesson_number, lesson_page, lesson_pages

from testkit.catalog import lesson_dirs

LESSONS = lesson_dirs()
PAGES = lesson_pages()
SNIPPET = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"', re.MULTILINE)
SNIPPET_BLOCK = re.compile(r"^\s*-{1,}8<-{1,}\s*$\n(.*?)^\s*-{1,}8<-{1,}\s*$",
                           re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)"
                   r"^(?P=indent)(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
RUN = 5  # consecutive identical non-blank lines that count as pasted code


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site built once, strictly, into a temporary folder: (completed process, folder)."""
    folder = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [str(Path(PYTHON).parent / "mkdocs"), "build", "--strict", "-q", "-d", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return build, folder


@pytest.fixture(scope="session")
def built(site):
    build, folder = site
    if build.returncode != 0:
        pytest.fail("the strict build failed, see test_strict_build_passes", pytrace=False)
    return folder


def nav_pages():
    """Every page path listed in mkdocs.yml's nav (python tags in the file are ignored)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *args: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    return set(walk(config.get("nav", [])))


def markdown_files():
    return sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)


def test_strict_build_passes(site):
    build, _ = site
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}{build.stderr}"


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.links.append(attrs["src"])


def parse(path, cache={}):  # noqa: B006 (a cache, on purpose)
    if path not in cache:
        parser = Links()
        parser.feed(path.read_text(errors="replace"))
        cache[path] = parser
    return cache[path]


def target_file(folder, page, href):
    """The built file an internal href points at, or None for an external link."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    if not parts.path:
        return page
    base = folder if parts.path.startswith("/") else page.parent
    target = (base / unquote(parts.path).lstrip("/")).resolve()
    return target / "index.html" if target.is_dir() or parts.path.endswith("/") else target


def broken_links(folder):
    broken = []
    for page in sorted(folder.rglob("*.html")):
        if page.name == "404.html":
            continue  # Material's 404 page uses site-absolute links on purpose
        for href in parse(page).links:
            target = target_file(folder, page, href)
            if target is None:
                continue
            where = f"{page.relative_to(folder)}: {href}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
                continue
            anchor = unquote(urlsplit(href).fragment)
            if anchor and target.suffix == ".html" and anchor not in parse(target).ids:
                broken.append(f"{where} (no anchor #{anchor})")
    return broken


def test_the_link_checker_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">x</h2><a href="#here">ok</a>'
                                               '<a href="#gone">bad anchor</a>'
                                               '<a href="../b/">no page</a>'
                                               '<a href="https://example.org/">external</a>')
    assert broken_links(tmp_path) == ["a/index.html: #gone (no anchor #gone)",
                                      "a/index.html: ../b/ (no such file)"]


def test_no_broken_internal_links_or_anchors(built):
    broken = broken_links(built)
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_a_readme_and_a_page_in_the_nav(lesson):
    page = lesson_page(lesson)
    assert (lesson / "README.md").is_file(), f"{lesson.name}/ has no README.md"
    assert page.is_file(), f"{lesson.name}/ has no page docs/lessons/{page.name}"
    assert f"lessons/{page.name}" in nav_pages(), f"lessons/{page.name} is not in mkdocs.yml's nav"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_lesson_page_has_a_mermaid_diagram(page):
    blocks = [m for m in FENCE.finditer(page.read_text()) if m["info"].strip() == "mermaid"]
    assert blocks, f"docs/lessons/{page.name} has no ```mermaid block (the message flow)"
    assert any(m["body"].strip() for m in blocks), f"{page.name}: the mermaid block is empty"


def snippet_paths(text):
    paths = SNIPPET.findall(text)
    for block in SNIPPET_BLOCK.findall(text):
        paths += [line.strip() for line in block.splitlines() if line.strip()]
    # "file.py:3:10" and "file.py:section" include part of a file: the path is before the colon.
    return [re.sub(r":[\w:-]*$", "", p) for p in paths if not p.startswith(";")]


def test_the_snippet_paths_finder_sees_both_forms():
    text = 'a\n```python\n--8<-- "gs1_basic/gs1/asgi.py"\n```\n--8<--\nx.py:2:4\n--8<--\n'
    assert snippet_paths(text) == ["gs1_basic/gs1/asgi.py", "x.py"]


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_snippet_path_exists(page):
    missing = [p for p in snippet_paths(page.read_text()) if not (ROOT / p).is_file()]
    assert not missing, f"{page.relative_to(ROOT)} includes files that do not exist: {missing}"


def runs(lines):
    """Every window of RUN consecutive non-blank, stripped lines."""
    lines = [line.strip() for line in lines if line.strip()]
    return [tuple(lines[i:i + RUN]) for i in range(len(lines) - RUN + 1)]


def lesson_python_runs():
    found = {}
    for lesson in LESSONS:
        for path in lesson.rglob("*.py"):
            if "__pycache__" not in path.parts:
                for window in runs(path.read_text(errors="replace").splitlines()):
                    found.setdefault(window, path.relative_to(ROOT))
    return found


def pasted_blocks(text, known):
    """(first line, lesson file) for each fenced block that repeats RUN lines of a lesson file."""
    pasted = []
    for block in FENCE.finditer(text):
        body = block["body"]
        if SNIPPET.search(body) or SNIPPET_BLOCK.search(body):
            continue  # included from the real file: the right way
        for window in runs(body.splitlines()):
            if window in known:
                pasted.append((window[0], known[window]))
                break
    return pasted


def test_the_pasted_code_finder_catches_a_paste():
    source = "\n".join(f"line_{n} = {n}" for n in range(8))
    known = {window: Path("gsX/file.py") for window in runs(source.splitlines())}
    text = "text\n```python\n" + "\n\n".join(source.splitlines()[1:7]) + "\n```\n"
    assert pasted_blocks(text, known) == [("line_1 = 1", Path("gsX/file.py"))]
    short = "```python\n" + "\n".join(source.splitlines()[:4]) + "\n```\n"
    assert pasted_blocks(short, known) == []


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(DOCS)))
def test_no_page_pastes_lesson_code_instead_of_including_it(page):
    pasted = pasted_blocks(page.read_text(), lesson_python_runs())
    assert not pasted, (
        f"{page.relative_to(ROOT)} pastes lines of lesson code; include the file with "
        f'--8<-- "path" instead: ' + "; ".join(f"{line!r}... from {src}" for line, src in pasted)
    )


def diffed_pages():
    numbers = {lesson_number(p) for p in LESSONS}
    return [p for p in PAGES if (n := int(p.stem[2:])) in numbers and any(m < n for m in numbers)]


@pytest.mark.parametrize("page", diffed_pages(), ids=lambda p: p.name)
def test_lesson_pages_after_the_first_show_what_changed(built, page):
    html = (built / "lessons" / page.stem / "index.html").read_text()
    assert "What changed since gs" in html
    # Rendered diffs: collapsible <details> holding highlighted added/removed lines.
    has_diff = "<details" in html and ('<span class="gi">' in html or '<span class="gd">' in html)
    assert has_diff or "No file that teaches differs." in html


def test_every_test_named_on_the_troubleshooting_page_exists():
    page = (DOCS / "troubleshooting.md").read_text()
    named = set(re.findall(r"`(test_\w+)`", page))
    defined = set(re.findall(r"^(?:async )?def (test_\w+)",
                             (ROOT / "tests" / "test_troubleshooting.py").read_text(), re.M))
    assert len(named) >= 10
    assert named <= defined, f"named on the page but not defined: {sorted(named - defined)}"
