"""The documentation site: every Python block of ``docs/`` runs, and the site builds strictly.

Each fenced ``python`` block of every page under ``docs/`` is executed on its own, in a fresh
namespace and a temporary working directory, as a reader would paste it: the recipes are written
with small sizes, so what runs here is exactly what the page shows. ``mkdocs build --strict``
then builds the whole site (the API reference from the docstrings included) with warnings as
errors.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list:
    params = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for i, match in enumerate(_BLOCK.finditer(text)):
            line = text.count("\n", 0, match.start(1))
            name = f"{page.relative_to(DOCS).as_posix()}#{i + 1}"
            params.append(pytest.param(page, line, match.group(1), id=name))
    return params


def test_every_page_is_in_the_site():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [p.relative_to(DOCS).as_posix() for p in PAGES]
    missing = [p for p in missing if p not in config and not p.startswith("_")]
    assert not missing, f"pages not in the nav of mkdocs.yml: {missing}"


def test_the_recipes_are_there():
    assert len(_blocks()) >= 15, "the pages should show runnable Python"


@pytest.mark.parametrize(("page", "line", "code"), _blocks())
def test_python_block_runs(page, line, code, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    # Padded so that a traceback names the page's own line numbers.
    compiled = compile("\n" * line + code, str(page), "exec")
    # A real module, as a user's script is: classes defined in a recipe pickle by reference
    # (the generic checks pickle the components they are given).
    module = types.ModuleType("docs_block")
    monkeypatch.setitem(sys.modules, "docs_block", module)
    exec(compiled, module.__dict__)
    plt.close("all")


def test_benchmark_results_are_included():
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    assert '--8<-- "benchmarks/RESULTS.md"' in page


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None
    or importlib.util.find_spec("mkdocstrings_handlers") is None,
    reason="mkdocs and mkdocstrings[python] are not installed (pip install -e '.[docs]')",
)
def test_site_builds_with_warnings_as_errors(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (site / "index.html").exists()
    api = (site / "api" / "learners" / "index.html").read_text(encoding="utf-8")
    assert "BayesianLinearRegression" in api
    benchmarks = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "Benchmark results" in benchmarks
    shutil.rmtree(site)
