"""The house rules, checked from the source: no import cycles, no private reaches, no imports
hidden inside functions, one validator per option, docs whose links resolve, a README that is a
front door. The numbers behind them: tools/structure.py and tools/doclinks.py."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


structure = _tool("structure")
doclinks = _tool("doclinks")
MODULES = structure.read_modules(REPO / "core")


def test_the_engine_has_no_import_cycle():
    assert structure.cycles(MODULES) == []


def test_no_engine_module_takes_another_ones_private_names():
    assert {name: m.private for name, m in MODULES.items() if m.private} == {}


def test_the_only_package_import_inside_a_function_is_the_bench_hand_over():
    # `cleancut bench` is a developer tool outside the product's layers: the CLI hands it over
    # without importing it for every other command. Anything else belongs at the top.
    assert {name: sorted(m.local) for name, m in MODULES.items() if m.local} == {"cli": ["benchmarks.command"]}


def test_onnxruntime_is_imported_by_segment_alone_and_doctor_checks_it():
    importers = {name for name, m in MODULES.items()
                 if any(t.split(".")[0] == "onnxruntime" for t in m.local_third_party)}
    assert importers <= {"segment", "doctor"}
    top = {name for name, m in MODULES.items() if "onnxruntime" in _top_level_imports(m.path)}
    assert top <= {"benchmarks.speed"}  # the developer benchmark, never imported by a product command


def test_scipy_is_loaded_by_closed_form_alone_at_its_first_solve():
    importers = {name for name, m in MODULES.items() if any(t.split(".")[0] == "scipy" for t in m.local_third_party)}
    top = {name for name, m in MODULES.items() if "scipy" in _top_level_imports(m.path)}
    assert importers == {"closedform"}
    assert all(name.startswith("benchmarks") for name in top), top  # the developer benchmark's scoring


def test_a_command_starts_without_loading_scipy():
    # scipy costs 0.4 s of start-up; only `--refine best` needs it (closedform.py)
    loaded = subprocess.run([sys.executable, "-c", "import sys, cleancut.launch; print('scipy' in sys.modules)"],
                            check=True, capture_output=True, text=True).stdout
    assert loaded == "False\n"


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_a_cycle_hidden_inside_a_function_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def late():\n    from . import a\n")
    assert structure.cycles(structure.read_modules(package)) == [["a", "b"]]


def test_a_private_name_taken_from_another_module_is_found(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("def _hidden():\n    pass\n")
    (package / "b.py").write_text("from . import a\n\na._hidden()\n")
    assert structure.read_modules(package)["b"].private == ["a._hidden"]


@pytest.mark.parametrize("module", ["cli", "worker", "catalog", "bench"])
def test_no_module_but_options_spells_out_the_refine_modes(module):
    path = {"bench": REPO / "core" / "benchmarks" / "command.py"}.get(module, REPO / "core" / f"{module}.py")
    strings = {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not {"off", "fast", "best"} <= strings and not any("off,fast,best" in s for s in strings)


def test_every_relative_link_in_the_docs_resolves():
    assert [problem for page in doclinks.markdown_files() for problem in doclinks.broken_links(page)] == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n[there](b.md) [here](#title) [gone](#nothing)\n")
    assert doclinks.broken_links(tmp_path / "a.md", tmp_path) == [
        "a.md: b.md: no such file", "a.md: #nothing: no heading makes #nothing"]


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 15_000
    assert "./dev.sh demo" in readme and "./dev.sh test" in readme
    assert "docs/README.md" in readme or "(docs/" in readme
