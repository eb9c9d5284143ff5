"""Escalation you can trust (issue 16): defaults against a fixed reference family, split-half.

Prediction streams on the seed's generator and variations of it (x ~ U(-1, 1)^x_dim, design =
intercept + main + pairwise products): 50 scenarios over x_dim 2-10, interaction scale 0-3,
noise 0.1-2, sparse interactions, main effects up to +-3, intercept 5, Student-t(3) and
heteroscedastic noise, and interactions switching on at T/2. Every agent learns the noise online
(a normal-inverse-gamma model, vague noise prior a_0 = b_0 = 1e-3).

**The comparator** is a reference family fixed here and independent of the defaults:
pairwise variance {0, 1e-3, 1e-2, 0.1, 1, 10, 100} x main-effect variance {0.1, 1, 10, 100,
1000} (relative to the noise variance), a flat intercept: 35 fixed priors. Its best member is
chosen on half of the replicates and scored on the other half (and the other way round); the
ratio of a default's mean regret to that member's on the held-out half is reported with a 95%
paired bootstrap interval. **The floor** is the true-support model with the noise known (flat
intercept, weak prior on the groups that are present). Regret is the expected regret
``sum_t (yhat_t - mean_t)^2``, predictions made before learning ``y_t``; it is also reported
over steps ``2p .. T`` apart from the start-up transient.

Defaults measured side by side (all start with the interactions off):
- ``recommended``: ``ModelAveraging.recommended`` (the default before this issue);
- ``family``: model averaging over the reference family itself (uniform prior);
- ``family, off 1/2``: the same with prior mass 1/2 on "interactions off";
- ``EB main, off 1/2``: pairwise variance averaged over {0, 1e-3 .. 100} with mass 1/2 on 0,
  flat intercept, the main-effect variance of every candidate starting at the unit-information
  value 1 and fitted by evidence (type-II maximum likelihood) from 2p observations on, on a
  geometric schedule: one continuous scale instead of a grid.

Variants of the recommended rule for ``--defaults`` (``AGENTS``): a flat intercept with the
main scale on {1, 10, 100} or {0.1 .. 100}, the shared intercept-and-main scale on
{0.1 .. 100} (the rule adopted: ``ModelAveraging.recommended``), and the main scale on
{0.1 .. 100} with the intercept on {1, 100}; ``recommended, partial``: the recommended rule
with partial Bayes factors (the default before issue 16's fifth session). ``--scenarios`` runs a
subset on the same data; ``--reuse DIR`` scores the defaults against the family's totals saved
by an earlier run on the same data (only the defaults and the family's best members are run);
``escalation_family_table.py`` joins runs made in parts.

The two model-averaging variants over the family are computed from the family's own
predictions and log predictive densities (a mixture needs nothing else), so they cost nothing.

    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation_family.py               # ~30 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation_family.py --quick       # smoke run
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from _timing import machine_note
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, NormalInverseGammaRegression
from regretlab.policies.escalation import ModelAveraging
from regretlab.policies.escalation.evidence import LADDER

PAIRWISE = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
MAIN = (0.1, 1.0, 10.0, 100.0, 1000.0)
NOISE_PRIOR = 1e-3
FAMILY_MIXTURES = ("family", "family, off 1/2")


def _flat_intercept_bma(scales):
    """Pairwise variance on the ladder x one main-effect scale on ``scales``, flat intercept."""

    def make(fm, r):
        return ModelAveraging(
            learner=nig(fm, {"intercept": np.inf, "main": 1.0, "pairwise": 0.0}, r),
            grid=LADDER,
            other_grids={"main": scales},
        )

    return make


def _partial(fm, r):
    """The recommended rule with partial Bayes factors (the default before issue 16's fifth
    session): the evidence of the observations after the training sample only."""
    rule = ModelAveraging.recommended(fm, n_replicates=r)
    return ModelAveraging(**{**rule.get_params(), "comparison": "partial"})


AGENTS = {
    "recommended": lambda fm, r: ModelAveraging.recommended(fm, n_replicates=r),
    "recommended, partial": _partial,
    "EB main, off 1/2": lambda fm, r: ModelAveraging(
        learner=nig(fm, {"intercept": np.inf, "main": 1.0, "pairwise": 0.0}, r),
        grid=LADDER,
        off_weight=0.5,
        fit=("main",),
    ),
    "flat intercept, main 1..100": _flat_intercept_bma((1.0, 10.0, 100.0)),
    "flat intercept, main 0.1..100": _flat_intercept_bma((0.1, 1.0, 10.0, 100.0)),
}


def _scaled_recommended(other_grids):
    """The recommended rule (vague noise prior, pairwise on the ladder) with other scale grids."""

    def make(fm, r):
        return ModelAveraging(
            learner=nig(fm, {"intercept": 100.0, "main": 100.0, "pairwise": 0.0}, r),
            grid=LADDER,
            other_grids=other_grids,
        )

    return make


AGENTS["recommended, scale 0.1..100"] = _scaled_recommended(
    {("intercept", "main"): (0.1, 1.0, 10.0, 100.0)}
)
AGENTS["recommended, main 0.1..100, intercept 1|100"] = _scaled_recommended(
    {"main": (0.1, 1.0, 10.0, 100.0), "intercept": (1.0, 100.0)}
)
AGENTS["recommended, intercept shared|flat"] = _scaled_recommended(
    {
        ("intercept", "main"): [(s, s) for s in (0.1, 1.0, 10.0, 100.0)]
        + [(np.inf, s) for s in (0.1, 1.0, 10.0, 100.0)]
    }
)
# Issue 16, sixth session (the bandits' variants; on a prediction stream the draws are never
# used, so "mixture draws" must equal "recommended", whose Thompson draws come from its leader).
AGENTS["recommended, off 1/2"] = lambda fm, r: ModelAveraging.recommended(
    fm, n_replicates=r, off_weight=0.5
)
AGENTS["recommended, mixture draws"] = lambda fm, r: ModelAveraging.recommended(
    fm, n_replicates=r, draw="mixture"
)
DEFAULTS = ("recommended", *FAMILY_MIXTURES, "EB main, off 1/2")


@dataclass(frozen=True)
class Scenario:
    x_dim: int
    scale: float
    noise: float
    main: float = 1.0
    intercept: float = 0.0
    density: float = 1.0
    tails: float | None = None
    hetero: bool = False
    onset: bool = False
    tags: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        extra = "".join(
            [
                f"_m{self.main:g}" if self.main != 1.0 else "",
                f"_b{self.intercept:g}" if self.intercept else "",
                f"_d{self.density:g}" if self.density != 1.0 else "",
                f"_t{self.tails:g}" if self.tails else "",
                "_het" if self.hetero else "",
                "_onset" if self.onset else "",
            ]
        )
        return f"x{self.x_dim}_i{self.scale:g}_n{self.noise:g}{extra}"


def scenarios() -> list[Scenario]:
    out = []
    # A grid over dimension, interaction scale and noise (interaction-free ones included).
    for x_dim in (2, 4, 6):
        for scale in (0.0, 0.1, 1.0, 3.0):
            for noise in (0.1, 0.5, 2.0):
                if scale == 3.0 and noise == 2.0:
                    continue
                out.append(Scenario(x_dim, scale, noise))
    out += [Scenario(3, 0.0, 1.0), Scenario(3, 0.5, 1.0), Scenario(5, 0.1, 0.2, main=3.0)]
    out += [Scenario(10, 0.0, 0.5), Scenario(10, 1.0, 0.5), Scenario(10, 0.1, 0.1)]
    # Large main effects, a large intercept, sparse interactions.
    out += [Scenario(4, 0.5, 0.2, main=3.0), Scenario(4, 0.0, 0.2, intercept=5.0)]
    out += [Scenario(4, 1.0, 0.2, intercept=5.0), Scenario(6, 3.0, 0.5, density=0.2)]
    out += [Scenario(6, 1.0, 0.1, density=0.2)]
    # Heavy tails and heteroscedastic noise, interactions switching on mid-run.
    out += [Scenario(4, 0.0, 1.0, tails=3.0), Scenario(4, 1.0, 1.0, tails=3.0)]
    out += [Scenario(4, 0.0, 1.0, hetero=True), Scenario(4, 1.0, 1.0, hetero=True)]
    out += [Scenario(4, 1.0, 0.5, onset=True), Scenario(6, 1.0, 0.1, onset=True)]
    return out


def draw(s: Scenario, r: int, horizon: int, seed: np.random.SeedSequence):
    """Designs ``(R, T, p)``, targets and means; truth per replicate from the same generator."""
    rng = np.random.default_rng(seed)
    fm = InteractionFeatures(s.x_dim)
    groups = np.asarray(fm.groups)
    x = fm.transform(rng.uniform(-1.0, 1.0, (r, horizon, s.x_dim)))
    w = np.empty((r, fm.n_features))
    w[:, groups == "intercept"] = rng.uniform(-1, 1, (r, 1)) + s.intercept
    w[:, groups == "main"] = rng.uniform(-s.main, s.main, (r, (groups == "main").sum()))
    pair = rng.uniform(-s.scale, s.scale, (r, (groups == "pairwise").sum()))
    pair *= rng.random(pair.shape) < s.density
    w[:, groups == "pairwise"] = pair
    mean = np.einsum("rtp,rp->rt", x, w)
    if s.onset:
        late = np.einsum("rtp,rp->rt", x[..., groups == "pairwise"], pair)
        mean[:, : horizon // 2] -= late[:, : horizon // 2]
    if s.tails:  # unit variance Student-t
        eps = rng.standard_t(s.tails, (r, horizon)) * np.sqrt((s.tails - 2) / s.tails)
    else:
        eps = rng.standard_normal((r, horizon))
    if s.hetero:  # sd proportional to |x_1|, mean square 1: the same average noise variance
        eps = eps * np.sqrt(3.0) * np.abs(x[..., 1])
    return fm, x, mean + s.noise * eps, mean


def nig(fm, prior, r):
    return NormalInverseGammaRegression(
        groups=fm,
        prior_variance=prior,
        noise_shape=NOISE_PRIOR,
        noise_scale=NOISE_PRIOR,
        n_replicates=r,
    )


def _best_members(saved: dict[str, np.ndarray]) -> set[str]:
    """The family members ``split_half`` picks (the best on either half of the replicates)."""
    members = [n for n in saved if n.startswith("fixed")]
    r = len(saved[members[0]])
    halves = (np.arange(r) < r // 2, np.arange(r) >= r // 2)
    return {min(members, key=lambda n: saved[n][half].mean()) for half in halves}


def run_scenario(args):
    index, s, r, horizon, seed, chosen, reuse = args
    fm, x, y, mean = draw(s, r, horizon, np.random.SeedSequence(seed, spawn_key=(index,)))
    p = fm.n_features
    members = [(v, m) for v in PAIRWISE for m in MAIN]
    saved = {}
    if reuse is not None:  # the family's totals from an earlier run on the same data
        saved = dict(np.load(reuse / f"totals_{s.name}.npz"))
        best = _best_members(saved)
        members = [(v, m) for v, m in members if f"fixed {v:g} @ {m:g}" in best]
    k = len(members)
    family = nig(
        fm,
        {
            "intercept": np.inf,
            "main": np.repeat([m for _, m in members], r),
            "pairwise": np.repeat([v for v, _ in members], r),
        },
        k * r,
    )
    off = np.array([v == 0.0 for v, _ in members])
    log_prior = {}
    if reuse is None:  # the mixtures need every member (they are not run with --reuse)
        log_prior = {
            "family": np.full(k, -np.log(k)),
            "family, off 1/2": np.log(np.where(off, 0.5 / off.sum(), 0.5 / (~off).sum())),
        }
    agents = {name: AGENTS[name](fm, r) for name in chosen if name in AGENTS}
    truth = np.asarray(fm.groups)
    present = {"intercept", "main"} | ({"pairwise"} if s.scale > 0 else set())
    floor = BayesianLinearRegression(
        groups=fm,
        prior_variance={
            g: (np.inf if g == "intercept" else 100.0 if g in present else 0.0)
            for g in dict.fromkeys(truth)
        },
        noise_precision=1.0 / s.noise**2,
        n_replicates=r,
    )
    names = [f"fixed {v:g} @ {m:g}" for v, m in members] + list(chosen) + ["floor"]
    regret = {n: np.zeros((horizon, r)) for n in names}
    log_w = np.zeros((k, r))
    for t in range(horizon):
        xt, yt, mt = x[:, t], y[:, t], mean[:, t]
        tiled = np.broadcast_to(xt, (k, r, p)).reshape(k * r, p)
        pred = family.predict_one(tiled).reshape(k, r)
        for j, name in enumerate(names[:k]):
            regret[name][t] = (pred[j] - mt) ** 2
        for name, lp in log_prior.items():
            if name not in regret:
                continue
            w = np.exp(lp[:, None] + log_w - logsumexp(lp[:, None] + log_w, axis=0))
            regret[name][t] = ((w * pred).sum(axis=0) - mt) ** 2
        for name, agent in agents.items():
            regret[name][t] = (agent.predict_one(xt) - mt) ** 2
        regret["floor"][t] = (floor.predict_one(xt) - mt) ** 2
        if family.proper:
            log_w += family.log_predictive(tiled, np.tile(yt, k)).reshape(k, r)
        family.learn_one(tiled, np.tile(yt, k))
        for agent in agents.values():
            agent.learn_one(xt, yt)
        floor.learn_one(xt, yt)
    total = {**saved, **{n: v.sum(axis=0) for n, v in regret.items()}}
    late = {n: v[2 * p :].sum(axis=0) for n, v in regret.items()}
    return s, p, total, late


def split_half(total: dict[str, np.ndarray], rng: np.random.Generator, chosen, n_boot: int = 2000):
    """Per default: ratio to the family's best member chosen on the other half, both ways."""
    members = [n for n in total if n.startswith("fixed")]
    r = len(next(iter(total.values())))
    halves = (np.arange(r) < r // 2, np.arange(r) >= r // 2)
    rows = []
    for name in chosen:
        ratios, uppers, lowers = [], [], []
        for choose, score in (halves, halves[::-1]):
            best = min(members, key=lambda n: total[n][choose].mean())
            a, b = total[name][score], total[best][score]
            ratios.append(a.mean() / b.mean())
            idx = rng.integers(0, len(a), (n_boot, len(a)))
            boot = a[idx].mean(axis=1) / b[idx].mean(axis=1)
            lowers.append(np.percentile(boot, 2.5))
            uppers.append(np.percentile(boot, 97.5))
        rows.append(
            {
                "agent": name,
                "ratio": float(np.mean(ratios)),
                "ci_low": float(min(lowers)),
                "ci_high": float(max(uppers)),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scenarios", nargs="*")
    parser.add_argument(
        "--defaults", nargs="*", default=list(DEFAULTS), choices=[*AGENTS, *FAMILY_MIXTURES]
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/escalation_family"))
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a directory of an earlier run's totals_*.npz on the same data: only the defaults "
        "and the family's best members (for their regret after 2p) are run",
    )
    args = parser.parse_args()
    if args.reuse is not None:  # a mixture over the family needs every member's predictions
        args.defaults = [d for d in args.defaults if d not in FAMILY_MIXTURES]
    every = scenarios()
    todo = every
    if args.scenarios:
        todo = [s for s in todo if s.name in args.scenarios]
    r, horizon = (20, 300) if args.quick else (args.replicates, args.horizon)
    if args.quick:
        todo = todo[:: max(1, len(todo) // 6)]
    print(machine_note(), f"| {len(todo)} scenarios, R={r}, T={horizon}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The expensive scenarios (large x_dim) first, so the two workers finish together.
    jobs = sorted(
        # A scenario's seed is its place in the full list: a subset run sees the same data.
        (
            (every.index(s), s, r, horizon, args.seed, tuple(args.defaults), args.reuse)
            for s in todo
        ),
        key=lambda job: -job[1].x_dim,
    )
    rows, totals = [], []
    rng = np.random.default_rng(args.seed)
    with cf.ProcessPoolExecutor(args.workers) as pool:
        for s, p, total, late in pool.map(run_scenario, jobs):
            # Per-replicate totals, so later runs can score other defaults on the same data.
            np.savez_compressed(args.out / f"totals_{s.name}.npz", **total)
            np.savez_compressed(args.out / f"late_{s.name}.npz", **late)
            for row in split_half(total, rng, args.defaults):
                rows.append({"scenario": s.name, "p": p, **row})
            for name in total:
                totals.append(
                    {
                        "scenario": s.name,
                        "agent": name,
                        "regret": float(total[name].mean()),
                        "regret_after_2p": float(late[name].mean()) if name in late else np.nan,
                    }
                )
            print(f"{s.name:28s} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    pd.DataFrame(totals).to_csv(args.out / "regret.csv", index=False)
    table.to_csv(args.out / "ratios.csv", index=False)
    chosen = list(args.defaults)
    wide = table.pivot(index="scenario", columns="agent", values="ratio")[chosen]
    high = table.pivot(index="scenario", columns="agent", values="ci_high")[chosen]
    pd.set_option("display.width", 200)
    print("\nratio to the reference family's best member (chosen on the other half):")
    print(wide.round(3).to_string())
    print("\nsummary per default: worst ratio, scenarios within 1.05, worst upper 95% bound")
    for name in chosen:
        print(
            f"  {name:18s} worst {wide[name].max():.3f} ({wide[name].idxmax()}), "
            f"{(wide[name] <= 1.05).sum()}/{len(wide)} within 1.05, "
            f"upper bound max {high[name].max():.3f}, "
            f"{(high[name] < 1.10).sum()}/{len(high)} with upper < 1.10"
        )
    print(f"\nwall time {time.perf_counter() - start:.0f} s; tables in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
