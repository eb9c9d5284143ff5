"""Where ``run_prequential``'s time goes (issue 19): its parts timed inside one run.

``BayesianLinearRegression`` on ``InteractionStream``, R = 1000 (d = 22: 600 steps, d = 56: 150
steps, as ``prequential_overhead.py``), one checkpoint at the end. The runner's functions
``_predict_learn_block`` (the learner's calls), ``design`` (the designs), the tallies
(``add_losses``; in code before the eighth session also ``_time_first`` and
``add_losses_numpy``, before the seventh ``_add_losses``), ``_regret_table`` and the stream's
``blocks`` are wrapped to add up their CPU time; "rest" is the run's CPU time outside them.
Best of 7 runs.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/prequential_parts.py --dims 22 56
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

POINTS = {22: (6, 600), 56: (10, 150)}
R = 1000
spent: collections.Counter[str] = collections.Counter()
# The runner's functions wrapped, and the part each one's time is counted in.
PARTS = {
    "design": "design",
    "_predict_learn_block": "_predict_learn_block",
    "_add_losses": "tallies",
    "_time_first": "tallies",
    "add_losses_numpy": "tallies",
    "add_losses": "tallies",
    "_regret_table": "_regret_table",
}


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - start

    return wrapper


def main() -> None:
    import regretlab.simulate.prequential as prequential
    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, run_prequential

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    args = parser.parse_args()
    for name, part in PARTS.items():
        if hasattr(prequential, name):
            setattr(prequential, name, _timed(part, getattr(prequential, name)))
    blocks = InteractionStream.blocks

    def timed_blocks(self: Any, *a: Any, **k: Any) -> Iterator[Any]:
        made = blocks(self, *a, **k)
        while True:
            start = time.process_time()
            block = next(made, None)
            spent["blocks"] += time.process_time() - start
            if block is None:
                return
            yield block

    InteractionStream.blocks = timed_blocks  # type: ignore[method-assign]
    names = ["blocks", *dict.fromkeys(PARTS.values())]
    print("| d | run ms | " + " | ".join(f"{n} ms" for n in names) + " | rest ms |")
    print("| ---: | ---: |" + " ---: |" * (len(names) + 1))
    for d in args.dims:
        x_dim, steps = POINTS[d]
        env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
        agent = Agent("bayes", BayesianLinearRegression(groups=env.features, n_replicates=R))
        checkpoints = np.array([steps])
        run_prequential(env, [agent], checkpoints=checkpoints)  # compile, import, warm
        best: tuple[float, dict[str, float]] | None = None
        for _ in range(7):
            spent.clear()
            start = time.process_time()
            run_prequential(env, [agent], checkpoints=checkpoints)
            total = time.process_time() - start
            if best is None or total < best[0]:
                best = (total, dict(spent))
        assert best is not None
        total, parts = best
        cells = " | ".join(f"{1e3 * parts.get(n, 0.0):.0f}" for n in names)
        rest = total - sum(parts.values())
        print(f"| {d} | {1e3 * total:.0f} | {cells} | {1e3 * rest:.0f} |", flush=True)


if __name__ == "__main__":
    main()
