"""The README's Python example runs as written (on a shorter horizon)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

README = Path(__file__).parents[1] / "README.md"


def test_the_readme_example_runs():
    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "README.md should show a Python example"
    for code in blocks:
        namespace: dict = {}
        exec(compile(code.replace("horizon=3000", "horizon=200"), str(README), "exec"), namespace)
        if "result" in namespace:
            regret = namespace["result"].regret
            assert set(regret.agent) == {"main effects", "full model", "escalation"}
