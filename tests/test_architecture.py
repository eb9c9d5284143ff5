"""The package's structure (ARCHITECTURE.md): layers, no import cycles, no module too long.

Every ``import`` and ``from ... import`` in a module counts, wherever it is: at the top, inside a
function or under ``if TYPE_CHECKING:``. The checks are plain functions so that the planted-bug
tests at the end can show each of them failing on a small package written to ``tmp_path``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import regretlab
import regretlab.experiments as experiments

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "regretlab"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
MAX_LINES = 400

# The folder holding the regretlab that the tests import, for Python subprocesses.
SRC = str(Path(regretlab.__file__).resolve().parent.parent)

Graph = dict[str, set[str]]


# -- reading the package -----------------------------------------------------------------------
def find_modules(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is a package __init__)}`` for every ``.py`` file of the package."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _known(name: str, modules: Mapping[str, object]) -> str | None:
    """``name`` or its longest prefix that is a module of the package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, object]
) -> set[str]:
    """The package's modules that one import statement in ``module`` runs.

    ``from P import x`` names ``P.x`` when that is a module, else ``P`` (its ``__init__``).
    Importing ``P.x`` also runs the ``__init__`` of every package above it; those count too,
    except the packages that contain ``module`` (they are already being imported when it runs).
    See ARCHITECTURE.md, "The rule".
    """
    named: list[tuple[str, bool]] = []  # (module, named by the statement rather than a parent)
    if isinstance(node, ast.Import):
        named = [(alias.name, True) for alias in node.names]
    else:
        source = node.module or ""
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, *([source] if source else [])])
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            named += (
                [(submodule, True), (source, False)] if submodule in modules else [(source, True)]
            )
    containing = {*_parents(module), *([module] if is_package else [])}
    out = set()
    for name, explicit in named:
        target = _known(name, modules)
        if target is None:
            continue
        runs = [*_parents(target), *([] if explicit else [target])]
        out |= {p for p in runs if p not in containing}
        if explicit:
            out.add(target)
    out.discard(module)
    return out


def import_graph(package_dir: Path) -> Graph:
    """``{module: modules it imports}`` over the package's own modules."""
    modules = find_modules(package_dir)
    graph: Graph = {}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name] |= imported(node, name, is_package, modules)
    return graph


def read_layers(text: str) -> list[list[str]]:
    """The fenced ``layers`` block of ARCHITECTURE.md: one layer per line, top first."""
    match = re.search(r"^```layers\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    if match is None:
        raise AssertionError("ARCHITECTURE.md has no ```layers block")
    lines = (line.split("#")[0].split() for line in match.group(1).splitlines())
    return [line for line in lines if line]


# -- the checks --------------------------------------------------------------------------------
def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per strongly connected set of modules that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan (1972); the graph is small enough to recurse.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: Graph, component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside it."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {component}")  # pragma: no cover - Tarjan found one


def layer_of(module: str, layers: list[list[str]]) -> tuple[int, str] | None:
    """The layer (index from the top, entry) of ``module``; ``__init__`` is the root package."""
    relative = module.partition(".")[2] or "__init__"
    hits = [
        (i, entry)
        for i, layer in enumerate(layers)
        for entry in layer
        if relative == entry or relative.startswith(entry + ".")
    ]
    if len(hits) > 1:
        raise AssertionError(f"{module} is in more than one layer: {hits}")
    return hits[0] if hits else None


def unplaced(modules: Iterable[str], layers: list[list[str]]) -> list[str]:
    return sorted(m for m in modules if layer_of(m, layers) is None)


def upward_imports(graph: Graph, layers: list[list[str]]) -> list[str]:
    """Every import of a module in a higher layer than the importer's."""
    out = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module, layers)
        for target in sorted(targets):
            there = layer_of(target, layers)
            if here is not None and there is not None and there[0] < here[0]:
                out.append(f"{module} (layer {here[1]}) imports {target} (layer {there[1]})")
    return out


def long_modules(package_dir: Path, limit: int = MAX_LINES) -> list[str]:
    out = []
    for name, (path, _) in find_modules(package_dir).items():
        n_lines = len(path.read_text(encoding="utf-8").splitlines())
        if n_lines > limit:
            out.append(f"{name}: {n_lines} lines")
    return out


# -- regretlab ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(PACKAGE)


@pytest.fixture(scope="module")
def layers() -> list[list[str]]:
    return read_layers(ARCHITECTURE.read_text(encoding="utf-8"))


def test_every_module_has_one_layer_and_every_layer_entry_exists(graph, layers):
    assert unplaced(graph, layers) == [], "add these modules to ARCHITECTURE.md's layers"
    entries = [entry for layer in layers for entry in layer]
    assert len(entries) == len(set(entries))
    missing = [e for e in entries if not any(layer_of(m, [[e]]) for m in graph)]
    assert missing == [], "ARCHITECTURE.md lists layers that do not exist"


def test_no_import_cycles(graph):
    cycles = find_cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_from_a_higher_layer(graph, layers):
    found = upward_imports(graph, layers)
    assert found == [], "imports from a higher layer:\n" + "\n".join(found)


def test_no_module_is_too_long():
    assert long_modules(PACKAGE) == [], f"split modules longer than {MAX_LINES} lines"


def test_experiments_package_loads_no_numpy():
    # A spawned pool worker imports the package to unpickle pin_blas_threads, which must run
    # before numpy loads a BLAS library.
    code = (
        "import sys, regretlab.experiments.executors; "
        "sys.exit('numpy' in sys.modules or 'regretlab.experiments.sweep' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def test_experiments_package_exports_resolve():
    for name in experiments.__all__:
        assert getattr(experiments, name) is not None, name
    assert set(experiments.__all__) <= set(dir(experiments))


# -- the checks catch planted bugs ---------------------------------------------------------------
LAYERS = [["top"], ["middle"], ["low"], ["__init__"]]


def _package(tmp_path: Path, files: Mapping[str, str]) -> Path:
    """A package ``pkg`` in ``tmp_path`` with a package ``top``, ``middle`` and ``low`` each."""
    root = tmp_path / "pkg"
    base = {"__init__.py": "", "top/__init__.py": "", "middle/__init__.py": ""}
    base |= {"low/__init__.py": "", "low/a.py": "", "low/b.py": ""}
    for name, text in {**base, **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_clean_package_passes(tmp_path):
    root = _package(
        tmp_path,
        {
            "top/run.py": "import pkg.middle.m\nfrom ..low import a\n",
            "middle/m.py": "from pkg.low.a import x\nfrom . import n\n",
            "middle/n.py": "",
            "low/__init__.py": "from pkg.low.a import x\nfrom pkg.low import b\n",
            "low/a.py": "from pkg.low import b\nx = 1\n",
        },
    )
    graph = import_graph(root)
    assert graph["pkg.top.run"] == {"pkg.middle", "pkg.middle.m", "pkg.low", "pkg.low.a"}
    assert graph["pkg.low.a"] == {"pkg.low.b"}
    assert find_cycles(graph) == []
    assert upward_imports(graph, LAYERS) == []
    assert unplaced(graph, LAYERS) == []


def test_a_planted_upward_import_inside_a_function_is_caught(tmp_path):
    root = _package(tmp_path, {"low/a.py": "def f():\n    from pkg.middle import m\n"})
    (root / "middle" / "m.py").write_text("")
    assert upward_imports(import_graph(root), LAYERS) == [
        "pkg.low.a (layer low) imports pkg.middle (layer middle)",
        "pkg.low.a (layer low) imports pkg.middle.m (layer middle)",
    ]


def test_a_planted_cycle_under_type_checking_is_caught(tmp_path):
    root = _package(
        tmp_path,
        {
            "low/a.py": "from pkg.low.b import y\nx = 1\n",
            "low/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .a import x\ny = 2\n",
        },
    )
    assert find_cycles(import_graph(root)) == [["pkg.low.a", "pkg.low.b", "pkg.low.a"]]


def test_a_submodule_importing_from_its_own_package_init_is_a_cycle(tmp_path):
    root = _package(
        tmp_path, {"low/__init__.py": "from .a import x\n", "low/b.py": "from pkg.low import x\n"}
    )
    root.joinpath("low/a.py").write_text("from pkg.low import b\nx = 1\n")
    assert find_cycles(import_graph(root)) == [["pkg.low", "pkg.low.a", "pkg.low.b", "pkg.low"]]


def test_a_cycle_through_another_package_init_is_caught(tmp_path):
    # middle.m imports low.a, which runs low's __init__, which imports middle.m back.
    root = _package(
        tmp_path,
        {"middle/m.py": "from pkg.low.a import x\n", "low/__init__.py": "import pkg.middle.m\n"},
    )
    root.joinpath("low/a.py").write_text("x = 1\n")
    graph = import_graph(root)
    assert ["pkg.low", "pkg.middle.m", "pkg.low"] in find_cycles(graph)
    assert "pkg.low (layer low) imports pkg.middle.m (layer middle)" in upward_imports(
        graph, LAYERS
    )


def test_a_planted_long_module_and_an_unplaced_module_are_caught(tmp_path):
    root = _package(tmp_path, {"low/a.py": "x = 1\n" * 401, "stray.py": ""})
    assert long_modules(root) == ["pkg.low.a: 401 lines"]
    assert unplaced(import_graph(root), LAYERS) == ["pkg.stray"]


def test_layers_are_read_from_a_fenced_block():
    text = "intro\n```layers\ncli __main__  # the top\n\nlow\n```\n```text\nnot this\n```\n"
    assert read_layers(text) == [["cli", "__main__"], ["low"]]
