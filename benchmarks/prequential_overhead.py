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

Resolving a few points on a shared machine (issue 19, eighth session): ``--passes N`` starts
each code version's child ``N`` times, the versions alternating (this, baseline, this, ...), so
that load that lasts minutes weighs on both; every round's own cost is pooled per version and
reported as the median with a 95% bootstrap interval (two stages: the passes resampled, then
the rounds within each, since rounds of one pass share its moment's load), and with
``--baseline`` the difference of the two medians with its interval. ``--split`` also times, in
every round, the learner fed the runner's segments (pre-made) and the stream read in the
runner's blocks with designs made per segment: the own cost splits into ``segments`` (the
learner's extra calls), ``blocks`` (the draws and designs in the runner's sizes) and ``rest``
(everything else the runner does), each a median of rounds with its interval.

    OPENBLAS_NUM_THREADS=1 python benchmarks/prequential_overhead.py --baseline /tmp/base/src
    OPENBLAS_NUM_THREADS=1 python benchmarks/prequential_overhead.py --baseline /tmp/base/src \
        --repeats 7 --passes 3 --split
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


def _measure(
    d: int, repeats: int, steps: int | None, budget: int | None, split: bool
) -> dict[str, Any]:
    from regretlab.environments import InteractionStream
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, run_prequential
    from regretlab.simulate._budget import DEFAULT_BLOCK_MEMORY, stream_steps

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

    # The runner's block and segment lengths (the split's variants use them).
    block_steps, span = stream_steps(DEFAULT_BLOCK_MEMORY if budget is None else budget, env, [fm])
    segments = [
        (np.ascontiguousarray(contiguous[:, a : a + span]), y_contiguous[:, a : a + span].copy())
        for a in range(0, steps, span)
    ]

    def learner_segments() -> None:
        alone = model.clone()
        for xs, ys in segments:
            alone.predict_learn_many(xs, ys)

    def env_runner() -> None:  # the runner's block length, designs per segment, reused buffer
        out = np.empty(R * span * fm.n_features)
        for b in env.blocks(block_steps):
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
    if split:
        variants |= {"learner_segments": learner_segments, "env_runner": env_runner}
    for fn in variants.values():  # compile kernels, import pandas, warm caches
        fn()
    best = dict.fromkeys(variants, np.inf)
    rounds: dict[str, list[float]] = {"own": [], "segments": [], "blocks": [], "rest": []}
    for i in range(repeats):
        times = {}
        order = list(variants) if i % 2 == 0 else list(variants)[::-1]
        for key in order:
            start = time.process_time()
            variants[key]()
            times[key] = time.process_time() - start
            best[key] = min(best[key], times[key])
        for key, value in _parts(times).items():
            rounds[key].append(value)
    # The runner's tally against the learner alone's predictions.
    yhat = learner(contiguous, y_contiguous)
    mean = block.mean
    expected = ((yhat - mean) ** 2).sum(axis=-1)
    table = run_prequential(env, [agent], checkpoints=checkpoints, **options).regret
    err = float(np.abs(table["expected_regret"].to_numpy() - expected).max())
    return {
        "obs": steps * R,
        "err": err,
        "own_median": float(np.median(rounds["own"])),
        "rounds": {k: v for k, v in rounds.items() if v},
        "span": span,
        "block": block_steps,
        **best,
    }


def _own(times: dict[str, float]) -> float:
    """The runner's own cost over the learner, strict reading (the faster of each pair)."""
    learner = min(times["learner_strided"], times["learner_contiguous"])
    env = min(times["env_fresh"], times["env_reused"])
    return (times["runner"] - env - learner) / learner


def _parts(times: dict[str, float]) -> dict[str, float]:
    """The own cost of one round and, with the split's variants, its three parts (they sum to
    it): the learner's extra calls, the draws and designs in the runner's sizes, the rest."""
    parts = {"own": _own(times)}
    if "learner_segments" in times:
        learner = min(times["learner_strided"], times["learner_contiguous"])
        env = min(times["env_fresh"], times["env_reused"])
        parts["segments"] = (times["learner_segments"] - learner) / learner
        parts["blocks"] = (times["env_runner"] - env) / learner
        parts["rest"] = (
            times["runner"] - times["env_runner"] - times["learner_segments"]
        ) / learner
    return parts


def _boot_medians(
    values: list[float], passes: list[int], rng: np.random.Generator, n: int = 4000
) -> np.ndarray:
    """Medians of ``n`` bootstrap samples, resampled in two stages: the passes (child
    processes) with replacement, then the rounds within each drawn pass. Rounds of one pass
    share its moment's load, so resampling rounds alone gives intervals too narrow to cover
    the drift between passes (measured: the same code read +6% and +14% in two runs whose
    round-level intervals barely overlapped)."""
    v, g = np.asarray(values), np.asarray(passes)
    groups = [v[g == k] for k in np.unique(g)]
    out = np.empty(n)
    for i in range(n):
        drawn = [groups[k] for k in rng.integers(0, len(groups), len(groups))]
        out[i] = np.median(np.concatenate([d[rng.integers(0, len(d), len(d))] for d in drawn]))
    return out


def _median_ci(values: list[float], passes: list[int], seed: int = 0) -> tuple[float, float, float]:
    """The median of ``values`` and a 95% interval (two-stage bootstrap, :func:`_boot_medians`)."""
    boot = _boot_medians(values, passes, np.random.default_rng(seed))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(np.median(values)), float(lo), float(hi)


def _difference_ci(
    a: list[float], a_passes: list[int], b: list[float], b_passes: list[int], seed: int = 0
) -> tuple[float, float, float]:
    """``median(a) - median(b)`` and a 95% interval (each resampled by :func:`_boot_medians`)."""
    rng = np.random.default_rng(seed)
    boot = _boot_medians(a, a_passes, rng) - _boot_medians(b, b_passes, rng)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(np.median(a) - np.median(b)), float(lo), float(hi)


def _fmt(ci: tuple[float, float, float]) -> str:
    return f"{ci[0]:+.1%} [{ci[1]:+.1%}, {ci[2]:+.1%}]"


def _child(
    src: Path,
    d: int,
    repeats: int,
    numba: bool,
    steps: int | None,
    budget: int | None,
    split: bool = False,
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
    if split:
        cmd += ["--split"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the src of another checkout to compare")
    parser.add_argument("--dims", type=int, nargs="+", default=list(POINTS))
    parser.add_argument("--repeats", type=int, default=7, help="rounds per child process")
    parser.add_argument(
        "--passes", type=int, default=1, help="child processes per version, versions alternating"
    )
    parser.add_argument("--split", action="store_true", help="split the own cost in three parts")
    parser.add_argument("--kernels", nargs="+", choices=["numpy", "numba"], default=None)
    parser.add_argument("--steps", type=int, default=None, help="horizon (default per d)")
    parser.add_argument(
        "--block-memory-mb", type=float, default=None, help="run_prequential's block_memory"
    )
    parser.add_argument("--block-memory", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = _measure(args.child, args.repeats, args.steps, args.block_memory, args.split)
        print(json.dumps(result))
        return
    budget = None if args.block_memory_mb is None else int(args.block_memory_mb * 2**20)
    sys.path.insert(0, str(HERE))
    from _timing import machine_note

    try:
        import numba

        kernels = [False, True]
    except ImportError:
        kernels = [False]
    if args.kernels:
        kernels = [k for k in kernels if ("numba" if k else "numpy") in args.kernels]
    versions = [("this", OURS)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"# run_prequential over the learner alone, R={R}; {machine_note()}")
    print(
        f"# load average {os.getloadavg()[0]:.1f}; CPU seconds, best of {args.repeats} rounds x "
        f"{args.passes} passes; own, median of rounds: 95% bootstrap interval in brackets "
        "(passes resampled, then rounds within them)"
    )
    print(f"# block_memory: {'default (64 MiB)' if budget is None else f'{budget} bytes'}")
    print(
        "| d | code | kernel | learner strided ms | learner contiguous ms | env fresh ms "
        "| env reused ms | runner ms | runner k obs/s | own | own vs lockstep.py's terms "
        "| own, median of rounds | max err |"
    )
    print(
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    splits = []
    for d in args.dims:
        for numba in kernels:
            pooled: dict[str, dict[str, Any]] = {}
            for i in range(args.passes):
                for name, src in versions:
                    r = _child(src, d, args.repeats, numba, args.steps, budget, args.split)
                    r["pass"] = [i] * len(r["rounds"]["own"])
                    if name not in pooled:
                        pooled[name] = r
                        continue
                    pooled[name]["pass"] += r["pass"]
                    for key in pooled[name]["rounds"]:
                        pooled[name]["rounds"][key] += r["rounds"][key]
                    for key, value in r.items():
                        if isinstance(value, float) and key not in ("err", "own_median"):
                            pooled[name][key] = min(pooled[name][key], value)
                    pooled[name]["err"] = max(pooled[name]["err"], r["err"])
            kernel = "numba" if numba else "numpy"
            for name, r in pooled.items():
                own = _own(r)
                old = (r["runner"] - r["env_fresh"] - r["learner_strided"]) / r["learner_strided"]
                skip = ("obs", "err", "own_median", "rounds", "span", "block", "pass")
                ms = {k: f"{1e3 * r[k]:.0f}" for k in r if k not in skip}
                median = _fmt(_median_ci(r["rounds"]["own"], r["pass"]))
                print(
                    f"| {d} | {name} | {kernel} | "
                    f"{ms['learner_strided']} | {ms['learner_contiguous']} | {ms['env_fresh']} | "
                    f"{ms['env_reused']} | {ms['runner']} | {r['obs'] / r['runner'] / 1e3:.0f} | "
                    f"**{own:+.0%}** | {old:+.0%} | {median} | "
                    f"{r['err']:.1e} |",
                    flush=True,
                )
                parts = " | ".join(
                    _fmt(_median_ci(r["rounds"][k], r["pass"])) if k in r["rounds"] else ""
                    for k in ("segments", "blocks", "rest")
                )
                splits.append(
                    f"| {d} | {name} | {kernel} | {len(r['rounds']['own'])} | "
                    f"{r['block']} / {r['span']} | {parts} |"
                )
            if len(pooled) == 2:
                this, base = pooled["this"], pooled["baseline"]
                diff = _difference_ci(
                    this["rounds"]["own"], this["pass"], base["rounds"]["own"], base["pass"]
                )
                splits.append(f"| {d} | this - baseline | {kernel} | | | own: {_fmt(diff)} | | |")
    print(f"\n# load average {os.getloadavg()[0]:.1f} at the end")
    print(
        "\n| d | code | kernel | rounds | block / segment steps | segments | blocks | rest |\n"
        "| ---: | --- | --- | ---: | --- | --- | --- | --- |"
    )
    print("\n".join(splits))


if __name__ == "__main__":
    main()
