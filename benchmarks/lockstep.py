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

import numpy as np

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"
# (x_dim, steps): d = 1 + x_dim + x_dim (x_dim - 1) / 2 design columns.
POINTS = {22: (6, 1000), 56: (10, 200), 172: (18, 32)}
R = 1000


def _measure(d: int, repeats: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from _timing import best_of
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
    out: dict[str, float] = {"obs": float(steps * R)}
    out["reference"] = best_of(lambda: sherman_morrison_lockstep(x, y), repeats)

    def rows() -> BayesianLinearRegression:
        model = BayesianLinearRegression(groups=fm, n_replicates=R)
        for t in range(steps):
            model.predict_one(x[t])
            model.learn_one(x[t], y[t])
        return model

    out["rows"] = best_of(rows, repeats)
    model = BayesianLinearRegression(groups=fm, n_replicates=R)
    if hasattr(model, "predict_learn_many"):
        xr, yr = np.moveaxis(x, 0, -2), np.moveaxis(y, 0, -1)

        def blocked() -> BayesianLinearRegression:
            fresh = model.clone()
            fresh.predict_learn_many(xr, yr)
            return fresh

        blocked()  # compile the numba kernel outside the timing
        out["block"] = best_of(blocked, repeats)
        model = blocked()
    else:
        model = rows()
    out["env"] = best_of(
        lambda: [fm.transform(np.moveaxis(b.x, -2, 0)) for b in env.blocks()], repeats
    )
    agent = Agent("bayes", BayesianLinearRegression(groups=fm, n_replicates=R))
    out["runner"] = best_of(
        lambda: run_prequential(env, [agent], checkpoints=np.array([steps])), repeats
    )
    ref_mean, ref_cov = posterior_from_rows(x, y)
    out["mean_err"] = float(np.abs(model.mean - ref_mean).max())
    out["cov_err"] = float(np.abs(model.covariance - ref_cov).max())
    _, sm_mean, sm_cov = sherman_morrison_lockstep(x, y)
    out["reference_err"] = float(max(np.abs(sm_mean - ref_mean).max(), np.abs(sm_cov - ref_cov).max()))
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
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.child, args.repeats)))
        return
    sys.path.insert(0, str(HERE))
    from _timing import machine_note

    try:
        import numba  # noqa: F401

        versions = [("today", args.today, False), ("numpy", OURS, False), ("numba", OURS, True)]
    except ImportError:
        versions = [("today", args.today, False), ("numpy", OURS, False)]
    print(f"# lockstep predict-then-learn, R={R}; {machine_note()}")
    print("rates in replicate-observations/s (k = 1e3); x ref = rate / reference in the same process")
    header = "d    code    reference  rows           block          runner         runner/block  mean_err  cov_err"
    print(header)
    for d in args.dims:
        today_rows = None
        for name, src, numba in versions:
            r = _child(src, d, args.repeats, numba)
            rate = {k: r["obs"] / r[k] for k in ("reference", "rows", "block", "runner") if k in r}

            def cell(key: str, rate: dict[str, float] = rate) -> str:
                if key not in rate:
                    return "-".ljust(14)
                return f"{rate[key] / 1e3:6.0f}k {rate[key] / rate['reference']:4.2f}x".ljust(14)

            if name == "today":
                today_rows = rate["rows"] / rate["reference"]
            best = rate.get("block", rate["rows"])
            extra = f"  ({best / rate['reference'] / today_rows:.2f}x today)" if today_rows else ""
            over = r["runner"] / r["block"] if "block" in r else r["runner"] / r["rows"]
            own = (r["runner"] - r["env"]) / (r["block"] if "block" in r else r["rows"])
            print(
                f"{d:<4d} {name:<7s} {rate['reference'] / 1e3:6.0f}k    {cell('rows')} "
                f"{cell('block')} {cell('runner')} {over:4.2f} ({own:4.2f} w/o env)"
                f"  {r['mean_err']:.1e}   {r['cov_err']:.1e}{extra}"
            )
        print(f"     (reference loop vs float64 solve: {r['reference_err']:.1e})")


if __name__ == "__main__":
    main()
