"""Contextual bandits (issue 4): our lockstep agents against river, MABWiser and Vowpal Wabbit.

One environment, ``LinearBandit(n_actions=5, context_dim=5, interaction_scale=1.0,
noise_level=1.0)``: the per-action design of the disjoint models is ``[1, x]`` (d = 6), the
shared models use the environment's ``ActionFeatures`` (36 columns). Every agent of a replicate
sees the same contexts and the same realised rewards: ours through ``run_bandit``, the peers
step by step on the replicate's ``env.blocks()`` arrays, each fed the reward of the action it
picked (the environment draws the reward of every action).

- Regret: final cumulative pseudo-regret on ``--replicates`` replicates (peers and ours on the
  same ones), mean with a 95% interval, and the paired difference to our disjoint Thompson
  sampling. Ours also on the ``--throughput-replicates`` replicates (the first ``--replicates``
  of them are the same replicates: children of one seed).
- Speed: ours in replicate-steps per second at ``R = --throughput-replicates`` with the steps
  pre-generated (agent and runner only), and for one stream; the peers in steps per second (they
  process one replicate at a time; their inputs are formatted before the clock starts). Our
  disjoint Thompson sampling is also timed end to end (environment included) and as a bare
  select/learn loop without the runner, best of ``--repeats``.

Settings are matched where the peers allow it: prior variance 1 and noise precision 1 for ours,
``alpha=1, beta=1`` for river (its ``alpha`` is a prior precision), ``l2_lambda=1`` for MABWiser,
exploration multipliers 1. river and MABWiser get the intercept as an explicit feature (neither
fits one); Vowpal Wabbit adds its own constant and uses its default exploration (epsilon-greedy,
epsilon = 0.05), cost = -reward. MABWiser cannot predict before its first fit, so its first step
takes action 0 (its ``argmax`` choice among tied untrained arms).

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bandits.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/bandits.py --quick
    OPENBLAS_NUM_THREADS=1 python benchmarks/bandits.py --peers river mabwiser-lints
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from river.bandit import LinUCBDisjoint

from _timing import best_of, machine_note
from regretlab.environments import BanditStep, LinearBandit
from regretlab.features import InteractionFeatures
from regretlab.learners import BayesianLinearRegression, DisjointBayesianLinearRegression
from regretlab.policies import EpsilonGreedy, LinUCB, Oracle, Random, ThompsonSampling
from regretlab.simulate import Agent, run_bandit

try:
    from regretlab.simulate import summarise
except ImportError:  # commits before 1fff67a (run as 'today' by bandit_throughput.py --baseline)
    from regretlab.results import summarise  # type: ignore[no-redef]

try:
    from mabwiser.mab import MAB, LearningPolicy
except ImportError as exc:  # a `bench` extra: the MABWiser peers are skipped without it
    MAB = LearningPolicy = None
    MABWISER_MISSING = f"mabwiser not importable ({exc})"
else:
    MABWISER_MISSING = ""

try:
    import vowpalwabbit
except ImportError as exc:
    vowpalwabbit = None
    VW_MISSING = f"vowpalwabbit not importable ({exc}); `pip install vowpalwabbit` to run it"
else:
    VW_MISSING = ""

K, C = 5, 5
REFERENCE = "ours disjoint TS"
NARROWER = (0.5, 0.25)  # ThompsonSampling(scale=...) also reported
PEERS = ("river", "mabwiser-linucb", "mabwiser-lints", "vw", "vw-q")
# The agent of ours each peer is set against in the speed ratios (same model and exploration
# family where one exists; VW's default exploration is epsilon-greedy).
MATCHED = {
    "river LinUCBDisjoint": "ours disjoint LinUCB",
    "MABWiser LinUCB": "ours disjoint LinUCB",
    "MABWiser LinTS": "ours disjoint TS",
    "VW cb_explore_adf": "ours disjoint eps-greedy",
    "VW cb_explore_adf -q sa": "ours disjoint eps-greedy",
}
E2E, REPLAYED = "end to end (environment + runner + agent)", "pre-generated steps (runner + agent)"


# Branches of the seed tree under --seed.
ENV, AGENTS, PEER_SEEDS, TIMING = range(4)


def child(seed: int, *key: int) -> np.random.SeedSequence:
    """A fresh ``SeedSequence`` equal to ``SeedSequence(seed)``'s child at ``key``.

    Made anew for every use: ``spawn`` advances the object it is called on (``LinearBandit`` and
    ``run_bandit`` spawn from their seed), so a reused object would give other children.
    """
    return np.random.SeedSequence(seed, spawn_key=key)


def make_env(n_replicates: int | None, horizon: int, seed: int) -> LinearBandit:
    """The benchmark's bandit; for any ``n_replicates`` replicate ``r`` is the same data."""
    return LinearBandit(
        n_actions=K,
        context_dim=C,
        interaction_scale=1.0,
        noise_level=1.0,
        horizon=horizon,
        n_replicates=n_replicates,
        seed=child(seed, ENV),
    )


def our_agents(env: LinearBandit) -> dict[str, Agent]:
    """Our agents for ``env``: disjoint models on ``[1, x]``, shared ones on ``ActionFeatures``."""
    fm = InteractionFeatures(C, pairwise=False)
    r = env.n_replicates

    def disjoint() -> DisjointBayesianLinearRegression:
        return DisjointBayesianLinearRegression(
            groups=fm, n_actions=K, prior_variance=1.0, noise_precision=1.0, n_replicates=r
        )

    def shared() -> BayesianLinearRegression:
        return BayesianLinearRegression(
            groups=env.features, prior_variance=1.0, noise_precision=1.0, n_replicates=r
        )

    agents = [
        Agent("ours disjoint LinUCB", disjoint(), fm, LinUCB(alpha=1.0)),
        Agent("ours disjoint TS", disjoint(), fm, ThompsonSampling()),
        Agent("ours shared LinUCB", shared(), None, LinUCB(alpha=1.0)),
        Agent("ours shared TS", shared(), None, ThompsonSampling()),
        Agent("ours disjoint eps-greedy", disjoint(), fm, EpsilonGreedy(epsilon=0.05)),
        Agent("random", policy=Random()),
        Agent("oracle", policy=Oracle()),
        # Posterior sampling with narrower draws (Agrawal and Goyal's v, MABWiser's alpha):
        # not tuned, two round values, reported side by side with the exact posterior.
        *(
            Agent(f"ours disjoint TS scale {v:g}", disjoint(), fm, ThompsonSampling(scale=v))
            for v in NARROWER
        ),
    ]
    return {a.name: a for a in agents}


class Replay:
    """Steps of a bandit generated beforehand, served through ``blocks()``: times agents alone.

    The steps are held time-major, ``(T, R, ...)``, so that the runner's per-step slices are
    contiguous, as they are for the environment's own blocks. That is ``R T (c + 2K)`` floats,
    240 MB at R = 1000, T = 2000: the price of timing the agents without the environment.
    """

    def __init__(self, env: LinearBandit) -> None:
        self.n_actions, self.context_dim = env.n_actions, env.context_dim
        self.horizon, self.n_replicates, self.features = env.horizon, env.n_replicates, env.features
        self._label = repr(env)
        r, t = env.n_replicates, env.horizon
        self._steps = BanditStep(np.empty((t, r, C)), np.empty((t, r, K)), np.empty((t, r, K)))
        start = 0
        for block in env.blocks():
            m = block.context.shape[1]
            for out, array in zip(self._steps, block, strict=True):
                out[start : start + m] = array.swapaxes(0, 1)
            start += m

    def blocks(self, block_size: int | None = None) -> Iterator[BanditStep]:
        size = self.horizon if block_size is None else block_size
        for start in range(0, self.horizon, size):
            yield BanditStep(*(a[start : start + size].swapaxes(0, 1) for a in self._steps))

    @property
    def steps(self) -> BanditStep:
        """Time-major ``(T, R, ...)`` arrays."""
        return self._steps

    def __repr__(self) -> str:
        return self._label


def final_regret(table: pd.DataFrame, horizon: int) -> pd.DataFrame:
    last = table[table["step"] == horizon]
    return last[["agent", "replicate", "pseudo_regret"]].reset_index(drop=True)


def run_ours(
    env: object, agents: list[Agent], seed: np.random.SeedSequence, horizon: int
) -> tuple[pd.DataFrame, float]:
    """Final regret of ``agents`` (lockstep, one run) and its wall time."""
    start = time.perf_counter()
    result = run_bandit(env, agents, seed=seed, checkpoints=np.array([horizon]))
    return final_regret(result.regret, horizon), time.perf_counter() - start


# -- peers: ``(context (T, c), rewards (T, K), seed) -> (actions (T,), seconds)`` -----------------
# Inputs are formatted before the clock starts; the clock covers choosing and learning.
Peer = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, float]]


def river_linucb(context: np.ndarray, rewards: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    names = ("1", *(f"x{i}" for i in range(C)))
    rows = [dict(zip(names, (1.0, *row), strict=True)) for row in context.tolist()]
    reward_list = rewards.tolist()
    arms = list(range(K))
    policy = LinUCBDisjoint(alpha=1.0, beta=1.0, seed=seed)
    actions = np.empty(len(rows), dtype=int)
    start = time.perf_counter()
    for t, x in enumerate(rows):
        arm = policy.pull(arms, x)
        policy.update(arm, x, reward_list[t][arm])
        actions[t] = arm
    return actions, time.perf_counter() - start


def mabwiser(learning_policy: Callable[[], object]) -> Peer:
    def run(context: np.ndarray, rewards: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
        rows = np.concatenate([np.ones((len(context), 1)), context], axis=1)
        mab = MAB(list(range(K)), learning_policy(), seed=seed)
        actions = np.empty(len(rows), dtype=int)
        start = time.perf_counter()
        for t in range(len(rows)):
            x = rows[t : t + 1]
            # No prediction before the first fit: step 1 takes argmax's choice among ties.
            arm = 0 if t == 0 else int(mab.predict(x))
            mab.partial_fit([arm], [rewards[t, arm]], x)
            actions[t] = arm
        return actions, time.perf_counter() - start

    return run


def vowpal(crosses: bool) -> Peer:
    def run(context: np.ndarray, rewards: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
        shared = [
            "shared |s " + " ".join(f"x{i}:{v:.9g}" for i, v in enumerate(row))
            for row in context.tolist()
        ]
        arms = [f"|a a{k}" for k in range(K)]
        costs = (-rewards).tolist()
        options = f"--cb_explore_adf --quiet --random_seed {seed}" + (" -q sa" if crosses else "")
        vw = vowpalwabbit.Workspace(options, enable_logging=False)
        rng = np.random.default_rng(seed)
        u = rng.random(len(shared)).tolist()
        actions = np.empty(len(shared), dtype=int)
        start = time.perf_counter()
        for t, line in enumerate(shared):
            pmf = vw.predict([line, *arms])
            # Inverse-cdf draw with our generator: VW's float32 pmf need not sum to 1 exactly.
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
        return actions, time.perf_counter() - start

    return run


def available_peers(selected: list[str]) -> tuple[dict[str, Peer], list[str]]:
    """The selected peers that can run here, and a note for each one skipped."""
    table: dict[str, tuple[str, Peer | None, str]] = {
        "river": ("river LinUCBDisjoint", river_linucb, ""),
        "mabwiser-linucb": (
            "MABWiser LinUCB",
            mabwiser(lambda: LearningPolicy.LinUCB(alpha=1.0, l2_lambda=1.0)),
            MABWISER_MISSING,
        ),
        "mabwiser-lints": (
            "MABWiser LinTS",
            mabwiser(lambda: LearningPolicy.LinTS(alpha=1.0, l2_lambda=1.0)),
            MABWISER_MISSING,
        ),
        "vw": ("VW cb_explore_adf", vowpal(crosses=False), VW_MISSING),
        "vw-q": ("VW cb_explore_adf -q sa", vowpal(crosses=True), VW_MISSING),
    }
    peers, skipped = {}, []
    for key in selected:
        name, run, missing = table[key]
        if missing:
            skipped.append(f"{name} skipped: {missing}")
        else:
            peers[name] = run
    return peers, skipped


def run_peers(
    peers: dict[str, Peer], env: LinearBandit, seed: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every peer on every replicate of ``env``; final regret rows and steps per second."""
    data = Replay(env).steps
    best = data.means.max(axis=-1)
    rows, rates = [], {}
    for p, (name, run) in enumerate(peers.items()):
        seconds = 0.0
        for r in range(env.n_replicates):
            # Peers take int seeds: converted at the boundary (DESIGN.md, Randomness).
            int_seed = int(child(seed, PEER_SEEDS, p, r).generate_state(1)[0] >> 1)
            actions, elapsed = run(data.context[:, r], data.rewards[:, r], int_seed)
            seconds += elapsed
            chosen = data.means[np.arange(env.horizon), r, actions]
            rows.append((name, r, float(np.sum(best[:, r] - chosen))))
        rates[name] = env.n_replicates * env.horizon / seconds
        print(f"  {name:28s} {rates[name]:>12,.0f} steps/s", flush=True)
    return pd.DataFrame(rows, columns=["agent", "replicate", "pseudo_regret"]), rates


# -- our throughput -------------------------------------------------------------------------
def time_ours(
    replay: Replay, agents: dict[str, Agent], seed: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Each agent alone on the pre-generated steps: final regret and replicate-steps/s."""
    frames, rates = [], {}
    total = replay.n_replicates * replay.horizon
    for i, agent in enumerate(agents.values()):
        regret, seconds = run_ours(replay, [agent], child(seed, TIMING, 1, i), replay.horizon)
        frames.append(regret)
        rates[agent.name] = total / seconds
        print(f"  {agent.name:28s} {rates[agent.name]:>12,.0f} replicate-steps/s", flush=True)
    return pd.concat(frames, ignore_index=True), rates


def time_one_stream(horizon: int, seed: int, names: list[str]) -> dict[str, float]:
    """Steps per second of each agent on one stream (no replicate axis), like the peers."""
    env = make_env(None, horizon, seed)
    agents = our_agents(env)
    return {
        name: horizon / run_ours(env, [agents[name]], child(seed, TIMING, 0), horizon)[1]
        for name in names
        if name in agents
    }


def time_ts_goal(
    replicates: int, horizon: int, seed: int, replay: Replay, repeats: int
) -> dict[str, float]:
    """Our disjoint TS at ``R = replicates``: end to end, on replayed steps, and bare."""
    total = replicates * horizon
    agent = our_agents(make_env(replicates, horizon, seed))[REFERENCE]

    def best(fn: Callable[[], object]) -> float:
        return total / best_of(fn, repeats)

    def bare() -> None:
        # Features, select and learn_one only: what the runner adds is the difference.
        model, fm, policy = agent.learner.clone(), agent.features, agent.policy
        rng = np.random.default_rng(child(seed, TIMING, 2))
        rows = np.arange(replicates)
        steps = replay.steps
        for t in range(horizon):
            x = fm.transform(steps.context[t])
            designs = np.broadcast_to(x[:, None, :], (replicates, K, x.shape[-1]))
            actions = policy.select(model, designs, rng, step=t + 1).actions
            model.learn_one(x, steps.rewards[t][rows, actions], action=actions)

    return {
        E2E: best(
            # The environment is built inside the clock: its truth and seeds are part of it.
            lambda: run_ours(
                make_env(replicates, horizon, seed), [agent], child(seed, TIMING, 2), horizon
            )
        ),
        REPLAYED: best(lambda: run_ours(replay, [agent], child(seed, TIMING, 2), horizon)),
        "bare select/learn loop (agent only)": best(bare),
    }


# -- reporting ------------------------------------------------------------------------------


def interval(row: pd.Series) -> str:
    return f"{row['mean']:.1f} [{row['lower']:.1f}, {row['upper']:.1f}]"


def paired(table: pd.DataFrame, agent: str, reference: str) -> pd.Series:
    """Regret of ``agent`` minus ``reference``, paired over replicates: mean and 95% interval."""
    wide = table.pivot(index="replicate", columns="agent", values="pseudo_regret")
    diff = pd.DataFrame({"pair": "diff", "value": wide[agent] - wide[reference]})
    return summarise(diff, ["pair"], "value").iloc[0]


def verdict(diff: pd.Series) -> str:
    """Reading of ``ours - peer``: lower, equal within the interval, or higher."""
    if diff["upper"] < 0:
        return "lower"
    return "equal within the 95% interval" if diff["lower"] <= 0 else "HIGHER"


def rate(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def report(
    regret: pd.DataFrame,
    big: pd.DataFrame,
    rates: dict[str, float],
    one_stream: dict[str, float],
    peer_rates: dict[str, float],
    args: argparse.Namespace,
) -> None:
    small = summarise(regret, ["agent"], "pseudo_regret").set_index("agent")
    large = summarise(big, ["agent"], "pseudo_regret").set_index("agent")
    r = args.throughput_replicates
    print(
        f"\nfinal pseudo-regret at T={args.horizon}: {args.replicates} replicates shared by "
        f"all, and {r} for ours; speed: ours replicate-steps/s at R={r} (steps pre-generated) "
        "and steps/s on one stream, peers steps/s\n"
    )
    print(
        f"| agent | regret, {args.replicates} reps | paired diff vs {REFERENCE} | "
        f"regret, {r} reps | replicate-steps/s, R={r} | steps/s, one stream |"
    )
    print("| --- | --- | --- | --- | ---: | ---: |")
    for name in small.index:
        d = "" if name == REFERENCE else interval(paired(regret, name, REFERENCE))
        lg = interval(large.loc[name]) if name in large.index else ""
        single = one_stream.get(name, peer_rates.get(name))
        print(
            f"| {name} | {interval(small.loc[name])} | {d} | {lg} | {rate(rates.get(name))} | "
            f"{rate(single)} |"
        )


def report_ratios(
    regret: pd.DataFrame,
    rates: dict[str, float],
    one_stream: dict[str, float],
    peer_rates: dict[str, float],
    ts_modes: dict[str, float],
    args: argparse.Namespace,
) -> None:
    if not peer_rates:
        return
    r = args.throughput_replicates
    print(
        f"\nours / peer: speed ratios (ours at R={r} with pre-generated steps, or one stream) "
        f"and the paired regret difference ours - peer over {args.replicates} replicates\n"
    )
    print(
        f"| peer | steps/s | matched ours | regret diff ours - peer | ratio, R={r} | "
        f"ratio, one stream | {REFERENCE} R={r} end to end / peer |"
    )
    print("| --- | ---: | --- | --- | ---: | ---: | ---: |")
    for name, value in peer_rates.items():
        ours = MATCHED[name]
        print(
            f"| {name} | {value:,.0f} | {ours} | {interval(paired(regret, ours, name))} | "
            f"{rates[ours] / value:,.0f}x | {one_stream[ours] / value:.2f}x | "
            f"{ts_modes[E2E] / value:,.0f}x |"
        )


def report_goals(
    regret: pd.DataFrame,
    ts_modes: dict[str, float],
    peer_rates: dict[str, float],
    rates: dict[str, float],
) -> None:
    e2e, replayed = ts_modes[E2E], ts_modes[REPLAYED]
    print(f"\ngoals ({REFERENCE}, K=5, d=6, lockstep)")
    print(
        f"  >= 1M replicate-steps/s: end to end {e2e:,.0f} "
        f"({'met' if e2e >= 1e6 else 'NOT met'}); "
        f"pre-generated {replayed:,.0f} ({'met' if replayed >= 1e6 else 'NOT met'})"
    )
    for peer, target in (("river LinUCBDisjoint", 100), ("MABWiser LinTS", 500)):
        if peer not in peer_rates:
            print(f"  >= {target}x {peer}: not measured (peer skipped)")
            continue
        for mode, value in (("end to end", e2e), ("pre-generated", replayed)):
            ratio = value / peer_rates[peer]
            print(
                f"  >= {target}x {peer} ({mode}): {ratio:,.0f}x "
                f"({'met' if ratio >= target else 'NOT met'})"
            )
        diff = paired(regret, REFERENCE, peer)
        print(f"  regret {REFERENCE} - {peer}: {interval(diff)} -> ours {verdict(diff)}")
        for v in NARROWER:
            name = f"{REFERENCE} scale {v:g}"
            diff = paired(regret, name, peer)
            print(
                f"  {name} (pre-generated, {rates[name] / peer_rates[peer]:,.0f}x): regret - "
                f"{peer}: {interval(diff)} -> ours {verdict(diff)}"
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=20, help="replicates shared with peers")
    parser.add_argument("--horizon", type=int, default=2000)
    parser.add_argument("--throughput-replicates", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="best of, for the TS timings")
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="3 replicates, T=300, R=100")
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.horizon, args.throughput_replicates, args.repeats = 3, 300, 100, 1
    if args.replicates < 2 or args.throughput_replicates < args.replicates:
        parser.error("need 2 <= --replicates <= --throughput-replicates")
    return args


def main() -> None:
    args = parse_args()
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    env_note = f"OPENBLAS_NUM_THREADS={threads} " if threads else ""
    print(f"command: {env_note}python {' '.join(sys.argv)}")
    print(machine_note())
    peers, skipped = available_peers(args.peers)
    for note in skipped:
        print(note)

    env = make_env(args.replicates, args.horizon, args.seed)
    print(f"\n{env!r}\nours, {args.replicates} replicates in lockstep (regret)", flush=True)
    ours_small, _ = run_ours(
        env, list(our_agents(env).values()), child(args.seed, AGENTS), args.horizon
    )
    print("peers, one replicate at a time", flush=True)
    peer_regret, peer_rates = run_peers(peers, env, args.seed)
    regret = pd.concat([ours_small, peer_regret], ignore_index=True)

    # The first args.replicates replicates of this environment are the ones above.
    big_env = make_env(args.throughput_replicates, args.horizon, args.seed)
    replay = Replay(big_env)
    agents = our_agents(big_env)
    print(f"\nours, R={args.throughput_replicates}, steps pre-generated, one run each", flush=True)
    big, rates = time_ours(replay, agents, args.seed)
    print("ours, one stream", flush=True)
    one_stream = time_one_stream(args.horizon, args.seed, list(agents))
    print(f"\n{REFERENCE}, R={args.throughput_replicates}, best of {args.repeats}")
    ts_modes = time_ts_goal(
        args.throughput_replicates, args.horizon, args.seed, replay, args.repeats
    )
    for mode, value in ts_modes.items():
        print(f"  {mode:45s} {value:>12,.0f} replicate-steps/s")

    report(regret, big, rates, one_stream, peer_rates, args)
    report_ratios(regret, rates, one_stream, peer_rates, ts_modes, args)
    report_goals(regret, ts_modes, peer_rates, rates)


if __name__ == "__main__":
    main()
