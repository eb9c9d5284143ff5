"""Issue 16, seventh session: which candidate Thompson sampling draws from, on the bandits.

Runs, on one of ``benchmarks/escalation.py``'s bandit scenarios (its environment seeds), the
benchmark's fixed ``context:action`` priors and ``ModelAveraging.recommended`` under several
rules for the candidate a Thompson draw comes from, in one lockstep loop over the same
environment block (contexts, noise: paired replicates). The draw rules:

- ``leader``: the candidate of highest weight (the default since the sixth session);
- ``mixture``: a candidate drawn by weight (exact model averaging);
- ``mixture to 2p``: by weight while fewer than ``2p`` observations identify the model, the
  leader after (the rule ``fit`` already uses for type-II fits);
- ``hysteresis 3``: the leader, but it changes only when a challenger's posterior odds against
  it exceed 3 (a Bayes factor Jeffreys calls substantial);
- ``loosest within 3``: from ``2p`` on, of the candidates whose posterior odds against the
  leader are above 1/3 (Occam's window at a Bayes factor of 3), the one with the largest
  ``context:action`` variance, then the largest shared scale (Thompson sampling pays more for
  a prior too narrow than too wide); the leader before ``2p``;
- ``off to 2p``: the leader among the ``context:action = 0`` candidates until ``2p``, the leader
  after (the group starts switched off until the model is identified);
- ``weak scale`` (eighth session): the leader among the candidates whose shared scale of the
  other groups is the grid's largest (the weak prior, 100, as every fixed prior's): the
  ``context:action`` variance (and the intercept's treatment) chosen by evidence, the main
  effects never shrunk in the draw;
- ``leader at weak scale``: the leader's ``context:action`` variance and intercept treatment, but
  the candidate with the weak shared scale (only the main effects' prior differs from the
  leader's);
- ``scale within 3``: the leader's ``context:action`` variance and intercept treatment, with the
  loosest shared scale whose posterior odds against the leader are above 1/3 (Occam's window
  at a Bayes factor of 3, over the main effects' prior only), at every step;
- ``leader, half decades``: the leader of a finer ``context:action`` grid (0 and the half
  decades 1e-3 .. 1e2, 11 positive values; prior mass 1/7 on 0 as the default's), the shared
  scales as the default's: the resolution of the evidence-fitted variance (this one changes
  the weights, so predictions too);
- ``loosest within 20``: ``loosest within 3`` with Occam's window at Raftery's factor 20
  (Madigan and Raftery 1994);
- ``moment-matched`` and ``leader, widened`` (ninth session, ``_draw_moments.py``): not a
  candidate's posterior but the mixture's first two moments (law of total variance), or the
  leader's posterior widened by the spread of the candidates' means about the leader's.

Every rule's generator makes the same calls (``random(R)``, then the noise and weight draws of
the whole candidate batch), and the rules share one policy seed, so two rules follow one
trajectory until the first step where their picks differ. The draw computes the sampling factor
for the picked candidates only; the draw is bit-identical to ``ModelAveraging.sample``'s
(``--check`` asserts it on a short run).

Recorded per agent and replicate: pseudo-regret at ``2p`` and ``T``; per rule, the leader's
``context:action`` variance and shared scale, leader changes after ``2p``, and, for every agent
after ``2p``, how often the Thompson action differs from the greedy action of the drawn posterior
(exploration rate) and the drawn posterior's predictive scale of the actions' mean rewards;
(eighth session) the drawn posterior's noise estimate ``b / a``, the squared error of its
mean's action values centred over the actions (what decides the arm: a per-context constant
does not), how often its greedy action is not the best one, the regret of every step and the
cumulative regret every 50 steps.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/escalation_bandit_draws.py --scenario bandit_i1 \
        --rules leader "mixture to 2p" "hysteresis 3" --replicates 100 --horizon 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import escalation as esc
from _bandit_draws_report import analyse
from _draw_moments import (
    MOMENT_RULES,
    check_moment_draws,
    check_moments,
    draw_moments,
    draw_rows,
    widths,
)
from regretlab.policies.escalation import ModelAveraging
from regretlab.policies.escalation._grids import _pick

GROUP = "context:action"
RULES = (
    "leader",
    "mixture",
    "mixture to 2p",
    "hysteresis 3",
    "off to 2p",
    "loosest within 3",
    "weak scale",
    "leader at weak scale",
    "scale within 3",
    "leader, half decades",
    "loosest within 20",
    *MOMENT_RULES,
)
BAYES_FACTOR = 3.0


class Rule:
    """The candidate a rule draws from, per replicate and step."""

    def __init__(self, name: str, bma: ModelAveraging, p: int) -> None:
        self.name, self.bma, self.p = name, bma, p
        self.values = bma.candidates[GROUP]
        self.current: np.ndarray | None = None
        scale, icpt = bma.candidates["context"], bma.candidates.get("intercept", self.values)
        weak = [
            np.flatnonzero(
                (self.values == v) & (np.isinf(icpt) == np.isinf(i)) & (scale == scale.max())
            )[0]
            for v, i in zip(self.values, icpt, strict=True)
        ]
        self.weak = np.array(weak)  # candidate -> its twin at the weak shared scale
        # candidate -> its twins (same context:action variance and intercept treatment) at every
        # shared scale, (G, S) from the tightest scale to the loosest
        twins = [
            np.flatnonzero((self.values == v) & (np.isinf(icpt) == np.isinf(i)))
            for v, i in zip(self.values, icpt, strict=True)
        ]
        self.twins = np.array([t[np.argsort(scale[t])] for t in twins])

    def pick(self, step: int, rng: np.random.Generator) -> np.ndarray:
        w = self.bma.weights  # (G, R)
        by_weight = _pick(w, "mixture", rng)  # every rule makes this generator call
        leader = np.argmax(w, axis=0)
        early = step < 2 * self.p
        if self.name == "mixture" or (self.name == "mixture to 2p" and early):
            return by_weight
        if self.name == "weak scale":
            scale = self.bma.candidates["context"]
            return np.argmax(np.where((scale == scale.max())[:, None], w, -1.0), axis=0)
        if self.name == "leader at weak scale":
            return self.weak[leader]
        if self.name == "scale within 3":
            cols = np.arange(w.shape[1])
            twins = self.twins[leader]  # (R, S)
            inside = w[twins, cols[:, None]] >= w[leader, cols][:, None] / BAYES_FACTOR
            loosest = twins.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)
            return twins[cols, loosest]
        if self.name == "off to 2p" and early:
            return np.argmax(np.where(self.values[:, None] == 0.0, w, -1.0), axis=0)
        if self.name.startswith("loosest within") and not early:
            factor = float(self.name.split()[-1])
            window = w >= w[leader, np.arange(w.shape[1])] / factor
            scale = self.bma.candidates["context"]
            rank = np.lexsort((scale, self.values))  # candidates from tightest to loosest
            order = np.empty_like(rank)
            order[rank] = np.arange(len(rank))
            return np.argmax(np.where(window, order[:, None], -1), axis=0)
        if self.name == "hysteresis 3":
            if self.current is None:
                self.current = leader
            cols = np.arange(w.shape[1])
            switch = w[leader, cols] > BAYES_FACTOR * w[self.current, cols]
            self.current = np.where(switch, leader, self.current)
            return self.current
        return leader


def run(
    scenario: str,
    rules: list[str],
    replicates: int,
    horizon: int,
    seed: int,
    extra: tuple[tuple[float, float], ...] = (),
    diagnose: bool = False,
) -> dict:
    sc = next(s for s in esc.BANDITS if s.name == scenario)
    index = (esc.SCENARIOS + esc.BANDITS).index(sc)
    env = esc.make_env(sc, index, replicates, horizon, seed)
    features = env.features
    p = features.n_features
    mode = esc.MODES["learned"]
    block = env.take(horizon)
    every = np.arange(replicates)
    agents: dict[str, Any] = {}
    for v in mode.grid:
        agents[esc.fixed_name(v)] = mode.learner(features, GROUP, v, sc.noise, replicates)
    for v, m in extra:  # diagnostics off the family: "extra v @ m" (the other groups at m)
        agents[f"extra {v:g} @ {m:g}"] = mode.learner(features, GROUP, v, sc.noise, replicates, m)
    for name in rules:
        bma = ModelAveraging.recommended(features, group=GROUP, n_replicates=replicates)
        if name == "leader, half decades":
            bma = ModelAveraging(
                learner=bma.learner,
                group=GROUP,
                grid=(0.0, *(10.0 ** (k / 2) for k in range(-6, 5))),
                other_grids=bma.other_grids,
                off_weight=1 / 7,
                draw="leader",
            )
        agents[name] = Rule(name, bma, p)
    rngs = {
        name: np.random.default_rng(esc.child(seed, esc.POLICY, index, 2000 if k >= 7 else k))
        for k, name in enumerate(agents)
    }
    regret = {name: np.zeros(replicates) for name in agents}
    at_2p: dict[str, np.ndarray] = {}
    explore = {name: np.zeros(replicates) for name in agents}
    width: dict[str, np.ndarray] = {}  # --widths: the leader's state, every rule's draw scale
    spread = {name: np.zeros(replicates) for name in agents}
    noise = {name: np.zeros(replicates) for name in agents}
    error = {name: np.zeros(replicates) for name in agents}
    wrong = {name: np.zeros(replicates) for name in agents}
    curve: dict[str, list] = {name: [] for name in agents}
    steps: dict[str, list] = {name: [] for name in agents}
    trace: dict[str, dict[str, list]] = {
        n: {"ca": [], "scale": [], "drawn": [], "drawn_scale": []} for n in rules
    }
    for t in range(horizon):
        designs = features.transform(block.context[:, t])  # (R, K, p)
        means = block.means[:, t]
        for name, agent in agents.items():
            rng = rngs[name]
            if isinstance(agent, Rule):
                pick = agent.pick(t, rng)
                rows = pick * replicates + every  # candidate-major batch
                if name in MOMENT_RULES:  # pick is the leader; the draw is the rule's own
                    w = agent.bma.weights
                    draw, mean, scale, sigma2 = draw_moments(agent.bma._inner, w, pick, name, rng)
                else:
                    draw, mean, scale, sigma2 = draw_rows(agent.bma._inner, rows, rng)
                leader = np.argmax(agent.bma.weights, axis=0)
                trace[name]["ca"].append(agent.values[leader])
                trace[name]["scale"].append(agent.bma.candidates["context"][leader])
                trace[name]["drawn"].append(agent.values[pick])
                trace[name]["drawn_scale"].append(agent.bma.candidates["context"][pick])
            else:
                draw, mean, scale, sigma2 = draw_rows(agent, every, rng)
            scores = np.einsum("rkp,rp->rk", designs, draw)
            action = np.argmax(scores, axis=1)
            if t >= 2 * p and diagnose and name == "leader":
                for key, v in widths(agent.bma._inner, agent.bma.weights, designs).items():
                    width[key] = width.get(key, 0.0) + v
            if t >= 2 * p:
                fitted = np.einsum("rkp,rp->rk", designs, mean)
                greedy = np.argmax(fitted, axis=1)
                explore[name] += action != greedy
                var = np.einsum("rkp,rpq,rkq->rk", designs, scale, designs)
                spread[name] += np.sqrt(np.maximum(var, 0.0)).mean(axis=1)
                noise[name] += sigma2
                gap = fitted - means
                error[name] += ((gap - gap.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
                wrong[name] += greedy != np.argmax(means, axis=1)
            x = designs[every, action]
            y = block.rewards[:, t][every, action]
            steps[name].append(means.max(axis=1) - means[every, action])
            regret[name] += steps[name][-1]
            learner = agent.bma if isinstance(agent, Rule) else agent
            learner.learn_one(x, y)
        if t + 1 == 2 * p:
            at_2p = {n: r.copy() for n, r in regret.items()}
        if (t + 1) % 50 == 0:
            for n, r in regret.items():
                curve[n].append(r.copy())
    after = horizon - 2 * p
    return {
        "regret": regret,
        "at_2p": at_2p,
        "explore": {n: v / after for n, v in explore.items()},
        "spread": {n: v / after for n, v in spread.items()},
        "noise": {n: v / after for n, v in noise.items()},
        "error": {n: v / after for n, v in error.items()},
        "wrong": {n: v / after for n, v in wrong.items()},
        "curve": {n: np.array(v) for n, v in curve.items()},
        "steps": {n: np.array(v, dtype=np.float32) for n, v in steps.items()},
        "trace": {n: {k: np.array(v) for k, v in d.items()} for n, d in trace.items()},
        "p": p,
        "widths": {n: v / after for n, v in width.items()},
    }


def check(scenario: str, replicates: int, horizon: int) -> None:
    """``draw_rows`` over the picked candidates equals ``ModelAveraging.sample`` bit for bit."""
    sc = next(s for s in esc.BANDITS if s.name == scenario)
    index = (esc.SCENARIOS + esc.BANDITS).index(sc)
    env = esc.make_env(sc, index, replicates, horizon, 5)
    features = env.features
    bma = ModelAveraging.recommended(features, group=GROUP, n_replicates=replicates, draw="mixture")
    block = env.take(horizon)
    every = np.arange(replicates)
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    for t in range(horizon):
        designs = features.transform(block.context[:, t])
        full = bma.sample(a)
        pick = _pick(bma.weights, "mixture", b)
        mine, *_ = draw_rows(bma._inner, pick * replicates + every, b)
        assert np.array_equal(full, mine), t
        _check_picks(bma, t, features.n_features)
        check_moment_draws(bma, t)
        action = np.argmax(np.einsum("rkp,rp->rk", designs, full), axis=1)
        bma.learn_one(designs[every, action], block.rewards[:, t][every, action])
    print(f"draw_rows equals ModelAveraging.sample bit for bit over {horizon} steps")
    print("the main-scale rules' picks hold their definitions at every step")
    check_moments()
    print("the moment rules' centre and scale match their definitions (loop, Monte Carlo)")
    print("on the learner's state at every step; with one candidate they draw as the leader")


def _check_picks(bma: ModelAveraging, step: int, p: int) -> None:
    """The eighth session's rules pick what their docstrings say, from ``bma``'s weights."""
    w, cols = bma.weights, np.arange(bma.weights.shape[1])
    ca, scale = bma.candidates[GROUP], bma.candidates["context"]
    flat = np.isinf(bma.candidates["intercept"])
    leader = np.argmax(w, axis=0)
    rng = np.random.default_rng(0)
    rule = Rule("leader at weak scale", bma, p)  # every candidate's twins, not only leaders'
    assert np.array_equal(ca[rule.weak], ca)
    assert np.array_equal(flat[rule.weak], flat)
    assert np.all(ca[rule.twins] == ca[:, None])
    assert np.all(flat[rule.twins] == flat[:, None])
    assert np.all(np.diff(scale[rule.twins], axis=1) > 0)
    if step == 0:  # also on random weights, where windows hold many candidates
        fake = SimpleNamespace(
            candidates=bma.candidates, weights=rng.dirichlet(np.ones(len(ca)), 50).T
        )
        _check_picks(fake, 2 * p, p)  # type: ignore[arg-type]
    if step >= 2 * p:  # Occam's window at 20: the loosest candidate inside it
        pick = Rule("loosest within 20", bma, p).pick(step, rng)
        inside = w >= w[leader, cols] / 20.0
        assert np.all(inside[pick, cols]), step
        key = ca * 1e6 + scale  # context:action first, then the shared scale
        assert np.all(key[pick] >= np.where(inside, key[:, None], -1).max(axis=0)), step
    for name in ("weak scale", "leader at weak scale", "scale within 3"):
        pick = Rule(name, bma, p).pick(step, rng)
        if name != "weak scale":  # the leader's context:action variance and intercept
            assert np.array_equal(ca[pick], ca[leader]), (name, step)
            assert np.array_equal(flat[pick], flat[leader]), (name, step)
        if name != "scale within 3":  # the weak prior's scale, the highest weight there
            assert np.all(scale[pick] == scale.max()), (name, step)
        if name == "weak scale":
            top = np.where((scale == scale.max())[:, None], w, -1.0).max(axis=0)
            assert np.array_equal(w[pick, cols], top), (name, step)
        if name == "scale within 3":  # inside the window, and no looser twin is
            assert np.all(w[pick, cols] >= w[leader, cols] / BAYES_FACTOR), (name, step)
            assert np.all(scale[pick] >= scale[leader]), (name, step)
            for r in cols:
                twins = (ca == ca[leader[r]]) & (flat == flat[leader[r]])
                looser = twins & (scale > scale[pick[r]])
                assert np.all(w[looser, r] < w[leader[r], r] / BAYES_FACTOR), (name, step, r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="bandit_i1")
    parser.add_argument("--rules", nargs="*", default=list(RULES), choices=RULES)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        help="fixed priors off the family, 'v@m': context:action at v, the other groups at m "
        "(diagnostics; never the best fixed prior of the analysis)",
    )
    parser.add_argument(
        "--widths",
        action="store_true",
        help="on the leader rule's posterior after 2p, the predictive scale each moment rule's "
        "draw would have (and the between term's, the leader's weight)",
    )
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--analyse", action="store_true", help="report on a previous run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/bandit_draws"))
    args = parser.parse_args()
    if args.check:
        check(args.scenario, 4, 120)
        return
    stem = args.out / f"{args.scenario}_R{args.replicates}_T{args.horizon}"
    if args.analyse:
        print(analyse(stem, args.seed))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.process_time()
    extra = tuple(tuple(float(v) for v in e.split("@")) for e in args.extra)
    res = run(
        args.scenario, args.rules, args.replicates, args.horizon, args.seed, extra, args.widths
    )
    if res["widths"]:
        pd.DataFrame(res["widths"]).to_csv(f"{stem}_widths.csv", index=False)
    pd.DataFrame(res["regret"]).to_csv(f"{stem}_regret.csv", index=False)
    pd.DataFrame(res["at_2p"]).to_csv(f"{stem}_regret2p.csv", index=False)
    pd.DataFrame(res["explore"]).to_csv(f"{stem}_explore.csv", index=False)
    pd.DataFrame(res["spread"]).to_csv(f"{stem}_spread.csv", index=False)
    for key in ("noise", "error", "wrong"):
        pd.DataFrame(res[key]).to_csv(f"{stem}_{key}.csv", index=False)
    np.savez(f"{stem}_curve.npz", **res["curve"])
    np.savez_compressed(f"{stem}_steps.npz", **res["steps"])  # per-step regret, (T, R)
    np.savez(
        f"{stem}_trace.npz",
        **{f"{n}|{k}": v for n, d in res["trace"].items() for k, v in d.items()},
    )
    print(f"{args.scenario}: {time.process_time() - start:.0f} s CPU")


if __name__ == "__main__":
    main()
