"""Replace the site's own copy of mermaid with another pinned version from the npm registry.

    python tools/vendor_mermaid.py 11.17.2

Runs `npm pack mermaid@VERSION`, checks the tarball against the integrity the registry
publishes, writes docs/javascripts/mermaid-VERSION.min.js (the tarball's dist/mermaid.min.js)
and its licence, and rewrites docs/javascripts/VENDORED.txt. mkdocs.yml's extra_javascript
names the file: change it there too. tests/test_docs_offline.py checks the result.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "javascripts"


def main(version):
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(["npm", "pack", f"mermaid@{version}", "--json"], cwd=tmp,
                                check=True, capture_output=True, text=True)
        info = json.loads(packed.stdout)[0]
        tarball = Path(tmp) / info["filename"]
        algorithm, digest = info["integrity"].split("-", 1)
        actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if actual != digest:
            sys.exit(f"{tarball.name}: {algorithm} differs from the registry's integrity")
        with tarfile.open(tarball) as tar:
            script = tar.extractfile("package/dist/mermaid.min.js").read()
            licence = tar.extractfile("package/LICENSE").read()
    for old in FOLDER.glob("mermaid-*.min.js"):
        old.unlink()
    (FOLDER / f"mermaid-{version}.min.js").write_bytes(script)
    (FOLDER / "mermaid-LICENSE.txt").write_bytes(licence)
    record = FOLDER / "VENDORED.txt"
    text = record.read_text()
    for key, value in (("file", f"mermaid-{version}.min.js"), ("version", version),
                       ("registry", f"npm (npm pack mermaid@{version}, file "
                                    "package/dist/mermaid.min.js)"),
                       ("tarball-sha512", info["integrity"]),
                       ("sha256", hashlib.sha256(script).hexdigest())):
        text = re.sub(rf"^{key}: .*$", f"{key}: {value}", text, count=1, flags=re.M)
    record.write_text(text)
    print(f"mermaid {version}: update extra_javascript in mkdocs.yml if the name changed")


if __name__ == "__main__":
    main(sys.argv[1])
