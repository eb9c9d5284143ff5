"""Multilevel (seed 004): recovery and coverage of contributions, the seed's pipeline, escalation.

Recovery: for the seed's ``cc_01``, ``cc_02`` and random settings ``n_contributors =
[2, 3, 5, 10, 10]`` (the seed's generator: normal means, lognormal sds), the aligned
(sum-to-zero) contributions against the truth as data grow, over replicates with common data:

- ``seed``: the seed's pipeline, ``OneHotEncoder`` + ``BayesianRidge(fit_intercept=False)``,
  refitted from scratch on the first ``n`` rows at every size (intervals from its ``sigma_``,
  one pooled noise level ``1 / alpha_``);
- ``nig``: our Normal-Inverse-Gamma learner (noise learned online) on the one-hot design,
  streamed in blocks of 250 rows, every level's prior variance set by ``EmpiricalBayes`` every
  1,000 rows (intervals Student-t, one pooled noise level);
- ``nig+sandwich``: the same posterior mean with ``ContributorNoise``'s covariance
  (per-contributor noise variances);
- ``nig shared``: the NIG learner with one prior variance shared by all levels, learned by
  empirical Bayes (the online analogue of ``BayesianRidge``'s single ``lambda``; not timed).

Reported: RMSE of the aligned contributions (grand mean and main effects), coverage of the 95%
intervals overall and separately for "noisy" contributors (sd above the level's rms sd) and
"quiet" ones, and time per replicate: the seed's one batch refit at that size, against our
cumulative streaming time up to that size (all blocks, the empirical-Bayes updates ``eb_ms``,
and for the sandwich ContributorNoise's updates and its posterior).

Escalation: prequential regret on ``n_contributors = [3, 4, 5]`` with cross-level effects
between levels 1 and 2 of scale 0 / 0.5 / 1.5, for fixed designs (main effects only, and with
the cross group at variance 1) and for escalation from the main effects with
``EvidenceSwitch``, ``EmpiricalBayes`` (cross group alone, and all groups) and
``ModelAveraging``; NIG learners throughout (the noise is not given to them).

    OPENBLAS_NUM_THREADS=1 python benchmarks/multilevel.py            # --quick for a smoke run
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from _timing import machine_note
from regretlab.environments import MultilevelStream
from regretlab.features import LevelFeatures
from regretlab.learners import NormalInverseGammaRegression
from regretlab.multilevel import ContributorNoise, aligned_contributions
from regretlab.policies.escalation import EmpiricalBayes, EvidenceSwitch, ModelAveraging
from regretlab.simulate import Agent, run_prequential, summarise

SETTINGS = {
    "cc_01": {"contributors": "cc_01"},
    "cc_02": {"contributors": "cc_02"},
    "random_2_3_5_10_10": {"n_contributors": [2, 3, 5, 10, 10]},
}
BLOCK = 250
EB_EVERY = 1000


def _noisy_mask(truth: pd.DataFrame) -> pd.Series:
    """Main contributions whose sd is above the rms sd of their level (per replicate)."""
    main = truth.term == "main"
    rms = truth[main].groupby(["replicate", "level"]).sd.transform(lambda s: np.sqrt((s**2).mean()))
    noisy = pd.Series(False, index=truth.index)
    noisy[main] = truth.loc[main, "sd"] > rms * (1 + 1e-12)
    return noisy


def _score(table: pd.DataFrame, truth: pd.DataFrame, noisy: pd.Series) -> dict[str, float]:
    """RMSE and coverage of the identified contributions (a one-contributor level is always 0)."""
    keep = (truth.term != "cross") & ~((truth.term == "main") & (table.sd.to_numpy() == 0))
    est, true = table.estimate.to_numpy(), truth.truth.to_numpy()
    inside = (table.lower.to_numpy() <= true) & (true <= table.upper.to_numpy())
    k = keep.to_numpy()
    loud = noisy.to_numpy() & k
    quiet = k & ~noisy.to_numpy() & (truth.term == "main").to_numpy()
    return {
        "rmse": float(np.sqrt(np.mean((est[k] - true[k]) ** 2))),
        "coverage": float(inside[k].mean()),
        "coverage_noisy": float(inside[loud].mean()) if loud.any() else np.nan,
        "coverage_quiet": float(inside[quiet].mean()) if quiet.any() else np.nan,
        "width": float(np.mean(table.upper.to_numpy()[k] - table.lower.to_numpy()[k])),
    }


def _seed_pipeline(x: np.ndarray, y: np.ndarray, counts: tuple[int, ...]) -> BayesianRidge:
    """The seed's pipeline; categories fixed so that a contributor absent from a small sample
    still has its column (identical to ``categories="auto"`` whenever all appear)."""
    categories = [np.arange(m) for m in counts]
    pipe = Pipeline(
        [
            ("ohe", OneHotEncoder(sparse_output=False, categories=categories)),
            ("regression", BayesianRidge(fit_intercept=False)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant column is expected (one-contributor level)
        pipe.fit(x, y)
    return pipe[1]


def recovery(name: str, kwargs: dict, sizes: list[int], r: int, seed: int) -> pd.DataFrame:
    env = MultilevelStream(**kwargs, horizon=max(sizes), n_replicates=r, seed=seed)
    fm = env.features
    truth = env.true_contributions()
    noisy = _noisy_mask(truth)
    obs = env.take(env.horizon)
    rows = []
    # -- the seed's pipeline: a batch refit per size and replicate
    for n in sizes:
        start = time.perf_counter()
        means, covs = [], []
        for rep in range(r):
            ridge = _seed_pipeline(obs.x[rep, :n], obs.y[rep, :n], fm.counts)
            means.append(ridge.coef_)
            covs.append(ridge.sigma_)
        elapsed = (time.perf_counter() - start) / r
        table = aligned_contributions(np.stack(means), np.stack(covs), fm)
        rows.append(
            {
                "setting": name,
                "n": n,
                "method": "seed",
                "seconds": elapsed,
                **_score(table, truth, noisy),
            }
        )
    # -- ours: one pass over the stream, read at every size
    model = NormalInverseGammaRegression(groups=fm, n_replicates=r)
    noise = ContributorNoise(fm, n_replicates=r)
    schedule = EmpiricalBayes(groups=fm.level_groups, every=1)
    # One prior variance shared by all levels, as BayesianRidge's single lambda.
    shared = NormalInverseGammaRegression(groups=("levels",) * fm.n_features, n_replicates=r)
    shared_schedule = EmpiricalBayes(groups=("levels",), every=1)
    clock = dict.fromkeys(("learn", "eb", "noise"), 0.0)
    seen = 0

    def timed(part, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        clock[part] += time.perf_counter() - start
        return out

    for n in sizes:
        while seen < n:
            stop = min(seen + BLOCK, n)
            x, y = obs.x[:, seen:stop], obs.y[:, seen:stop]
            timed("learn", lambda x=x, y=y: model.learn_many(fm.transform(x), y))
            timed("noise", noise.learn_many, x, y)
            shared.learn_many(fm.transform(x), y)
            if stop // EB_EVERY > seen // EB_EVERY or stop == n:
                timed("eb", schedule.update, model, stop)
                shared_schedule.update(shared, stop)
            seen = stop
        post = timed("noise", noise.posterior, model)
        dof = 2 * model.noise_posterior[0]
        shared_dof = 2 * shared.noise_posterior[0]
        for method, table in (
            ("nig", aligned_contributions(model.mean, model.covariance, fm, dof=dof)),
            ("nig+sandwich", aligned_contributions(post.mean, post.covariance, fm)),
            (
                "nig shared",
                aligned_contributions(shared.mean, shared.covariance, fm, dof=shared_dof),
            ),
        ):
            seconds = clock["learn"] + clock["eb"] + (clock["noise"] if "sandwich" in method else 0)
            seconds = np.nan if method == "nig shared" else seconds
            rows.append(
                {
                    "setting": name,
                    "n": n,
                    "method": method,
                    "seconds": seconds / r,
                    "eb_seconds": np.nan if method == "nig shared" else clock["eb"] / r,
                    **_score(table, truth, noisy),
                }
            )
    return pd.DataFrame(rows)


def escalation(scale: float, horizon: int, r: int, seed: int) -> pd.DataFrame:
    counts, cross = [3, 4, 5], "level:1x2"
    env = MultilevelStream(
        n_contributors=counts,
        contributor_sig=-1.0,
        cross_levels=[(1, 2, scale)] if scale else None,
        horizon=horizon,
        n_replicates=r,
        seed=seed,
    )
    fm = LevelFeatures(counts, cross=[(1, 2)])
    main = NormalInverseGammaRegression(groups=fm, n_replicates=r, prior_variance={cross: 0.0})
    full = NormalInverseGammaRegression(groups=fm, n_replicates=r)
    every = 10
    agents = [
        Agent("fixed: main effects", main, features=fm),
        Agent("fixed: with cross", full, features=fm),
        Agent("EvidenceSwitch", main, features=fm, scheduler=EvidenceSwitch(cross, every=every)),
        Agent(
            "EmpiricalBayes(cross)",
            main,
            features=fm,
            scheduler=EmpiricalBayes((cross,), every=every),
        ),
        Agent(
            "EmpiricalBayes(all)",
            main,
            features=fm,
            scheduler=EmpiricalBayes((*fm.level_groups, cross), every=every),
        ),
        Agent("ModelAveraging", ModelAveraging(learner=main, group=cross), features=fm),
    ]
    start = time.perf_counter()
    result = run_prequential(env, agents, checkpoints=[horizon // 10, horizon])
    seconds = time.perf_counter() - start
    table = result.regret.assign(scale=scale)
    events = result.events[result.events.group == cross]
    last = events.sort_values("step").groupby(["agent", "replicate"]).new.last()
    final = last.unstack(fill_value=0.0).reindex(columns=range(r), fill_value=0.0)
    fixed = {"fixed: main effects": 0.0, "fixed: with cross": 1.0}
    table["final_variance"] = table.agent.map({**final.median(axis=1).to_dict(), **fixed})
    table["final_variance"] = table["final_variance"].fillna(0.0)
    on = {**(final > 0.01).sum(axis=1).to_dict(), "fixed: with cross": r}
    table["escalated"] = table.agent.map(on).fillna(0).astype(int)
    table.attrs["seconds"] = seconds
    return table


def _markdown(frame: pd.DataFrame, floats: str = "{:.3f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for _, row in frame.iterrows():
        cells = [floats.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _condensed(rec: pd.DataFrame) -> pd.DataFrame:
    """One row per setting and size: RMSE, coverage (noisy / quiet) and time per method."""

    def cover(row: pd.Series) -> str:
        noisy = "-" if np.isnan(row.coverage_noisy) else f"{row.coverage_noisy:.2f}"
        return f"{row.coverage:.3f} ({noisy} / {row.coverage_quiet:.2f})"

    rows = []
    for (setting, n), group in rec.groupby(["setting", "n"], sort=False):
        g = group.set_index("method")
        ms = 1000 * g[["seconds", "eb_seconds"]]
        rows.append(
            {
                "setting": setting,
                "n": n,
                "RMSE seed / nig / shared": " / ".join(
                    f"{g.loc[m, 'rmse']:.3g}" for m in ("seed", "nig", "nig shared")
                ),
                "coverage seed (noisy / quiet)": cover(g.loc["seed"]),
                "coverage nig": cover(g.loc["nig"]),
                "coverage nig+sandwich": cover(g.loc["nig+sandwich"]),
                "coverage nig shared": cover(g.loc["nig shared"]),
                "ms seed refit": f"{ms.loc['seed', 'seconds']:.3g}",
                "ms ours (EB)": f"{ms.seconds['nig']:.3g} ({ms.eb_seconds['nig']:.2g})",
                "ms ours + sandwich": f"{ms.loc['nig+sandwich', 'seconds']:.3g}",
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 30_000])
    parser.add_argument("--regret-replicates", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "multilevel")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.sizes = 5, [100, 500]
        args.regret_replicates, args.horizon = 3, 200
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"# Multilevel benchmark\n\n{machine_note()}\n")

    frames = []
    for name, kwargs in SETTINGS.items():
        frames.append(recovery(name, kwargs, args.sizes, args.replicates, args.seed))
    rec = pd.concat(frames, ignore_index=True)
    rec.to_csv(args.out / "recovery.csv", index=False)
    print(f"## Recovery and coverage ({args.replicates} replicates, 95% intervals)\n")
    print(_markdown(_condensed(rec)) + "\n")

    frames = []
    for scale in (0.0, 0.5, 1.5):
        frames.append(escalation(scale, args.horizon, args.regret_replicates, args.seed))
        print(f"(escalation, scale {scale}: {frames[-1].attrs['seconds']:.1f} s)")
    reg = pd.concat(frames, ignore_index=True)
    reg.to_csv(args.out / "escalation.csv", index=False)
    last = reg[reg.step == args.horizon]
    summary = summarise(last, ["scale", "agent"], "expected_regret")
    best = summary[summary.agent.str.startswith("fixed")].groupby("scale")["mean"].min()
    summary["vs best fixed"] = summary["mean"] / summary.scale.map(best)
    per_agent = last.groupby(["scale", "agent"])[["final_variance", "escalated"]].first()
    summary = summary.join(per_agent, on=["scale", "agent"])
    summary = summary[
        ["scale", "agent", "mean", "lower", "upper", "vs best fixed", "final_variance", "escalated"]
    ]
    summary.to_csv(args.out / "escalation_summary.csv", index=False)
    print(
        f"\n## Escalation: expected regret at step {args.horizon} "
        f"({args.regret_replicates} replicates; final_variance: median over replicates of the "
        "cross group's prior variance at the end (ModelAveraging: its leading candidate's); "
        "escalated: replicates ending above 0.01)\n"
    )
    print(_markdown(summary, "{:.3g}"))


if __name__ == "__main__":
    main()
