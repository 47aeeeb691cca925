#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken relative links in the project's Markdown: a missing file, or a #anchor its target lacks.

    python tools/doclinks.py        # prints each broken link; exit status 1 if there is one

Anchors are GitHub's: a heading lower-cased, punctuation dropped, spaces made hyphens, repeats
numbered. Links inside code (fenced blocks, `inline`) are not links. tests/test_docs.py runs
this over the repository, so a page moved or a heading renamed cannot leave a dead link behind.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP = {".git", ".venv", "node_modules", "build", "dist", "out"}
_LINK = re.compile(r"!?\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")


def markdown_files(root: Path = REPO) -> list[Path]:
    """The Markdown files of the project (not of its virtual environment or build output)."""
    return sorted(p for p in root.rglob("*.md") if not SKIP & set(p.relative_to(root).parts))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", heading.strip().lower())
    kept = (ch for ch in text if ch.isalnum() or ch in "-_ " or unicodedata.category(ch)[0] in "LNM")
    return "".join(kept).replace(" ", "-")


def _unfenced(path: Path) -> list[str]:
    """The lines of a page outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """Every anchor a page's headings make."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _unfenced(path):  # a heading's `code` keeps its text in the anchor
        match = _HEADING.match(line)
        if match:
            name = slug(match.group(2))
            count = seen.get(name, 0)
            found.add(name if count == 0 else f"{name}-{count}")
            seen[name] = count + 1
    return found


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """Each relative link of ``path`` that leads nowhere, as "FILE: why"."""
    problems = []
    prose = (re.sub(r"`[^`]*`", "", line) for line in _unfenced(path))  # no links inside code
    for match in _LINK.finditer("\n".join(prose)):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, mailto: ...: not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = path.relative_to(root)
        if not dest.exists():
            problems.append(f"{where}: {target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            problems.append(f"{where}: {target}: no heading makes #{anchor}")
    return problems


def main() -> int:
    problems = [problem for page in markdown_files() for problem in broken_links(page)]
    print("\n".join(problems) if problems else f"all relative links resolve ({len(markdown_files())} pages)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
