"""Binary and count rewards (issue 17, part B): the Laplace GLM and the logistic bandit.

Sections (``--sections``, default all):

- ``laplace``: the online Laplace posterior of :class:`BayesianGLM` and its refit (Laplace at
  the MAP) against a random-walk Metropolis reference (d = 4, many chains), for the logit and
  the log link; the gap between the online mode and the refit; the error of a prior change
  (keep the Gaussian likelihood approximation, swap the prior) against a refit; 95% interval
  coverage of the weights against truths drawn from the prior.
- ``bandit``: a logistic bandit (``GLMBandit``, K = 5, context_dim = 1, p = 12) at a common
  and at a rare (~2%) click rate: logistic TS, SquareCB over the GLM and over SGD,
  bootstrapped TS (10 GLM copies) and linear TS; the peers bayesianbandits ``BayesianGLM``
  (Thompson sampling through its ``sample``) and Vowpal Wabbit ``--squarecb`` / ``--bag`` on
  the first ``--peer-replicates`` replicates of the same stream.
- ``throughput``: logistic TS at R = 1000 (d = 12, K = 5) in replicate-steps per second,
  with the share of the time spent in the Laplace update, beside linear TS in the same run.
- ``escalation``: interactions absent / present: EvidenceSwitch, UncertaintyTrigger and
  EmpiricalBayes (the one the example experiment uses) on the GLM against its fixed family of
  interaction prior variances.

Run from the repository root (a shared machine: compare ratios within one run)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/glm_bandit.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/glm_bandit.py --sections laplace throughput
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from _timing import machine_note
from regretlab.environments import GLMBandit
from regretlab.learners import (
    BayesianGLM,
    BayesianLinearRegression,
    Bootstrap,
    SGDLinearRegression,
)
from regretlab.learners.glm_math import log_likelihood
from regretlab.policies import BootstrappedThompsonSampling, SquareCB, ThompsonSampling
from regretlab.policies.escalation import EmpiricalBayes, EvidenceSwitch, UncertaintyTrigger
from regretlab.simulate import Agent, run_bandit

try:
    import vowpalwabbit
except ImportError as exc:  # a `bench` extra
    vowpalwabbit = None
    VW_MISSING = f"vowpalwabbit not importable ({exc})"
else:
    VW_MISSING = ""
try:
    import bayesianbandits
except ImportError as exc:  # a `bench` extra
    bayesianbandits = None
    BB_MISSING = f"bayesianbandits not importable ({exc})"
else:
    BB_MISSING = ""

K = 5
RATES = {"common": -1.5, "rare": -4.5}  # the true intercept of each scenario


# -- laplace ---------------------------------------------------------------------------------
def metropolis(
    link: str,
    x: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    start: np.ndarray,
    cov: np.ndarray,
    seed: int,
    chains: int = 64,
    steps: int = 12_000,
) -> np.ndarray:
    """Random-walk Metropolis draws ``(chains * kept, d)`` of the exact posterior."""
    rng = np.random.default_rng(seed)
    d = len(start)
    factor = np.linalg.cholesky(cov) * (2.38 / np.sqrt(d))
    w = start + rng.standard_normal((chains, d)) @ np.linalg.cholesky(cov).T

    def log_post(w: np.ndarray) -> np.ndarray:
        return log_likelihood(link, y, w @ x.T).sum(axis=-1) - 0.5 * (w * w / v).sum(axis=-1)

    lp = log_post(w)
    kept = []
    for t in range(steps):
        prop = w + rng.standard_normal((chains, d)) @ factor.T
        lp_prop = log_post(prop)
        accept = np.log(rng.random(chains)) < lp_prop - lp
        w = np.where(accept[:, None], prop, w)
        lp = np.where(accept, lp_prop, lp)
        if t >= steps // 4 and t % 5 == 0:
            kept.append(w.copy())
    return np.concatenate(kept)


def laplace_section(seeds: int) -> None:
    print("\n### Laplace posterior against random-walk Metropolis (d = 4)\n")
    print(
        "| link | n | online mean err / sd | refit mean err / sd | online sd ratio | "
        "refit sd ratio | online vs refit mode / sd |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    groups = ("intercept", "main", "main", "main")
    v = np.array([4.0, 1.0, 1.0, 1.0])
    for link in ("logit", "log"):
        for n in (50, 200, 1000):
            rows = []
            for seed in range(seeds):
                rng = np.random.default_rng(100 + seed)
                x = np.c_[np.ones(n), rng.normal(size=(n, 3))]
                w = np.array([-1.0, 1.0, -0.5, 0.5])
                eta = x @ w
                y = (
                    (rng.random(n) < expit(eta))
                    if link == "logit"
                    else rng.poisson(np.exp(0.5 * eta))
                )
                y = y.astype(float)
                model = BayesianGLM(
                    groups=groups, prior_variance={"intercept": 4.0}, link=link, refit_start=10**9
                ).learn_many(x, y)
                online_mean, online_sd = model.mean, model.sd
                model.refit()
                draws = metropolis(link, x, y, v, model.mean, model.covariance, seed)
                ref_mean, ref_sd = draws.mean(axis=0), draws.std(axis=0)
                rows.append(
                    (
                        np.max(np.abs(online_mean - ref_mean) / ref_sd),
                        np.max(np.abs(model.mean - ref_mean) / ref_sd),
                        np.max(np.abs(np.log(online_sd / ref_sd))),
                        np.max(np.abs(np.log(model.sd / ref_sd))),
                        np.max(np.abs(online_mean - model.mean) / model.sd),
                    )
                )
            worst = np.max(rows, axis=0)
            print(
                f"| {link} | {n} | {worst[0]:.3f} | {worst[1]:.3f} | "
                f"{np.exp(worst[2]):.3f} | {np.exp(worst[3]):.3f} | {worst[4]:.3f} |"
            )
    print(
        f"\n(worst over {seeds} data sets; sd ratio = max over weights of max(s/s_ref, "
        "s_ref/s); MCMC: 64 chains x 12000 steps, a quarter burned, every 5th kept)"
    )

    print("\n### 95% interval coverage of the weights (truth drawn from the prior)\n")
    print("| link | n | replicates x weights | online coverage | refit coverage |")
    print("| --- | --- | --- | --- | --- |")
    r = 400
    for link in ("logit", "log"):
        for n in (100, 500):
            rng = np.random.default_rng(7)
            prior_sd = 1.0 if link == "logit" else 0.5
            w = rng.normal(size=(r, 4)) * prior_sd
            x = np.concatenate([np.ones((r, n, 1)), rng.normal(size=(r, n, 3))], axis=-1)
            eta = np.einsum("rnp,rp->rn", x, w)
            y = (rng.random((r, n)) < expit(eta)) if link == "logit" else rng.poisson(np.exp(eta))
            model = BayesianGLM(
                groups=groups,
                prior_variance=prior_sd**2,
                link=link,
                n_replicates=r,
                refit_start=10**9,
            )
            model.learn_many(x, y.astype(float))
            online = (np.abs(model.mean - w) <= 1.959964 * model.sd).mean()
            model.refit()
            refit = (np.abs(model.mean - w) <= 1.959964 * model.sd).mean()
            print(f"| {link} | {n} | {r} x 4 | {online:.3f} | {refit:.3f} |")
    print(
        f"\n(binomial sd of a coverage near 0.95 over {r * 4} intervals: "
        f"{np.sqrt(0.95 * 0.05 / (r * 4)):.4f})"
    )

    print("\n### A prior change on a GLM: swap the prior, keep the likelihood approximation\n")
    print(
        "| from -> to (context:action variance) | swapped vs refit, max / sd | "
        "old mode vs refit, max / sd |"
    )
    print("| --- | --- | --- |")
    env = GLMBandit(
        n_actions=K, context_dim=2, intercept=-1.5, horizon=1000, n_replicates=50, seed=3
    )
    block = env.take(1000)
    rng = np.random.default_rng(4)
    actions = rng.integers(0, K, size=(50, 1000))
    design = env.features.transform(block.context)  # (R, T, K, p)
    x = np.take_along_axis(design, actions[..., None, None], axis=2)[:, :, 0]
    y = np.take_along_axis(block.rewards, actions[..., None], axis=2)[..., 0]
    for old, new in ((1.0, 0.1), (1.0, 10.0), (0.1, 1.0), (0.0, 1.0)):
        model = BayesianGLM(
            groups=env.features,
            prior_variance={"context:action": old},
            n_replicates=50,
            refit_start=10**9,
        ).learn_many(x, y)
        model.refit()
        before = model.mean
        model.set_prior_variance("context:action", new)
        swapped = model.mean
        model.refit()
        sd = model.sd
        print(
            f"| {old} -> {new} | {np.max(np.abs(swapped - model.mean) / sd):.3f} | "
            f"{np.max(np.abs(before - model.mean) / sd):.3f} |"
        )
    print(
        "\n(50 replicates x 1000 uniformly random actions of GLMBandit(K=5, context_dim=2, "
        "intercept=-1.5); the model is refitted before the change, so only the swap is "
        "measured; maximum over replicates and weights)"
    )


# -- bandit ----------------------------------------------------------------------------------
def bb_thompson(context: np.ndarray, rewards: np.ndarray, env: GLMBandit, seed: int) -> np.ndarray:
    """bayesianbandits' BayesianGLM (Laplace by IRLS, prior precision 1) as Thompson sampling."""
    model = bayesianbandits.BayesianGLM(alpha=1.0, link="logit", random_state=seed)
    rows = env.features.transform(context)  # (T, K, p)
    actions = np.empty(len(rows), dtype=int)
    for t in range(len(rows)):
        # No posterior to sample before the first fit: step 1 takes action 0.
        arm = 0 if t == 0 else int(np.argmax(model.sample(rows[t], size=1)[0]))
        model.partial_fit(rows[t, arm][None], np.array([rewards[t, arm]]))
        actions[t] = arm
    return actions


def vw_agent(options: str) -> Any:
    def run(context: np.ndarray, rewards: np.ndarray, env: GLMBandit, seed: int) -> np.ndarray:
        shared = [
            "shared |s " + " ".join(f"x{i}:{v:.9g}" for i, v in enumerate(row))
            for row in context.tolist()
        ]
        arms = [f"|a a{k}" for k in range(K)]
        vw = vowpalwabbit.Workspace(
            f"--cb_explore_adf -q sa --quiet --random_seed {seed} {options}",
            enable_logging=False,
        )
        u = np.random.default_rng(seed).random(len(shared)).tolist()
        costs = (1.0 - rewards).tolist()  # costs in [0, 1], as squarecb's gamma assumes
        actions = np.empty(len(shared), dtype=int)
        for t, line in enumerate(shared):
            pmf = vw.predict([line, *arms])
            total, arm, acc = sum(pmf), K - 1, 0.0
            for k, p in enumerate(pmf):
                acc += p
                if u[t] * total < acc:
                    arm = k
                    break
            labelled = list(arms)
            labelled[arm] = f"0:{costs[t][arm]!r}:{pmf[arm] / total!r} {arms[arm]}"
            vw.learn([line, *labelled])
            actions[t] = arm
        vw.finish()
        return actions

    return run


def ours(env: GLMBandit, r: int, rate: float) -> list[Agent]:
    fm = env.features
    glm = BayesianGLM(groups=fm, n_replicates=r)
    # Linear TS with the Bernoulli variance at the scenario's mean click rate as its noise.
    blr = BayesianLinearRegression(
        groups=fm, n_replicates=r, noise_precision=1.0 / (rate * (1 - rate))
    )
    sgd = SGDLinearRegression(groups=fm, n_replicates=r)
    refit = BayesianGLM(groups=fm, n_replicates=r, refit_start=64)
    return [
        Agent("logistic TS", glm, policy=ThompsonSampling()),
        Agent("logistic TS, refit at 64, 128, ...", refit, policy=ThompsonSampling()),
        Agent("logistic SquareCB", glm, policy=SquareCB()),
        Agent("SGD SquareCB", sgd, policy=SquareCB()),
        Agent(
            "bootstrapped TS (10 GLMs)",
            Bootstrap(glm, n_copies=10, seed=5),
            policy=BootstrappedThompsonSampling(),
        ),
        Agent("linear TS", blr, policy=ThompsonSampling()),
    ]


def bandit_section(r: int, horizon: int, peer_r: int) -> None:
    print(f"\n### Logistic bandit: K = {K}, context_dim = 1 (p = 12), T = {horizon}, R = {r}\n")
    peers = {
        "bayesianbandits BayesianGLM TS": (bb_thompson, BB_MISSING),
        "VW --squarecb": (vw_agent("--squarecb"), VW_MISSING),
        "VW --bag 10": (vw_agent("--bag 10"), VW_MISSING),
    }
    for label, intercept in RATES.items():
        env = GLMBandit(
            n_actions=K,
            context_dim=1,
            intercept=intercept,
            horizon=horizon,
            n_replicates=r,
            seed=17,
        )
        block = env.take(horizon)
        rate = float(block.means.mean())
        best = block.means.max(axis=-1)
        start = time.perf_counter()
        result = run_bandit(env, ours(env, r, rate), seed=1, checkpoints=[horizon])
        elapsed = time.perf_counter() - start
        final = result.regret
        rows = []
        for name, group in final.groupby("agent", sort=False):
            values = group.pseudo_regret.to_numpy()
            rows.append(
                (
                    name,
                    values.mean(),
                    1.96 * values.std(ddof=1) / np.sqrt(r),
                    values[:peer_r].mean(),
                    np.nan,
                )
            )
        for name, (run, missing) in peers.items():
            if missing:
                rows.append((name + f" (not run: {missing})", np.nan, np.nan, np.nan, np.nan))
                continue
            regrets, seconds = [], 0.0
            for i in range(peer_r):
                t0 = time.perf_counter()
                acts = run(block.context[i], block.rewards[i], env, 100 + i)
                seconds += time.perf_counter() - t0
                chosen = np.take_along_axis(block.means[i], acts[:, None], axis=1)[:, 0]
                regrets.append((best[i] - chosen).sum())
            rows.append((name, np.nan, np.nan, float(np.mean(regrets)), peer_r * horizon / seconds))
        print(
            f"**{label}** (true intercept {intercept}; mean click rate {rate:.3f}, best "
            f"action's {best.mean():.3f}); ours: {r * horizon * 6 / elapsed:,.0f} "
            "replicate-steps/s over our six agents in one run_bandit\n"
        )
        print(
            f"| agent | regret (R = {r}) | 95% half-width | regret on the first {peer_r} "
            "replicates | steps/s (peers, one replicate at a time) |"
        )
        print("| --- | --- | --- | --- | --- |")
        for name, mean, half, head, speed in rows:
            fmt = lambda v, f: "" if np.isnan(v) else format(v, f)  # noqa: E731
            print(
                f"| {name} | {fmt(mean, '.1f')} | {fmt(half, '.1f')} | {fmt(head, '.1f')} | "
                f"{fmt(speed, ',.0f')} |"
            )
        print()


# -- throughput ------------------------------------------------------------------------------
class _Clock:
    seconds = 0.0


class TimedGLM(BayesianGLM):
    """BayesianGLM whose learn_one time is summed (clone keeps the class)."""

    def learn_one(self, x: Any, y: Any, *, weight: Any = None) -> TimedGLM:
        start = time.perf_counter()
        super().learn_one(x, y, weight=weight)
        _Clock.seconds += time.perf_counter() - start
        return self


def throughput_section(r: int, horizon: int, repeats: int) -> None:
    print(f"\n### Throughput: logistic TS, d = 12, K = {K}, R = {r}, T = {horizon}\n")
    env = GLMBandit(
        n_actions=K, context_dim=1, intercept=-1.5, horizon=horizon, n_replicates=r, seed=2
    )
    fm = env.features
    results = {}
    for name, make in (
        ("logistic TS (BayesianGLM)", lambda: TimedGLM(groups=fm, n_replicates=r)),
        (
            "linear TS (BayesianLinearRegression)",
            lambda: BayesianLinearRegression(groups=fm, n_replicates=r, noise_precision=6.0),
        ),
    ):
        best, share = np.inf, np.nan
        for _ in range(repeats):
            _Clock.seconds = 0.0
            start = time.perf_counter()
            run_bandit(
                env, [Agent("a", make(), policy=ThompsonSampling())], seed=1, checkpoints=[horizon]
            )
            elapsed = time.perf_counter() - start
            if elapsed < best:
                best, share = elapsed, _Clock.seconds / elapsed
        results[name] = (r * horizon / best, share)
    base = results["linear TS (BayesianLinearRegression)"][0]
    print(
        "| agent | replicate-steps/s (best of runs, environment included) | ratio to linear "
        "TS | share of time in learn_one (Laplace update) |"
    )
    print("| --- | --- | --- | --- |")
    for name, (speed, share) in results.items():
        shown = f"{share:.0%}" if np.isfinite(share) and share > 0 else "-"
        print(f"| {name} | {speed:,.0f} | {speed / base:.2f} | {shown} |")


# -- escalation ------------------------------------------------------------------------------
def escalation_section(r: int, horizon: int) -> None:
    print(
        f"\n### Escalation on the logistic bandit: K = {K}, context_dim = 2, T = {horizon}, "
        f"R = {r}\n"
    )
    family = (0.0, 0.1, 1.0, 10.0)
    group = "context:action"
    for scale in (0.0, 1.0):
        env = GLMBandit(
            n_actions=K,
            context_dim=2,
            intercept=-1.5,
            interaction_scale=scale,
            horizon=horizon,
            n_replicates=r,
            seed=23,
        )
        fm = env.features

        def glm(v: float, fm: Any = fm) -> BayesianGLM:
            return BayesianGLM(groups=fm, n_replicates=r, prior_variance={group: v})

        agents = [Agent(f"fixed {v:g}", glm(v), policy=ThompsonSampling()) for v in family]
        agents += [
            Agent(
                "EvidenceSwitch (default)",
                glm(0.0),
                policy=ThompsonSampling(),
                scheduler=EvidenceSwitch(group, every=20),
            ),
            Agent(
                "UncertaintyTrigger",
                glm(0.0),
                policy=ThompsonSampling(),
                scheduler=UncertaintyTrigger(group, every=20),
            ),
            Agent(
                "EmpiricalBayes",
                glm(1.0),
                policy=ThompsonSampling(),
                scheduler=EmpiricalBayes((group,), every=20),
            ),
        ]
        result = run_bandit(env, agents, seed=1, checkpoints=[horizon])
        regret = result.regret.groupby("agent", sort=False).pseudo_regret.mean()
        fixed = regret[[f"fixed {v:g}" for v in family]]
        best = fixed.min()
        escalated = result.events[result.events.old == 0.0].groupby("agent").replicate.nunique()
        print(
            f"**interactions {'present' if scale else 'absent'}** (interaction_scale "
            f"{scale}); best fixed: {fixed.idxmin()}\n"
        )
        print("| agent | regret | ratio to the best fixed | replicates escalated from 0 |")
        print("| --- | --- | --- | --- |")
        for name, value in regret.items():
            count = int(escalated.get(name, 0))
            shown = "" if name.startswith("fixed") or name == "EmpiricalBayes" else f"{count}/{r}"
            print(f"| {name} | {value:.1f} | {value / best:.2f} | {shown} |")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections", nargs="+", default=["laplace", "bandit", "throughput", "escalation"]
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--peer-replicates", type=int, default=10)
    parser.add_argument("--throughput-replicates", type=int, default=1000)
    parser.add_argument("--throughput-horizon", type=int, default=500)
    parser.add_argument("--escalation-replicates", type=int, default=50)
    parser.add_argument("--escalation-horizon", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine_note()} (shared with other jobs: compare ratios within a run)")
    if "laplace" in args.sections:
        laplace_section(args.seeds)
    if "bandit" in args.sections:
        bandit_section(args.replicates, args.horizon, args.peer_replicates)
    if "throughput" in args.sections:
        throughput_section(args.throughput_replicates, args.throughput_horizon, args.repeats)
    if "escalation" in args.sections:
        escalation_section(args.escalation_replicates, args.escalation_horizon)
    pd.set_option("display.width", 120)


if __name__ == "__main__":
    main()
