"""The README's Python example runs as written (on a shorter horizon)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

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


def _shell_commands() -> list[tuple[str, str]]:
    """The README's ``regretlab`` commands in order, with their comments; placeholders
    (EXPERIMENT.toml, DIR, HOST, mypkg) are examples to adapt, not commands to run."""
    text = README.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("#")
            command = command.split("&&")[-1].strip()
            if not command.startswith("regretlab ") or re.search(r"[A-Z]{3,}|mypkg", command):
                continue
            out.append((command, comment.strip()))
    return out


@pytest.mark.slow
def test_the_readme_commands_run_in_order_doing_what_their_comments_say(tmp_path):
    """A fresh folder, the README's commands as written, in order (sizes made small)."""
    import subprocess
    import sys

    import pandas as pd

    from regretlab.experiments.storage import load_sweep

    commands = _shell_commands()
    assert [c.split()[1] for c, _ in commands] == ["demo", "example", "run", "run", "report"]
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    outputs = {}
    for command, _ in commands:
        args = command.split()[1:]
        target = None
        if ">" in args:
            args, target = args[: args.index(">")], args[args.index(">") + 1]
        if args[0] == "demo":
            args += ["--replicates", "2", "--no-progress"]  # small, to a fresh ./regretlab-out
        if args[0] == "run":
            args += ["--no-progress"]
        done = subprocess.run(
            [sys.executable, "-m", "regretlab", *args],
            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
        if target is not None:
            text = done.stdout.replace("horizon = 1000", "horizon = 100")
            text = text.replace("replicates = 20", "replicates = 4")
            (tmp_path / target).write_text(text.replace("chunk_size = 10", "chunk_size = 2"))
        outputs[command] = done
    # The comments' promises.
    assert (tmp_path / "regretlab-out" / "summary.md").exists()  # demo: ./regretlab-out
    runs = [c for c, _ in commands if c.startswith("regretlab run")]
    pool, dask = (outputs[c] for c in runs)
    assert "on process pool" in pool.stderr  # "process pool by default"
    assert "on dask LocalCluster, 2 workers" in dask.stderr
    assert "4 tasks run, 0 already done" in dask.stdout  # its own folder: it runs, not resumes
    first, second = (load_sweep(tmp_path / c.split("--out ")[1].split()[0]) for c in runs)
    pd.testing.assert_frame_equal(first.regret, second.regret, check_exact=True)  # same rows
    assert (tmp_path / "runs" / "bandit" / "report.md").exists()  # report: report.md
    assert any(p.suffix == ".png" for p in (tmp_path / "runs" / "bandit" / "report").iterdir())
