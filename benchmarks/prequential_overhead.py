"""``run_prequential``'s own cost over the learner alone (issue 19: at most 15% at R = 1000).

For ``BayesianLinearRegression`` on ``InteractionStream``, R = 1000, x_dim 6 and 10 (d = 22 and
56), one process per code version and kernel (numpy: ``REGRETLAB_NUMBA=0``; numba where
installed) times, interleaved in every round, best of the rounds, CPU time of the process:

- ``learner``: the learner alone, ``predict_learn_many`` over all steps in one call, fed
  pre-generated designs; the faster of two layouts: a strided ``(R, T, d)`` view of
  ``(T, R, d)`` designs (what ``benchmarks/lockstep.py`` feeds) and contiguous ``(R, T, d)``
  designs (each replicate's rows contiguous, which the numba kernel reads faster);
- ``env``: the stream's draws (``blocks()`` at its default 4096 steps, one block here) and the
  designs, the faster of two ways: fresh time-first designs of 8 MiB segments (what
  ``benchmarks/lockstep.py`` subtracts) and replicate-first designs written into one reused
  buffer (what the runner does now);
- ``runner``: ``run_prequential`` end to end, one checkpoint at the end.

``own = (runner - env - learner) / learner`` is the runner's own cost: the bar. Taking the
faster of each pair makes it the strictest reading (the runner is charged for any layout or
buffer choice that the learner or the draws alone could also make). Beside it, the median over
the rounds of each round's own cost (the variants of a round run back to back, so load that
lasts a round weighs on all three alike; the best-of-rounds figures may come from different
moments). Results are checked: the
runner's regret equals the learner-alone tally to 1e-9.

    OPENBLAS_NUM_THREADS=1 python benchmarks/prequential_overhead.py --baseline /tmp/base/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"
POINTS = {22: (6, 600), 56: (10, 150)}  # d: (x_dim, steps), as benchmarks/lockstep.py
R = 1000


def _measure(d: int, repeats: int, steps: int | None, budget: int | None) -> dict[str, Any]:
    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, run_prequential

    x_dim, default_steps = POINTS[d]
    steps = steps or default_steps
    env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
    fm = env.features
    block = next(iter(env.blocks(steps)))
    x = fm.transform(np.moveaxis(block.x, -2, 0))  # (T, R, d)
    y = np.moveaxis(block.y, -1, 0)
    strided, y_strided = np.moveaxis(x, 0, -2), np.moveaxis(y, 0, -1)  # (R, T, d) views
    contiguous, y_contiguous = np.ascontiguousarray(strided), np.ascontiguousarray(y_strided)
    model = BayesianLinearRegression(groups=fm, n_replicates=R)
    agent = Agent("bayes", model)
    checkpoints = np.array([steps])
    options = {} if budget is None else {"block_memory": budget}

    def learner(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return model.clone().predict_learn_many(xs, ys)

    def env_fresh() -> None:
        span = max(1, 8 * 2**20 // (8 * R * fm.n_features))
        for b in env.blocks():
            xt = np.moveaxis(b.x, -2, 0)
            for start in range(0, len(xt), span):
                fm.transform(np.ascontiguousarray(xt[start : start + span]))

    def env_reused() -> None:
        span = 64
        out = np.empty(R * span * fm.n_features)
        for b in env.blocks():
            for start in range(0, b.x.shape[-2], span):
                rows = b.x[:, start : start + span]
                shape = (*rows.shape[:-1], fm.n_features)
                fm.transform(rows, out=out[: np.prod(shape)].reshape(shape))

    variants = {
        "learner_strided": lambda: learner(strided, y_strided),
        "learner_contiguous": lambda: learner(contiguous, y_contiguous),
        "env_fresh": env_fresh,
        "env_reused": env_reused if "out" in fm.transform.__code__.co_varnames else env_fresh,
        "runner": lambda: run_prequential(env, [agent], checkpoints=checkpoints, **options),
    }
    for fn in variants.values():  # compile kernels, import pandas, warm caches
        fn()
    best = dict.fromkeys(variants, np.inf)
    rounds = []
    for _ in range(repeats):
        times = {}
        for key, fn in variants.items():
            start = time.process_time()
            fn()
            times[key] = time.process_time() - start
            best[key] = min(best[key], times[key])
        rounds.append(_own(times))
    # The runner's tally against the learner alone's predictions.
    yhat = learner(contiguous, y_contiguous)
    mean = block.mean
    expected = ((yhat - mean) ** 2).sum(axis=-1)
    table = run_prequential(env, [agent], checkpoints=checkpoints, **options).regret
    err = float(np.abs(table["expected_regret"].to_numpy() - expected).max())
    return {"obs": steps * R, "err": err, "own_median": float(np.median(rounds)), **best}


def _own(times: dict[str, float]) -> float:
    """The runner's own cost over the learner, strict reading (the faster of each pair)."""
    learner = min(times["learner_strided"], times["learner_contiguous"])
    env = min(times["env_fresh"], times["env_reused"])
    return (times["runner"] - env - learner) / learner


def _child(
    src: Path, d: int, repeats: int, numba: bool, steps: int | None, budget: int | None
) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "REGRETLAB_NUMBA": "1" if numba else "0",
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
    }
    cmd = [sys.executable, __file__, "--child", str(d), "--repeats", str(repeats)]
    if steps:
        cmd += ["--steps", str(steps)]
    if budget:
        cmd += ["--block-memory", str(budget)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the src of another checkout to compare")
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=None, help="horizon (default per d)")
    parser.add_argument(
        "--block-memory-mb", type=float, default=None, help="run_prequential's block_memory"
    )
    parser.add_argument("--block-memory", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.repeats, args.steps, args.block_memory)))
        return
    budget = None if args.block_memory_mb is None else int(args.block_memory_mb * 2**20)
    sys.path.insert(0, str(HERE))
    from _timing import machine_note

    try:
        import numba

        kernels = [False, True]
    except ImportError:
        kernels = [False]
    versions = [("this", OURS)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"# run_prequential over the learner alone, R={R}; {machine_note()}")
    print(f"# load average {os.getloadavg()[0]:.1f}; CPU seconds, best of {args.repeats} rounds")
    print(f"# block_memory: {'default (64 MiB)' if budget is None else f'{budget} bytes'}")
    print(
        "| d | code | kernel | learner strided ms | learner contiguous ms | env fresh ms "
        "| env reused ms | runner ms | runner k obs/s | own | own vs lockstep.py's terms "
        "| own, median of rounds | max err |"
    )
    print(
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for d in args.dims:
        for name, src in versions:
            for numba in kernels:
                r = _child(src, d, args.repeats, numba, args.steps, budget)
                own = _own(r)
                old = (r["runner"] - r["env_fresh"] - r["learner_strided"]) / r["learner_strided"]
                ms = {k: f"{1e3 * r[k]:.0f}" for k in r if k not in ("obs", "err", "own_median")}
                print(
                    f"| {d} | {name} | {'numba' if numba else 'numpy'} | "
                    f"{ms['learner_strided']} | {ms['learner_contiguous']} | {ms['env_fresh']} | "
                    f"{ms['env_reused']} | {ms['runner']} | {r['obs'] / r['runner'] / 1e3:.0f} | "
                    f"**{own:+.0%}** | {old:+.0%} | {r['own_median']:+.0%} | {r['err']:.1e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
