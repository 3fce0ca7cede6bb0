"""The docs work with no network, as in a classroom: diagrams render, nothing is fetched.

Material for MkDocs fetches mermaid from a CDN unless the page already defines `mermaid`, and
requests Google Fonts unless `theme.font` is false. The site serves its own pinned copy of
mermaid (docs/javascripts/VENDORED.txt says which, from where, and its checksum).
"""

import functools
import hashlib
import http.server
import json
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from support import DOCS, PYTHON

from testkit.catalog import ROOT

VENDORED = DOCS / "javascripts" / "VENDORED.txt"
MERMAID_FENCE = re.compile(r"^(?P<indent> *)```mermaid\n(?P<body>.*?)^(?P=indent)```$",
                           re.M | re.S)


def vendored():
    return dict(re.findall(r"^([\w-]+): (.+)$", VENDORED.read_text(), re.M))


def test_the_vendored_mermaid_is_the_pinned_one():
    record = vendored()
    script = DOCS / "javascripts" / record["file"]
    assert record["file"] == f"mermaid-{record['version']}.min.js"
    assert hashlib.sha256(script.read_bytes()).hexdigest() == record["sha256"]
    # mkdocs.yml loads exactly that file, and turns the web font off.
    config = (ROOT / "mkdocs.yml").read_text()
    assert f"  - javascripts/{record['file']}\n" in config
    assert re.search(r"^theme:\n(  .*\n)*?  font: false\n", config, re.M)


def diagrams():
    """Every mermaid diagram written on the site's pages."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for fence in MERMAID_FENCE.finditer(page.read_text()):
            lines = fence["body"].splitlines()
            found.append("\n".join(line[len(fence["indent"]):] for line in lines))
    return found


@pytest.fixture(scope="module")
def offline_site():
    """The site's real configuration (theme, extra_javascript, extensions) built around one page
    holding every diagram of the docs, served from 127.0.0.1. One page of our own, so that a
    page mid-edit elsewhere does not break this test (tests/test_docs.py builds them all)."""
    with tempfile.TemporaryDirectory(prefix="docs-offline-") as tmp:
        tmp = Path(tmp)
        docs = tmp / "docs"
        (docs / "javascripts").mkdir(parents=True)
        for file in (DOCS / "javascripts").iterdir():
            (docs / "javascripts" / file.name).write_bytes(file.read_bytes())
        blocks = diagrams()
        page = "# Diagrams\n\n" + "".join(f"```mermaid\n{b}\n```\n\n" for b in blocks)
        (docs / "index.md").write_text(page)
        (tmp / "mkdocs.yml").write_text(
            f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: docs\nhooks: []\nnav:\n"
            "  - Diagrams: index.md\nexclude_docs: ''\nvalidation: {omitted_files: ignore}\n")
        build = subprocess.run(
            [str(Path(PYTHON).parent / "mkdocs"), "build", "-q", "-f", str(tmp / "mkdocs.yml"),
             "-d", str(tmp / "site")],
            cwd=ROOT, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=120,
        )
        assert build.returncode == 0, build.stderr
        handler = functools.partial(Quiet, directory=str(tmp / "site"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/", len(blocks)
        finally:
            server.shutdown()
            server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def offline_browser():
    """Headless Chromium as testkit's `browser`, with every name but 127.0.0.1 unresolvable,
    the known CDNs blocked, and the network log kept, so every request can be checked."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from testkit import plugin, services

    plugin.require("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = services.CHROMIUM
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(services.CHROMEDRIVER), options=options)
        try:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [
                "*unpkg.com*", "*jsdelivr.net*", "*fonts.googleapis.com*", "*fonts.gstatic.com*"]})
            yield driver
        finally:
            driver.quit()


def requested_urls(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def svgs_in_shadow_roots(node):
    """Material draws each diagram into a closed shadow root; CDP can still look inside."""
    count = 0
    for root in node.get("shadowRoots", []):
        count += json.dumps(root).count('"nodeName": "svg"')
    return count + sum(svgs_in_shadow_roots(child) for child in node.get("children", []))


def test_diagrams_render_and_nothing_leaves_the_machine(offline_site, offline_browser):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    url, expected = offline_site
    assert expected >= 5  # the docs are full of diagrams; none found means the finder broke
    driver = offline_browser
    driver.get_log("performance")  # forget the browser's own start-up page
    driver.get(url)
    # Each diagram's <pre class="mermaid"> is replaced by a <div> once mermaid has drawn it; a
    # diagram mermaid cannot parse stays a <pre>, and the console says why.
    try:
        WebDriverWait(driver, 15).until(lambda d: d.execute_script(
            "return document.querySelectorAll('div.mermaid').length") == expected)
    except TimeoutException:
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        pytest.fail(f"not every diagram rendered: {errors}")
    tree = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1, "pierce": True})
    assert svgs_in_shadow_roots(tree["root"]) == expected
    urls = requested_urls(driver)
    assert url + "javascripts/" + vendored()["file"] in urls
    assert [u for u in urls if not u.startswith((url, "data:", "blob:"))] == []
