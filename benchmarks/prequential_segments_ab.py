"""This tree's ``run_prequential`` against a baseline tree's loop, paired in one process.

Totals of separate processes (``prequential_overhead.py``) do not resolve a few points on a
shared machine. Here the baseline tree's ``simulate/prequential.py`` and ``simulate/_budget.py``
are loaded as modules of their own beside this tree's (the rest of the package is this tree's:
the kernels, the stream, the designs and the tallies), and both runners, the learner alone (all
steps in one call) and the learner fed each runner's segments (pre-made) run alternately in
every round: CPU time, the median of rounds of the paired differences in ms and in points of
the learner alone, with the rounds' 25th-75th percentiles. ``BayesianLinearRegression``,
``InteractionStream``, R = 1000, one checkpoint; the regret tables of the two runners are
compared (bits, else the largest relative difference). Written to test segments spanning
blocks (issue 19, ninth session: not kept); against an identical baseline it measures the
pairing's own noise.

    OPENBLAS_NUM_THREADS=1 [REGRETLAB_NUMBA=0] PYTHONPATH=src python \\
        benchmarks/prequential_segments_ab.py --baseline /tmp/base_main/src --rounds 21
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

R = 1000
POINTS = {22: (6, 600), 56: (10, 150)}  # d: (x_dim, steps), as prequential_overhead.py


def _load(path: Path, name: str, **replace: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for key, value in replace.items():
        setattr(module, key, value)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the baseline's src")
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()

    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, prequential

    simulate = args.baseline / "regretlab" / "simulate"
    base_budget = _load(simulate / "_budget.py", "_baseline_budget")
    base = _load(simulate / "prequential.py", "_baseline_prequential")
    base.stream_steps = base_budget.stream_steps  # the baseline's split for its loop
    print(
        f"# R = {R}, REGRETLAB_NUMBA={os.environ.get('REGRETLAB_NUMBA', '(unset)')}, "
        f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| d | block / segment, this | baseline | learner ms | this ms | baseline ms "
        "| this - baseline ms [25%, 75%] | points | segments: this - baseline ms | results |"
    )
    print("| ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    for d in args.dims:
        x_dim, steps = POINTS[d]
        env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
        fm = env.features
        model = BayesianLinearRegression(groups=fm, n_replicates=R)
        agent = Agent("bayes", model)
        block = next(iter(env.blocks(steps)))
        x, y = fm.transform(block.x), np.ascontiguousarray(block.y)
        try:  # a split that counts stepping agents' copies apart (segments spanning blocks)
            ours = prequential.stream_steps(
                prequential.DEFAULT_BLOCK_MEMORY, env, [fm], stepping=False
            )
        except TypeError:
            ours = prequential.stream_steps(prequential.DEFAULT_BLOCK_MEMORY, env, [fm])
        theirs = base_budget.stream_steps(base_budget.DEFAULT_BLOCK_MEMORY, env, [fm])

        def fed(span: int, x: np.ndarray = x, y: np.ndarray = y, model: Any = model) -> None:
            alone = model.clone()
            for a in range(0, y.shape[-1], span):
                alone.predict_learn_many(
                    np.ascontiguousarray(x[:, a : a + span]), y[:, a : a + span].copy()
                )

        variants = {
            "learner": lambda x=x, y=y, model=model: model.clone().predict_learn_many(x, y),
            "this": lambda env=env, agent=agent: prequential.run_prequential(
                env, [agent], checkpoints=np.array([env.horizon])
            ),
            "baseline": lambda env=env, agent=agent: base.run_prequential(
                env, [agent], checkpoints=np.array([env.horizon])
            ),
            "fed_this": lambda span=ours[1]: fed(span),
            "fed_baseline": lambda span=theirs[1]: fed(span),
        }
        a = variants["this"]().regret[["expected_regret", "excess_loss"]].to_numpy()  # type: ignore[no-untyped-call]
        b = variants["baseline"]().regret[["expected_regret", "excess_loss"]].to_numpy()  # type: ignore[no-untyped-call]
        same = (
            "identical" if np.array_equal(a, b) else f"rel {np.max(np.abs(a - b) / np.abs(b)):.1e}"
        )
        for fn in variants.values():
            fn()
        times: dict[str, list[float]] = {k: [] for k in variants}
        for i in range(args.rounds):
            order = list(variants) if i % 2 == 0 else list(variants)[::-1]
            for key in order:
                start = time.process_time()
                variants[key]()
                times[key].append(time.process_time() - start)
        t = {k: np.asarray(v) * 1e3 for k, v in times.items()}
        diff = t["this"] - t["baseline"]
        seg = t["fed_this"] - t["fed_baseline"]
        learner = float(np.median(t["learner"]))
        q25, q75 = np.percentile(diff, [25, 75])
        print(
            f"| {d} | {ours[0]} / {ours[1]} | {theirs[0]} / {theirs[1]} | {learner:.0f} "
            f"| {np.median(t['this']):.0f} | {np.median(t['baseline']):.0f} "
            f"| {np.median(diff):+.1f} [{q25:+.1f}, {q75:+.1f}] "
            f"| {np.median(diff) / learner:+.1%} | {np.median(seg):+.1f} | {same} |"
        )


if __name__ == "__main__":
    main()
