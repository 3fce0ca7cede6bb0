"""MkDocs hook: links to lesson pages that do not exist (yet) become plain text.

Concept pages link each idea to the lesson that runs it, e.g. [gs5](../lessons/gs5.md). Lessons
are written over time; until docs/lessons/gs5.md exists, such a link would break the strict
build. This hook turns it into the link's text plus the lesson's folder name, and leaves every
link to an existing page alone, so the concept pages can be written ahead of the lessons.
"""

import re
from pathlib import Path

LINK = re.compile(r"\[(?P<text>[^\]]+)\]\((?:\.\./)*lessons/gs(?P<n>\d+)\.md(?:#[^)]*)?\)")


def unlink_missing(markdown, docs_dir, root):
    def replace(match):
        number = match.group("n")
        if (Path(docs_dir) / "lessons" / f"gs{number}.md").is_file():
            return match.group(0)
        folders = sorted(Path(root).glob(f"gs{number}_*"))
        where = f" (`{folders[0].name}/`)" if folders else ""
        return f"{match.group('text')}{where}"

    return LINK.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files, **kwargs):
    if page.file.src_uri.startswith("lessons/"):
        return markdown
    # The lesson folders sit beside docs/, at the repository root.
    root = Path(config.docs_dir).resolve().parent
    return unlink_missing(markdown, config.docs_dir, root)
