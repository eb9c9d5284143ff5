"""Lockstep predict-then-learn throughput (issue 19): replicate-observations per second.

For R = 1000 replicates of ``InteractionStream`` with x_dim 6, 10 and 18 (d = 22, 56 and 172
design columns), one run times, each best of 3:

- ``reference``: the bare numpy Sherman-Morrison loop stepping all replicates at once
  (``reference_loops.sherman_morrison_lockstep``, kept unchanged);
- ``rows``: ``BayesianLinearRegression.predict_one`` then ``learn_one``, one step at a time;
- ``block``: ``predict_learn_many`` over all steps (time-blocked kernel; not in today's code);
- ``runner``: ``run_prequential`` end to end (one checkpoint at the end), and ``env``: drawing
  the same stream and transforming its designs, which ``runner`` includes.

Each code version runs in its own process, which also times the reference loop: today's code
(``--today PATH``, the ``src`` of an unchanged checkout; default /work/main/src), this checkout
with the numpy kernel (``REGRETLAB_NUMBA=0``) and with numba (when installed). Ratios against
the reference are within one process; posteriors are checked against the float64 batch solve.

    OPENBLAS_NUM_THREADS=1 python benchmarks/lockstep.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"
# (x_dim, steps): d = 1 + x_dim + x_dim (x_dim - 1) / 2 design columns.
POINTS = {22: (6, 600), 56: (10, 150), 172: (18, 24)}
R = 1000


def _draw_and_design(env: Any) -> None:
    """The stream's draws and designs as run_prequential makes them (segments of steps whose
    designs take at most 8 MiB, from contiguous copies of the inputs)."""
    fm = env.features
    span = max(1, 8 * 1024 * 1024 // (8 * R * fm.n_features))
    for block in env.blocks():
        x = np.moveaxis(block.x, -2, 0)
        for start in range(0, len(x), span):
            fm.transform(np.ascontiguousarray(x[start : start + span]))


def _frozen_reference() -> None:
    """Make ``regretlab.bench.reference`` (the frozen loops, numpy only) importable from this
    checkout when the code under test is older than it (``--today`` at c84f78b)."""
    import importlib.util

    try:
        import regretlab.bench.reference  # noqa: F401
    except ImportError:
        path = OURS / "regretlab" / "bench" / "reference.py"
        spec = importlib.util.spec_from_file_location("regretlab.bench.reference", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["regretlab.bench.reference"] = module


def _measure(d: int, repeats: int) -> dict[str, float]:
    """Seconds of each variant (best of ``repeats`` rounds, the variants interleaved in every
    round so that a change of load on a shared machine hits them alike) and the errors."""
    sys.path.insert(0, str(HERE))
    import time

    _frozen_reference()
    from reference_loops import posterior_from_rows, sherman_morrison_lockstep
    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, run_prequential

    x_dim, steps = POINTS[d]
    env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
    fm = env.features
    block = next(iter(env.blocks(steps)))
    x = fm.transform(np.moveaxis(block.x, -2, 0))  # (T, R, d)
    y = np.moveaxis(block.y, -1, 0)
    xr, yr = np.moveaxis(x, 0, -2), np.moveaxis(y, 0, -1)  # (R, T, d) views
    model = BayesianLinearRegression(groups=fm, n_replicates=R)
    agent = Agent("bayes", model)
    checkpoints = np.array([steps])

    def rows() -> BayesianLinearRegression:
        fresh = model.clone()
        for t in range(steps):
            fresh.predict_one(x[t])
            fresh.learn_one(x[t], y[t])
        return fresh

    def blocked() -> BayesianLinearRegression:
        fresh = model.clone()
        fresh.predict_learn_many(xr, yr)
        return fresh

    variants = {
        "reference": lambda: sherman_morrison_lockstep(x, y),
        "rows": rows,
        "env": lambda: _draw_and_design(env),
        "runner": lambda: run_prequential(env, [agent], checkpoints=checkpoints),
    }
    if hasattr(model, "predict_learn_many"):
        blocked()  # compile the numba kernel outside the timing
        variants["block"] = blocked
        variants["runner_steps"] = lambda: run_prequential(
            env, [agent], checkpoints=checkpoints, time_blocking=False
        )
    # --cpu (REGRETLAB_BENCH_CPU=1 in the child): the process's CPU time, which a machine
    # shared by many busy processes disturbs less than wall time.
    clock = time.process_time if os.environ.get("REGRETLAB_BENCH_CPU") == "1" else time.perf_counter
    best = dict.fromkeys(variants, np.inf)
    for _ in range(repeats):
        for key, fn in variants.items():
            start = clock()
            fn()
            best[key] = min(best[key], clock() - start)
    out: dict[str, float] = {"obs": float(steps * R), **best}
    learned = blocked() if "block" in variants else rows()
    ref_mean, ref_cov = posterior_from_rows(x, y)
    out["mean_err"] = float(np.abs(learned.mean - ref_mean).max())
    out["cov_err"] = float(np.abs(learned.covariance - ref_cov).max())
    _, sm_mean, sm_cov = sherman_morrison_lockstep(x, y)
    out["reference_err"] = float(
        max(np.abs(sm_mean - ref_mean).max(), np.abs(sm_cov - ref_cov).max())
    )
    return out


def _child(src: Path, d: int, repeats: int, numba: bool) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "REGRETLAB_NUMBA": "1" if numba else "0",
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
    }
    cmd = [sys.executable, __file__, "--child", str(d), "--repeats", str(repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=Path, default=Path("/work/main/src"))
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-today", action="store_true", help="only this checkout's code")
    parser.add_argument("--cpu", action="store_true", help="CPU time of the process, not wall")
    args = parser.parse_args()
    if args.cpu:
        os.environ["REGRETLAB_BENCH_CPU"] = "1"
    if args.child:
        print(json.dumps(_measure(args.child, args.repeats)))
        return
    sys.path.insert(0, str(HERE))
    from _timing import machine_note

    try:
        import numba

        versions = [("today", args.today, False), ("numpy", OURS, False), ("numba", OURS, True)]
    except ImportError:
        versions = [("today", args.today, False), ("numpy", OURS, False)]
    if args.skip_today:
        versions = versions[1:]
    clock = "CPU time" if args.cpu else "wall time"
    print(f"# lockstep predict-then-learn, R={R}; {machine_note()}; {clock}")
    print(
        "rates in replicate-observations/s (k = 1e3), best of the rounds; ratios within one "
        "process: block/ref = predict_learn_many against the reference loop, block/rows = "
        "against predict_one + learn_one (today's code path), runner/block = run_prequential "
        "over the learner alone, own = (runner - env draws and designs - block) / block, "
        "the runner's own loop, on/off = "
        "run_prequential with time_blocking against without"
    )
    print(
        "d    code    ref      rows     block    runner   block/ref block/rows runner/block "
        "own   on/off  mean_err cov_err"
    )
    for d in args.dims:
        for name, src, numba in versions:
            r = _child(src, d, args.repeats, numba)
            k = {key: f"{r['obs'] / r[key] / 1e3:6.0f}k" if key in r else "      -" for key in r}
            if "block" in r:
                ratios = (
                    f"{r['reference'] / r['block']:5.2f}x    {r['rows'] / r['block']:5.2f}x     "
                    f"{r['runner'] / r['block']:5.2f}       "
                    f"{(r['runner'] - r['env'] - r['block']) / r['block']:+4.0%}  "
                    f"{r['runner_steps'] / r['runner']:4.2f}x"
                )
            else:
                ratios = (
                    f"({r['reference'] / r['rows']:4.2f}x rows/ref; runner/rows "
                    f"{r['runner'] / r['rows']:4.2f})".ljust(53)
                )
            print(
                f"{d:<4d} {name:<7s} {k['reference']}  {k['rows']}  {k.get('block', '      -')}  "
                f"{k['runner']}  {ratios}  {r['mean_err']:.1e}  {r['cov_err']:.1e}"
            )
        print(f"     (reference loop against the float64 solve: {r['reference_err']:.1e})")


if __name__ == "__main__":
    main()
