"""The Krita plug-in's modules import one another one way round, at the top of each module.

A module imported inside a function, or a cycle dodged that way, hides the real order in which
Krita loads the plug-in; the graph below is the one the package is built on.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGE = REPO / "krita" / "cleancut_krita"


def own_imports(path: Path) -> tuple[set[str], list[int]]:
    """The package's own modules that ``path`` imports, and the lines where a function imports one."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module] if node.module else [alias.name for alias in node.names])
    nested = [node.lineno for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function) if isinstance(node, ast.ImportFrom) and node.level == 1]
    return found - {"cleancut_client"}, nested


def test_the_modules_import_each_other_one_way_round():
    graph = {path.stem: own_imports(path)[0] for path in sorted(PACKAGE.glob("*.py"))}
    assert graph == {
        "__init__": {"extension"},
        "extension": {"dialog", "gui", "layers", "options", "qt"},
        "dialog": {"gui", "options", "qt"},
        "gui": {"qt"},
        "layers": set(),
        "options": set(),
        "qt": set(),
    }


def test_no_function_imports_a_module_of_the_package():
    assert {path.name: own_imports(path)[1] for path in PACKAGE.glob("*.py")} == {
        path.name: [] for path in PACKAGE.glob("*.py")}
