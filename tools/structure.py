#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's shape, measured from its own source: the numbers of docs/architecture.md.

    python tools/structure.py [--root core] [--trace IMAGE]

Reads every module of the package (core/, imported as ``cleancut``) with ``ast`` and reports:
modules per layer (a module's layer is one more than the highest layer it imports at module
level), import cycles (counting imports inside functions too, since those only hide a cycle),
imports inside functions (of the package's own modules, and of third-party ones), names with a
leading underscore taken from another module, and the largest modules. ``--trace IMAGE`` also
cuts out IMAGE in this process and counts the engine modules a cut-out's call path enters, and
how often it re-enters each (an entry is a call from one engine module into another).

Why a tool and not a test: these are numbers to watch and report, and the house rules they
serve (no cycles, no private reaches) are checked by tests/test_house.py from the same
functions.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "cleancut"
CLIENT = "cleancut_client"  # ships to the editors as one standard-library file: size exempt


@dataclass
class Module:
    """One module's imports, as read from its source."""

    name: str  # dotted, relative to the package: "refine", "hosts.base"
    path: Path
    lines: int
    top: set[str] = field(default_factory=set)  # package modules imported at module level
    local: set[str] = field(default_factory=set)  # package modules imported inside functions
    local_third_party: list[str] = field(default_factory=list)
    private: list[str] = field(default_factory=list)  # "module._name" reached from outside


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    """The package-relative name a ``from ... import`` points at."""
    base = current.split(".") if current != "__init__" else []
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def read_modules(root: Path) -> dict[str, Module]:
    """Every module below ROOT with its package imports, split by where they stand."""
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        name = _module_name(root, path)
        source = path.read_text(encoding="utf-8")
        modules[name] = Module(name, path, source.count("\n"))
    for name, module in modules.items():
        tree = ast.parse(module.path.read_text(encoding="utf-8"))
        is_package = module.path.name == "__init__.py"
        aliases: dict[str, str] = {}
        for node, inside in _imports(tree):
            for target, alias, imported in _targets(node, name, is_package, modules):
                if target is None:
                    if inside:
                        module.local_third_party.append(imported)
                    continue
                if target == name:
                    continue
                (module.local if inside else module.top).add(target)
                if alias:
                    aliases[alias] = target
                if imported.startswith("_") and not imported.startswith("__"):
                    module.private.append(f"{target}.{imported}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                module.private.append(f"{aliases[node.value.id]}.{node.attr}")
    return modules


def _imports(tree: ast.AST):
    """(import node, whether it stands inside a function) for every import in TREE."""
    def visit(node: ast.AST, inside: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, inside
            else:
                yield from visit(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))
    yield from visit(tree, False)


def _targets(node, name: str, is_package: bool, modules: dict[str, Module]):
    """(package module or None, local alias or None, imported name) for one import node."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                target = alias.name[len(PACKAGE) + 1:] or "__init__"
                yield target, alias.asname or alias.name, ""
            else:
                yield None, None, alias.name
        return
    if node.level == 0 and not (node.module or "").startswith(PACKAGE):
        for alias in node.names:
            yield None, None, f"{node.module}.{alias.name}"
        return
    if node.level == 0:
        base = node.module[len(PACKAGE) + 1:] if node.module != PACKAGE else ""
    else:
        base = _resolve(name, is_package, node.level, node.module)
    for alias in node.names:
        submodule = f"{base}.{alias.name}" if base else alias.name
        if submodule in modules:  # `from . import refine`: the module itself
            yield submodule, alias.asname or alias.name, ""
        else:
            yield base or "__init__", None, alias.name


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module, imports inside functions included."""
    graph = {name: sorted((m.top | m.local) & modules.keys()) for name, m in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in graph:
        if node not in index:
            connect(node)
    return found


def layers(modules: dict[str, Module]) -> dict[str, int]:
    """Each module's layer over its module-level imports (a cycle's members share one)."""
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(name: str) -> int:
        if name in layer:
            return layer[name]
        if name in visiting:
            return 0
        visiting.add(name)
        deps = [d for d in modules[name].top if d in modules and d != "__init__"]
        layer[name] = 1 + max((depth(d) for d in deps), default=-1)
        visiting.discard(name)
        return layer[name]

    for name in modules:
        depth(name)
    return layer


def trace(image: Path) -> tuple[list[str], Counter, Counter]:
    """The engine modules a real cut-out of IMAGE enters, in order, and entries per module:
    the pixels' walk, from the one-file sequence's start (read) to its end (written).

    An entry is one distinct call site crossing into the module (caller function -> callee
    function), so a loop over tiles counts once and the number reflects the code's shape.
    """
    from cleancut import cli  # noqa: PLC0415 - the static report must not need the package importable

    prefix = PACKAGE + "."
    order: list[str] = []
    entries: Counter = Counter()
    returns: Counter = Counter()  # entries into a module that is already on the stack
    seen: set[tuple] = set()

    inside = [0]  # depth of the one-file sequence (batch.process before 2026-12-07, cutout.process since)

    def profile(frame, event, _arg):
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "process" and module in (prefix + "batch", prefix + "cutout"):
            inside[0] += 1 if event == "call" else -1 if event == "return" else 0
            if event == "return":
                return
        if event != "call" or not inside[0]:
            return
        caller = frame.f_back.f_globals.get("__name__", "") if frame.f_back else ""
        if module.startswith(prefix) and module != caller and frame.f_code.co_name != "<module>":
            short = module[len(prefix):]
            edge = (frame.f_back.f_code if frame.f_back else None, frame.f_code)
            if edge in seen:
                return
            seen.add(edge)
            entries[short] += 1
            back, left = frame.f_back, False
            while back is not None:  # the module already below on the stack: a round trip
                name = back.f_globals.get("__name__", "")
                if name != module and name.startswith(prefix):  # another engine module between
                    left = True
                elif name == module and left:
                    returns[short] += 1
                    break
                back = back.f_back
            if short not in order:
                order.append(short)

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "cut.png"
        threading.setprofile(profile)
        sys.setprofile(profile)
        try:
            code = cli.main(["remove", str(image), "-o", str(out), "--workers", "1", "--quiet"])
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
        if code != 0:
            raise SystemExit(f"the cut-out failed (exit {code})")
    return order, entries, returns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent / "core")
    parser.add_argument("--trace", type=Path, metavar="IMAGE", help="also trace a real cut-out of IMAGE")
    args = parser.parse_args(argv)
    modules = read_modules(args.root)
    layer = layers(modules)
    by_layer: dict[int, list[str]] = defaultdict(list)
    for name, number in sorted(layer.items()):
        by_layer[number].append(name)
    print(f"modules: {len(modules)}")
    for number in sorted(by_layer):
        print(f"  layer {number}: {len(by_layer[number])}  {' '.join(by_layer[number])}")
    found = cycles(modules)
    print(f"import cycles: {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))
    local = {n: sorted(m.local) for n, m in modules.items() if m.local}
    print(f"package imports inside functions: {sum(len(v) for v in local.values())}")
    for name, targets in local.items():
        print(f"  {name}: {' '.join(targets)}")
    third = {n: m.local_third_party for n, m in modules.items() if m.local_third_party}
    print(f"third-party imports inside functions: {sum(len(v) for v in third.values())}")
    for name, targets in third.items():
        print(f"  {name}: {' '.join(sorted(set(targets)))}")
    private = {n: sorted(set(m.private)) for n, m in modules.items() if m.private}
    print(f"private names taken from another module: {sum(len(v) for v in private.values())}")
    for name, targets in private.items():
        print(f"  {name}: {' '.join(targets)}")
    sizes = sorted(((m.lines, n) for n, m in modules.items()), reverse=True)
    engine = [(lines, n) for lines, n in sizes if n != CLIENT]
    print(f"largest engine module: {engine[0][1]} ({engine[0][0]} lines); over 400 lines: "
          + (", ".join(f"{n} ({lines})" for lines, n in engine if lines > 400) or "none"))
    if args.trace:
        order, entries, returns = trace(args.trace)
        again = {name: count for name, count in entries.items() if count > 1}
        print(f"a cut-out enters {len(order)} modules: {' > '.join(order)}")
        print("  entries per module: " + ", ".join(f"{n} {c}" for n, c in entries.most_common()))
        print(f"  re-entries: {sum(c - 1 for c in entries.values())} "
              f"(modules entered more than once: {len(again)})")
        print(f"  round trips (entering a module already on the stack): {sum(returns.values())}"
              + "".join(f", {n} {c}" for n, c in returns.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
