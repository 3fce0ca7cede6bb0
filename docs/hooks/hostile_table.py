"""MkDocs hook: the table of hostile cases, generated from the tests and their last results.

A page that contains the marker <!-- hostile-cases --> gets, in its place, one section per
lesson listing every test marked `@pytest.mark.hostile("what is tried", "the answer")`: the
case, the answer the contract gives, the result and the test's node id.

The results come from build/hostile/<folder>.json, written by testkit/hostile.py in each
lesson's pytest process (`make test` runs the docs build after every suite, so its site shows
that run). Cases with no result yet (a fresh clone running `make docs-build`, or a test added
since the last run) are found by reading the test files with `ast`, without importing or
running them: @pytest.mark.hostile(...) on a test function, its class or the module
(`pytestmark`), and pytest.param(..., marks=pytest.mark.hostile(...)) in a parametrize list,
written in place or in a list the test module defines or imports from a sibling module.
"""

import ast
import html
import json
import re
from collections import Counter
from pathlib import Path

MARKER = "<!-- hostile-cases -->"
FOLDER = re.compile(r"^gs(\d+)_")
TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
NOT_RUN = "not run yet"


# Reading the test files ---------------------------------------------------------------------


def call_name(node):
    """"hostile" for pytest.mark.hostile(...), "param" for pytest.param(...), else None."""
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return None


def text_of(node, constants):
    """A literal string, or a module-level NAME = "string"; anything else as its source."""
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return ast.unparse(node)
    return value if isinstance(value, str) else ast.unparse(node)


def hostile_pair(node, constants):
    """(case, answer) of a hostile(...) call, else None."""
    if call_name(node) != "hostile":
        return None
    args = [*node.args, *(k.value for k in node.keywords if k.arg in ("case", "answer"))]
    if len(args) != 2:
        return None
    return text_of(args[0], constants), text_of(args[1], constants)


def hostile_pairs(node, constants):
    """Every (case, answer) in a mark expression: one mark, or a list or tuple of them."""
    if node is None:
        return []
    items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
    return [pair for pair in (hostile_pair(item, constants) for item in items) if pair]


def keyword(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


def marked_params(node, constants):
    """[(id, [(case, answer)])] for each pytest.param(...) with a hostile mark under node."""
    found = []
    for call in ast.walk(node):
        if call_name(call) == "param":
            pairs = hostile_pairs(keyword(call, "marks"), constants)
            if pairs:
                ident = keyword(call, "id")
                found.append((text_of(ident, constants) if ident is not None else "…", pairs))
    return found


class Module:
    """One parsed Python file of a tests folder: its texts, marked param lists and imports."""

    def __init__(self, path):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.constants = {}  # NAME -> text of a top-level NAME = "text"
        self.lists = {}  # NAME -> marked params of a top-level NAME = [...]
        self.imports = {}  # NAME -> module name, for `from module import NAME`
        self.marks = []  # (case, answer) of a module-level pytestmark
        assigned = [(target.id, node.value) for node in self.tree.body
                    if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)]
        for name, value in assigned:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                self.constants[name] = value.value
        for name, value in assigned:
            if name == "pytestmark":
                self.marks += hostile_pairs(value, self.constants)
            else:
                params = marked_params(value, self.constants)
                if params:
                    self.lists[name] = params
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = node.module


class FolderReader:
    def __init__(self, folder, tests):
        self.folder, self.tests, self.modules = Path(folder), Path(tests), {}

    def module(self, path):
        if path not in self.modules:
            self.modules[path] = Module(path)
        return self.modules[path]

    def params_named(self, module, name):
        if name in module.lists:
            return module.lists[name]
        source = module.imports.get(name)
        if source:
            path = module.path.parent / (source.replace(".", "/") + ".py")
            if path.is_file():
                return self.module(path).lists.get(name, [])
        return []

    def param_cases(self, module, function):
        found = []
        for decorator in function.decorator_list:
            if call_name(decorator) == "parametrize":
                values = decorator.args[1] if len(decorator.args) > 1 else keyword(
                    decorator, "argvalues")
                if isinstance(values, ast.Name):
                    found += self.params_named(module, values.id)
                elif values is not None:
                    found += marked_params(values, module.constants)
        return found

    def cases(self):
        """[{"nodeid", "case", "answer"}] in file order, as the tests are written."""
        rows = []
        for path in sorted(self.tests.rglob("*.py")):
            if not TEST_FILE.match(path.name) or "__pycache__" in path.parts:
                continue
            module = self.module(path)
            prefix = path.relative_to(self.folder).as_posix()
            for node, owner, inherited in self.functions(module):
                nodeid = f"{prefix}::{owner}{node.name}"
                pairs = inherited + [p for d in node.decorator_list
                                     for p in hostile_pairs(d, module.constants)]
                rows += [{"nodeid": nodeid, "case": c, "answer": a} for c, a in pairs]
                for ident, param_pairs in self.param_cases(module, node):
                    rows += [{"nodeid": f"{nodeid}[{ident}]", "case": c, "answer": a}
                             for c, a in param_pairs]
        return rows

    @staticmethod
    def functions(module):
        """(test function, "Class::" or "", marks it inherits from its class and module)."""
        test = (ast.FunctionDef, ast.AsyncFunctionDef)
        for node in module.tree.body:
            if isinstance(node, test) and node.name.startswith("test"):
                yield node, "", module.marks
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                marks = module.marks + [p for d in node.decorator_list
                                        for p in hostile_pairs(d, module.constants)]
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(
                            getattr(t, "id", None) == "pytestmark" for t in item.targets):
                        marks = marks + hostile_pairs(item.value, module.constants)
                for item in node.body:
                    if isinstance(item, test) and item.name.startswith("test"):
                        yield item, f"{node.name}::", marks


def static_cases(folder, tests=None):
    """Every hostile case written in a folder's tests (default: <folder>/tests)."""
    tests = Path(tests or Path(folder) / "tests")
    return FolderReader(folder, tests).cases() if tests.is_dir() else []


# Joining them with the results --------------------------------------------------------------


def load_results(path):
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return data if isinstance(data.get("cases"), list) else None
    except (OSError, ValueError, AttributeError):
        return None


def test_file_exists(folder, nodeid):
    return (Path(folder) / nodeid.split("::")[0]).is_file()


def rows_for(folder, static, results):
    """One row per distinct (case, answer): its tests with their results, in the order the
    last run met them, then the cases it did not run (added since, or never run)."""
    rows = {}

    def row(case, answer):
        return rows.setdefault((case, answer), {"case": case, "answer": answer, "tests": []})

    if results:
        for entry in results["cases"]:
            if test_file_exists(folder, entry["nodeid"]):
                result = entry["result"]
                if entry.get("run") != results.get("run"):
                    result = f"{result} in an earlier run ({short_time(entry.get('run'))})"
                row(entry["case"], entry["answer"])["tests"].append(
                    (entry["nodeid"], result, entry.get("reason", "")))
    ran = set(rows)
    for entry in static:
        key = (entry["case"], entry["answer"])
        if key not in ran:
            row(*key)["tests"].append((entry["nodeid"], NOT_RUN, ""))
    return list(rows.values())


def short_time(iso):
    return (iso or "?")[:16].replace("T", " ") + " UTC" if iso else "unknown time"


# Writing the Markdown -------------------------------------------------------------------------


def inline(text):
    """A test's own words in a table cell: `code` stays code, anything else is shown as text
    (so a case about "<script>" shows the tag rather than adding one to the page)."""
    text = " ".join(str(text).split())
    out, last = [], 0
    for match in CODE_SPAN.finditer(text):
        out.append(escape(text[last:match.start()]))
        code = html.escape(match.group(2), quote=False).replace("|", "&#124;")
        out.append(f"<code>{code}</code>")
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def escape(text):
    text = html.escape(text, quote=False).replace("|", "&#124;")
    # Markdown's own emphasis and link characters, taken literally.
    return re.sub(r"([\\*_\[\]])", r"\\\1", text)


def code(text):
    return "<code>" + html.escape(text, quote=False).replace("|", "&#124;") + "</code>"


def result_cell(tests):
    counts = Counter(result for _, result, _ in tests)
    if len(counts) == 1:
        result = next(iter(counts))
        reasons = sorted({reason for _, _, reason in tests if reason})
        text = f"**{result}**" if result.startswith("failed") else result
        return text + (": " + escape("; ".join(reasons)) if reasons else "")
    return ", ".join(f"{n} {result}" for result, n in counts.most_common())


def table(rows):
    lines = ["| what is tried | the answer the contract gives | result | test |",
             "| --- | --- | --- | --- |"]
    for row in rows:
        tests = "<br>".join(code(nodeid) for nodeid, _, _ in row["tests"])
        lines.append(f"| {inline(row['case'])} | {inline(row['answer'])} | "
                     f"{result_cell(row['tests'])} | {tests} |")
    return "\n".join(lines)


def folders(root):
    """The lesson folders in lesson order, then the repository-wide tests/ folder."""
    lessons = sorted((p for p in Path(root).glob("gs[0-9]*_*") if (p / "manage.py").is_file()),
                     key=lambda p: int(FOLDER.match(p.name).group(1)))
    root_tests = Path(root) / "tests"
    return [(p, p / "tests") for p in lessons] + [(root_tests, root_tests)]


def tally(rows):
    counts = Counter()
    for row in rows:
        for _, result, _ in row["tests"]:
            counts[result.split(" in an earlier run")[0]] += 1
    return counts


def render(root, results_dir, docs_dir=None, page_dir=""):
    """The Markdown that replaces the marker: a summary, then a section per folder."""
    sections, summary = [], []
    for folder, tests in folders(root):
        static = static_cases(folder, tests)
        results = load_results(Path(results_dir) / f"{folder.name}.json")
        rows = rows_for(folder, static, results)
        if not rows and folder.name == "tests":
            continue
        counts = tally(rows)
        summary.append(f"| [`{folder.name}/`](#{anchor(folder.name)}) | {len(rows)} | "
                       + " | ".join(str(counts[k]) for k in ("passed", "failed", "skipped",
                                                               NOT_RUN)) + " |")
        sections.append(section(folder, rows, results, docs_dir, page_dir))
    head = ["| folder | cases | tests passed | failed | skipped | not run yet |",
            "| --- | --- | --- | --- | --- | --- |"]
    return "\n".join(head + summary) + "\n\n" + "\n\n".join(sections) + "\n"


def anchor(name):
    return re.sub(r"[^\w-]", "", name.lower())


def section(folder, rows, results, docs_dir, page_dir):
    lines = [f"### {folder.name}/ {{#{anchor(folder.name)}}}", ""]
    match = FOLDER.match(folder.name)
    if match and docs_dir and (Path(docs_dir) / "lessons" / f"gs{match.group(1)}.md").is_file():
        up = "../" * page_dir.count("/")
        lines += [f"The lesson's page: [gs{match.group(1)}]({up}lessons/gs{match.group(1)}.md).",
                  ""]
    if results:
        kind = "the whole suite" if results.get("complete") else "part of the suite"
        lines.append(f"Results of the last pytest run in `{folder.name}/`, "
                     f"{short_time(results.get('run'))} ({kind}).")
    else:
        lines.append(f"No results yet: the cases below were read from the test files. "
                     f"`make test` (or `pytest` in `{folder.name}/`) fills in the results.")
    lines.append("")
    lines.append(table(rows) if rows else f"No test in `{folder.name}/` is marked hostile yet.")
    return "\n".join(lines)


# The hook -------------------------------------------------------------------------------------


def on_page_markdown(markdown, page, config, files, **kwargs):
    if MARKER not in markdown:
        return markdown
    root = Path(config.docs_dir).resolve().parent
    page_dir = page.file.src_uri.rsplit("/", 1)[0] + "/" if "/" in page.file.src_uri else ""
    generated = render(root, root / "build" / "hostile", config.docs_dir, page_dir)
    return markdown.replace(MARKER, generated)


def on_serve(server, config, builder, **kwargs):
    # `make docs` rebuilds the page when a test run writes new results.
    results = Path(config.docs_dir).resolve().parent / "build" / "hostile"
    if results.is_dir():
        server.watch(str(results))
    return server
