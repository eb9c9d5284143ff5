"""Classic multi-armed bandits (issue 17): regret against the Lai-Robbins bound, equivalence with
MABWiser and river, and lockstep throughput against bare numpy loops.

Instances (Bernoulli arms, fixed):

- ``spread``: means ``[0.1, 0.3, 0.5, 0.7, 0.9]`` (K = 5, spread over [0.1, 0.9]);
- ``rare``: means ``[0.02, 0.04, 0.06, 0.08, 0.1]`` (K = 5, all <= 0.1).

1. Regret (``--horizon``, default 10^4; ``--replicates``, default 200): UCB1 (``alpha = 1``),
   KL-UCB (Bernoulli, ``c = 0``) and Beta-TS (``Beta(1, 1)`` prior) through ``run_bandit``;
   mean final pseudo-regret with a 95% interval and its ratio to the Lai-Robbins bound
   ``sum_{a: gap > 0} gap_a / KL(mu_a, mu*) * log T`` (reported, not gated: finite-horizon
   ratios below 1 are legitimate).
2. Peers (``--peer-horizon``, default 10^4; ``--peer-replicates``, default 200; ``--instances``
   to run one instance; a peer replicate-step costs 7-230 us, so run each peer and rule as its
   own process, see RESULTS.md): MABWiser ``UCB1(alpha=1)`` and
   ``ThompsonSampling()`` (Beta(1, 1) counters), river ``UCB(delta=1)`` and
   ``ThompsonSampling(proba.Beta(1, 1))``, each stepped on the same reward tables as ours (the
   first replicates of our environment: common random numbers, so the comparison is paired).
   Exploration constants aligned: all use ``mean + 1 * sqrt(2 log N / n)`` with N the pulls so
   far. Equivalence: two one-sided paired t tests (TOST, alpha 0.05 each) that the ratio of
   mean regrets ours / peer lies in [0.95, 1.05] (H0: ``mean(ours - 0.95 peer) <= 0`` or
   ``mean(ours - 1.05 peer) >= 0``), with the ratio's 90% interval beside it. Speed:
   replicate-steps per second, ours at R = the peer's replicate count (environment included)
   against the peer's single-replicate loop.
3. Throughput (``--throughput-replicates``, default 1000; K = 10 arms with means
   ``linspace(0.05, 0.95, 10)``): Beta-TS, UCB1 and KL-UCB through ``run_bandit`` (environment
   included) against a bare numpy lockstep loop each (draw the reward table, draw or compute the
   index, argmax, update), best of ``--repeats`` alternated runs; and both again on the same
   pre-generated steps (``Replay``: the runner and agent alone against the bare loop reading the
   table). The bare KL-UCB loop calls the same vectorised index solver
   (:func:`regretlab.policies._kl.kl_index`): the ratio is the framework's overhead.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/mab.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/mab.py --quick
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from _timing import best_of, machine_note
from regretlab.environments import ArmStep, MultiArmedBandit
from regretlab.learners import ArmMeans, BetaBernoulli
from regretlab.policies import KLUCB, UCB1, ConjugateThompsonSampling
from regretlab.policies._kl import kl_divergence, kl_index
from regretlab.simulate import Agent, run_bandit

try:  # absent from checkouts before issue 17's fourth session (bandit_throughput.py's "today")
    from regretlab.learners import _arm_kernels
except ImportError:  # pragma: no cover
    _arm_kernels = None  # type: ignore[assignment]

INSTANCES = {
    "spread": [0.1, 0.3, 0.5, 0.7, 0.9],
    "rare": [0.02, 0.04, 0.06, 0.08, 0.1],
}
THROUGHPUT_MEANS = np.linspace(0.05, 0.95, 10)


def lai_robbins(means: list[float], horizon: int) -> float:
    """``sum_{a: gap > 0} gap_a / KL(mu_a, mu*) * log T`` for Bernoulli arms."""
    mu = np.asarray(means)
    best = mu.max()
    sub = mu < best
    gap = best - mu[sub]
    return float(
        np.sum(gap / kl_divergence(mu[sub], np.full(sub.sum(), best), "bernoulli"))
    ) * math.log(horizon)


def agents(k: int, r: int) -> dict[str, Agent]:
    return {
        "ucb1": Agent("ucb1", ArmMeans(n_actions=k, n_replicates=r), policy=UCB1(alpha=1.0)),
        "klucb": Agent("klucb", ArmMeans(n_actions=k, n_replicates=r), policy=KLUCB("bernoulli")),
        "beta_ts": Agent(
            "beta_ts",
            BetaBernoulli(n_actions=k, n_replicates=r),
            policy=ConjugateThompsonSampling(),
        ),
    }


# --- throughput ------------------------------------------------------------------------------


class Replay:
    """Steps of a bandit generated beforehand, time-major ``(T, R, K)``, served through
    ``blocks()``: times the runner and the agent without the environment."""

    def __init__(self, env: MultiArmedBandit) -> None:
        self.n_actions, self.context_dim = env.n_actions, env.context_dim
        self.horizon, self.n_replicates, self.features = env.horizon, env.n_replicates, env.features
        blocks = list(env.blocks())
        self.steps = [
            np.ascontiguousarray(
                np.concatenate([getattr(b, f) for b in blocks], axis=1).swapaxes(0, 1)
            )
            for f in ("context", "rewards", "means", "best")
        ]

    def blocks(self, block_size: int | None = None):
        size = self.horizon if block_size is None else block_size
        for start in range(0, self.horizon, size):
            parts = [a[start : start + size] for a in self.steps]
            yield ArmStep(*(p.swapaxes(0, 1) for p in parts[:3]), parts[3].T)


def bare_ts(means: np.ndarray, r: int, horizon: int, seed: int, table=None) -> None:
    rng = np.random.default_rng(seed)
    k = len(means)
    a, b = np.ones((r, k)), np.ones((r, k))
    rows = np.arange(r)
    for t in range(horizon):
        table_t = (rng.random((r, k)) < means).astype(float) if table is None else table[t]
        act = rng.beta(a, b).argmax(axis=1)
        y = table_t[rows, act]
        a[rows, act] += y
        b[rows, act] += 1.0 - y


def _bare_index(means: np.ndarray, r: int, horizon: int, seed: int, kl: bool, table=None) -> None:
    rng = np.random.default_rng(seed)
    k = len(means)
    n, s = np.zeros((r, k)), np.zeros((r, k))
    rows = np.arange(r)
    for t in range(horizon):
        table_t = (rng.random((r, k)) < means).astype(float) if table is None else table[t]
        if t < k:
            act = np.full(r, t)
        else:
            mean = s / n
            if kl:
                index = kl_index(mean, math.log(t) / n, "bernoulli")
            else:
                index = mean + np.sqrt(2.0 * math.log(t) / n)
            act = index.argmax(axis=1)
        n[rows, act] += 1.0
        s[rows, act] += table_t[rows, act]


def _cpu_seconds(fn) -> float:
    """The process's CPU time of one run (on a machine shared by many busy processes the wall
    time measures mostly the scheduler)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def throughput(r: int, horizon: int, repeats: int, cpu: bool = False) -> list[str]:
    k = len(THROUGHPUT_MEANS)
    env = MultiArmedBandit(THROUGHPUT_MEANS, horizon=horizon, n_replicates=r, seed=3)
    made = agents(k, r)
    replay = Replay(env)
    table = replay.steps[1]
    mu = THROUGHPUT_MEANS
    bare = {
        "beta_ts": lambda t=None: bare_ts(mu, r, horizon, 4, table=t),
        "ucb1": lambda t=None: _bare_index(mu, r, horizon, 4, kl=False, table=t),
        "klucb": lambda t=None: _bare_index(mu, r, horizon, 4, kl=True, table=t),
    }
    kernels = None if _arm_kernels is None else _arm_kernels.compiled("first_max")
    compiled = "numpy" if kernels is None else "numba"
    lines = [
        f"Throughput: K = {k}, R = {r}, {horizon} steps, best of {repeats} alternated runs "
        f"({'CPU' if cpu else 'wall'} time; replicate-steps/s; per-arm kernels: {compiled}). "
        "End to end: run_bandit with the environment against a bare loop "
        "that draws its own reward table (one generator); replayed: both read the same "
        "pre-generated steps (the runner and agent against the bare loop).",
        "",
        "| rule | run_bandit, end to end | bare loop, own draws | ratio | run_bandit, replayed "
        "| bare loop, replayed | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    last = np.array([horizon])
    for name, agent in made.items():
        run_bandit(env, [agent], seed=5, checkpoints=last)  # compiles the kernels (numba)
        # Alternated, best of each: all see the same load of the (shared) machine.
        best = dict.fromkeys(("ours", "loop", "ours_replay", "loop_replay"), math.inf)
        runs = {
            "ours": lambda a=agent: run_bandit(env, [a], seed=5, checkpoints=last),
            "loop": bare[name],
            "ours_replay": lambda a=agent: run_bandit(replay, [a], seed=5, checkpoints=last),
            "loop_replay": lambda n=name: bare[n](table),
        }
        for _ in range(repeats):
            for key, run in runs.items():
                best[key] = min(best[key], _cpu_seconds(run) if cpu else best_of(run, 1))
        rate = {key: r * horizon / value for key, value in best.items()}
        lines.append(
            f"| {name} | {rate['ours']:,.0f} | {rate['loop']:,.0f} | "
            f"{rate['ours'] / rate['loop']:.3f} | {rate['ours_replay']:,.0f} | "
            f"{rate['loop_replay']:,.0f} | {rate['ours_replay'] / rate['loop_replay']:.3f} |"
        )
        print(lines[-1], flush=True)
    return lines


def _times(fn, n: int) -> None:
    for _ in range(n):  # the results are dropped at once: no memory piles up
        fn()


def ucb1_step_costs(r: int, repeats: int) -> list[str]:
    """CPU microseconds per step of the pieces of a UCB1 step at ``r`` replicates, K = 10 arms,
    on a learner trained 200 steps (what the framework does beyond the bare loop)."""
    from regretlab.simulate._accounting import chosen_cells as _chosen

    k, rng = len(THROUGHPUT_MEANS), np.random.default_rng(0)
    model, policy = ArmMeans(n_actions=k, n_replicates=r), UCB1(alpha=1.0)
    x = np.zeros((r, k))
    for _ in range(200):
        model.learn_one(x, (rng.random(r) < 0.5).astype(float), action=rng.integers(0, k, r))
    n, s, rows = model.n_seen, model.n_seen * model.reward_mean, np.arange(r)
    choice = policy.select(model, x, rng, step=201)
    acts, y, prob = choice.actions, np.zeros(r), np.ones(r)
    index = policy.index(model)
    untied = index + rng.random(index.shape) * 1e-9

    def bare_select() -> None:
        (s / n + np.sqrt(2.0 * math.log(200) / n)).argmax(axis=1)

    from regretlab.policies.arms import _index_choice

    pieces = {
        "bare loop: index and argmax (numpy)": bare_select,
        "UCB1.index (the learner's arrays)": lambda: policy.index(model),
        "choice, with a tie-break (ties somewhere)": lambda: _index_choice(index, rng),
        "choice, no tie anywhere": lambda: _index_choice(untied, rng),
        "tie-break keys, rng.random((R, K))": lambda: rng.random((r, k)),
        "UCB1.select, whole": lambda: policy.select(model, x, rng, step=201),
        "ArmMeans.learn_one with propensity": lambda: model.learn_one(
            x, y, action=acts, probability=prob
        ),
        "runner: action check (_chosen)": lambda: _chosen(acts, rows * k, k),
    }
    lines = [f"UCB1 step pieces, R = {r}, K = {k} (CPU us per call, best of {repeats} x 200)"]
    for label, fn in pieces.items():
        best = min(_cpu_seconds(lambda f=fn: _times(f, 200)) for _ in range(repeats))
        lines.append(f"  {label:40s} {best / 200 * 1e6:8.1f}")
        print(lines[-1], flush=True)
    return lines


# --- regret ----------------------------------------------------------------------------------


def _interval(x: np.ndarray) -> str:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return f"{x.mean():.1f} [{x.mean() - half:.1f}, {x.mean() + half:.1f}]"


def final_regret(env: MultiArmedBandit, agent: Agent) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = run_bandit(env, [agent], seed=9, checkpoints=np.array([env.horizon]))
    elapsed = time.perf_counter() - start
    return result.regret["pseudo_regret"].to_numpy(), elapsed


def regret(r: int, horizon: int) -> tuple[list[str], dict]:
    lines = [
        f"Regret: R = {r}, T = {horizon}; final pseudo-regret, mean [95% interval]",
        "",
        "| instance | rule | regret | Lai-Robbins bound | regret / bound |",
        "| --- | --- | --- | --- | --- |",
    ]
    kept = {}
    for name, means in INSTANCES.items():
        env = MultiArmedBandit(means, horizon=horizon, n_replicates=r, seed=1)
        bound = lai_robbins(means, horizon)
        for rule, agent in agents(len(means), r).items():
            values, elapsed = final_regret(env, agent)
            kept[name, rule] = (values, r * horizon / elapsed)
            lines.append(
                f"| {name} | {rule} | {_interval(values)} | {bound:.1f} | "
                f"{values.mean() / bound:.3f} |"
            )
            print(lines[-1], flush=True)
    return lines, kept


# --- peers -----------------------------------------------------------------------------------


def _river(rule: str, seed: int):
    from river import bandit, proba

    if rule == "ucb1":
        return bandit.UCB(delta=1.0, seed=seed)
    return bandit.ThompsonSampling(reward_obj=proba.Beta(1, 1), seed=seed)


def run_river(rule: str, table: np.ndarray, means: np.ndarray, seed: int) -> float:
    policy = _river(rule, seed)
    arms = list(range(table.shape[1]))
    best, regret = means.max(), 0.0
    for t in range(len(table)):
        arm = policy.pull(arms)
        policy.update(arm, bool(table[t, arm]) if rule == "beta_ts" else table[t, arm])
        regret += best - means[arm]
    return regret


def run_mabwiser(rule: str, table: np.ndarray, means: np.ndarray, seed: int) -> float:
    from mabwiser.mab import MAB, LearningPolicy

    k = table.shape[1]
    learning = (
        LearningPolicy.UCB1(alpha=1.0) if rule == "ucb1" else LearningPolicy.ThompsonSampling()
    )
    mab = MAB(list(range(k)), learning, seed=seed)
    # UCB1 pulls every arm once first (MABWiser leaves an unpulled arm's index at 0, where ours
    # and river's are infinite); Thompson sampling takes arm 0 first (MABWiser cannot predict
    # before a fit).
    first = k if rule == "ucb1" else 1
    best, regret = means.max(), 0.0
    for t in range(len(table)):
        arm = t % k if t < first else int(mab.predict())
        if t == 0:
            mab.fit([arm], [table[t, arm]])
        else:
            mab.partial_fit([arm], [table[t, arm]])
        regret += best - means[arm]
    return regret


def tost_ratio(ours: np.ndarray, peer: np.ndarray, low: float = 0.95, high: float = 1.05):
    """Paired TOST that mean(ours) / mean(peer) lies in [low, high]: the two one-sided p-values."""
    n = len(ours)
    d_low, d_high = ours - low * peer, ours - high * peer
    t_low = d_low.mean() / (d_low.std(ddof=1) / math.sqrt(n))
    t_high = d_high.mean() / (d_high.std(ddof=1) / math.sqrt(n))
    return float(stats.t.sf(t_low, n - 1)), float(stats.t.cdf(t_high, n - 1))


def ratio_interval(ours: np.ndarray, peer: np.ndarray, level: float = 0.90) -> tuple[float, float]:
    """Delta-method interval of mean(ours) / mean(peer) on paired replicates (the 90% interval
    lies inside [0.95, 1.05] exactly when the TOST at 0.05 per side passes, up to the delta
    method's linearisation)."""
    n = len(ours)
    ratio = ours.mean() / peer.mean()
    se = (ours - ratio * peer).std(ddof=1) / math.sqrt(n) / peer.mean()
    half = stats.t.ppf(0.5 + level / 2, n - 1) * se
    return float(ratio - half), float(ratio + half)


def peers(
    r: int, horizon: int, names: list[str], rules: list[str], instances: list[str]
) -> list[str]:
    runners = {"river": run_river, "mabwiser": run_mabwiser}
    lines = [
        f"Peers: {r} replicates, T = {horizon}, the same reward tables as ours (paired); "
        "TOST of the ratio of mean regrets in [0.95, 1.05] (alpha 0.05 each side)",
        "",
        "| instance | rule | peer | R | ours | peer regret | ratio ours / peer [90%] "
        "| p (ratio <= 0.95) | p (ratio >= 1.05) | equivalent | ours steps/s (R) | peer steps/s "
        "| speed ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for instance in instances:
        means = INSTANCES[instance]
        mu = np.asarray(means)
        env = MultiArmedBandit(means, horizon=horizon, n_replicates=r, seed=1)
        tables = np.concatenate([b.rewards for b in env.blocks()], axis=1)  # (R, T, K)
        for rule, agent in agents(len(means), r).items():
            if rule == "klucb":
                continue
            if rule not in rules:
                continue
            ours, elapsed = final_regret(env, agent)
            rate = r * horizon / elapsed
            for peer in names:
                start = time.perf_counter()
                values = np.array(
                    [runners[peer](rule, tables[i], mu, seed=1000 + i) for i in range(r)]
                )
                peer_rate = r * horizon / (time.perf_counter() - start)
                p_low, p_high = tost_ratio(ours, values)
                lo, hi = ratio_interval(ours, values)
                lines.append(
                    f"| {instance} | {rule} | {peer} | {r} | {_interval(ours)} | "
                    f"{_interval(values)} | {ours.mean() / values.mean():.3f} "
                    f"[{lo:.3f}, {hi:.3f}] | {p_low:.2g} | {p_high:.2g} | "
                    f"{'yes' if max(p_low, p_high) < 0.05 else 'no'} | {rate:,.0f} | "
                    f"{peer_rate:,.0f} | {rate / peer_rate:.0f}x |"
                )
                print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=10_000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--peer-horizon", type=int, default=10_000)
    parser.add_argument("--peer-replicates", type=int, default=200)
    parser.add_argument("--peers", nargs="*", default=["river", "mabwiser"])
    parser.add_argument("--rules", nargs="*", default=["ucb1", "beta_ts"])
    parser.add_argument("--instances", nargs="*", default=list(INSTANCES), choices=list(INSTANCES))
    parser.add_argument("--throughput-replicates", type=int, default=1000)
    parser.add_argument("--throughput-horizon", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="throughput by CPU time, not wall")
    parser.add_argument("--parts", nargs="*", default=["throughput", "regret", "peers"])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.horizon, args.replicates = 1000, 20
        args.peer_horizon, args.peer_replicates = 300, 10
        args.throughput_replicates, args.throughput_horizon, args.repeats = 100, 50, 1
    print(machine_note(), flush=True)
    out: list[str] = []
    if "throughput" in args.parts:
        sizes = (args.throughput_replicates, args.throughput_horizon, args.repeats)
        out += [*throughput(*sizes, cpu=args.cpu), ""]
    if "ucb1-costs" in args.parts:
        out += [*ucb1_step_costs(args.throughput_replicates, args.repeats), ""]
    if "regret" in args.parts:
        out += [*regret(args.replicates, args.horizon)[0], ""]
    if "peers" in args.parts:
        out += peers(
            args.peer_replicates, args.peer_horizon, args.peers, args.rules, args.instances
        )
    print("\n".join(out))


if __name__ == "__main__":
    main()
