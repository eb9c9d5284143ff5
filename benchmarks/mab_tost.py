"""Equivalence with one peer on one instance at many replicates, resumable (issue 17).

``benchmarks/mab.py --parts peers`` runs a peer in one process and keeps nothing; a peer that
steps one replicate at a time at 1-2k steps/s (MABWiser) needs about an hour of one core for
the ~500-700 replicates Thompson sampling's spread asks for on the ``rare`` instance. This script
splits that work into chunks of replicates saved as they finish (``run``; several processes can
share a range, and a killed run resumes where it stopped), and tests equivalence on what is
saved (``report``).

Replicate ``i`` of the peer steps on replicate ``i``'s reward table of
``MultiArmedBandit(means, seed=1)`` (child ``i`` of the seed: the same table at any replicate
count) with the peer's seed ``1000 + i``, as in ``mab.py``; the measure is the pseudo-regret
``sum_t (mu* - mu_{a_t})`` (the gaps of the pulled arms, no reward noise), as ours.

Two TOSTs of the ratio of mean pseudo-regrets ours / peer in [0.95, 1.05], alpha 0.05 per side:

- **two-sample (primary)**: Welch's test on ours at ``--ours-replicates`` (cheap: all in
  lockstep) against the peer's ``n`` replicates; H0 ``mu_o - c mu_p <= 0`` (c = 0.95), resp.
  ``>= 0`` (c = 1.05), with ``se^2 = s_o^2 / n_o + c^2 s_p^2 / n_p`` and the Welch-Satterthwaite
  degrees of freedom. The peer's Thompson draws are its own, so only the reward tables can be
  shared, and they leave the two runs' pseudo-regrets weakly correlated (0.26 in the run of
  RESULTS.md; printed): pairing removes little of the variance, while a large ``n_o`` removes
  ours's half of it. (The first replicates of ours share their tables with the peer's; the
  covariance this leaves between the two means is positive and about ``rho s_o s_p / n_o``,
  so Welch's standard error slightly overstates the true one: conservative.)
- **paired**: ours on the peer's replicates (the same tables) against the peer, as ``mab.py``.

Run from the repository root (each ``run`` at ``nice``, in the background)::

    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/mab_tost.py run --start 0 --stop 500
    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/mab_tost.py run --start 500 --stop 1000
    OPENBLAS_NUM_THREADS=1 python benchmarks/mab_tost.py ours --ours-replicates 10000
    OPENBLAS_NUM_THREADS=1 python benchmarks/mab_tost.py report --ours-replicates 10000
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from _timing import machine_note
from mab import INSTANCES, agents, ratio_interval, run_mabwiser, run_river, tost_ratio
from regretlab._random import children
from regretlab.environments import MultiArmedBandit
from regretlab.simulate import run_bandit

RUNNERS = {"river": run_river, "mabwiser": run_mabwiser}
ENV_SEED, PEER_SEED = 1, 1000


def _name(args: argparse.Namespace) -> str:
    return f"{args.peer}_{args.rule}_{args.instance}_T{args.horizon}"


def table(means: list[float], horizon: int, i: int) -> np.ndarray:
    """Replicate ``i``'s reward table ``(T, K)`` of ``MultiArmedBandit(means, seed=1)``."""
    env = MultiArmedBandit(
        means, horizon=horizon, n_replicates=None, seed=children(ENV_SEED, i + 1)[i]
    )
    return np.concatenate([b.rewards for b in env.blocks()], axis=0)


def run(args: argparse.Namespace) -> None:
    out = Path(args.out) / _name(args)
    out.mkdir(parents=True, exist_ok=True)
    means = INSTANCES[args.instance]
    mu = np.asarray(means)
    for first in range(args.start, args.stop, args.chunk):
        path = out / f"{first:06d}.npz"
        if path.exists():
            continue
        ids = np.arange(first, min(first + args.chunk, args.stop))
        start = time.process_time()
        values = np.array(
            [
                RUNNERS[args.peer](args.rule, table(means, args.horizon, i), mu, PEER_SEED + int(i))
                for i in ids
            ]
        )
        cpu = time.process_time() - start
        part = path.with_suffix(".part.npz")
        np.savez(part, ids=ids, regret=values, cpu_seconds=cpu)
        part.rename(path)
        print(
            f"{path.name}: {len(ids)} replicates, {len(ids) * args.horizon / cpu:,.0f} "
            "replicate-steps/s (CPU)",
            flush=True,
        )


def welch_tost(ours: np.ndarray, peer: np.ndarray, low: float = 0.95, high: float = 1.05):
    """Two-sample (Welch) TOST that mean(ours) / mean(peer) lies in [low, high]: the two
    one-sided p-values (H0 ``mu_o - c mu_p <= 0`` for ``c = low``, ``>= 0`` for ``c = high``)."""
    vo, vp = ours.var(ddof=1) / len(ours), peer.var(ddof=1) / len(peer)
    p = []
    for c, side in ((low, stats.t.sf), (high, stats.t.cdf)):
        var = vo + c * c * vp
        df = var**2 / (vo**2 / (len(ours) - 1) + (c * c * vp) ** 2 / (len(peer) - 1))
        p.append(float(side((ours.mean() - c * peer.mean()) / math.sqrt(var), df)))
    return p[0], p[1]


def welch_ratio_interval(ours: np.ndarray, peer: np.ndarray, level: float = 0.90):
    """Delta-method interval of mean(ours) / mean(peer) on independent samples."""
    ratio = ours.mean() / peer.mean()
    vo, vp = ours.var(ddof=1) / len(ours), peer.var(ddof=1) / len(peer)
    se = math.sqrt(vo + ratio**2 * vp) / peer.mean()
    half = stats.norm.ppf(0.5 + level / 2) * se
    return ratio - half, ratio + half


def ours_regret(args: argparse.Namespace, n_ours: int) -> tuple[np.ndarray, float]:
    """Our final pseudo-regrets at ``n_ours`` replicates and replicate-steps/s (CPU), computed
    once and saved beside the peer's chunks (the ``ours`` command computes them ahead)."""
    path = Path(args.out) / _name(args) / f"ours_R{n_ours}.npz"
    if path.exists():
        saved = np.load(path)
        return saved["regret"], float(saved["rate"])
    means = INSTANCES[args.instance]
    env = MultiArmedBandit(means, horizon=args.horizon, n_replicates=n_ours, seed=ENV_SEED)
    agent = agents(len(means), n_ours)[args.rule]
    start = time.process_time()
    result = run_bandit(env, [agent], seed=9, checkpoints=np.array([args.horizon]))
    rate = n_ours * args.horizon / (time.process_time() - start)
    regret = result.regret["pseudo_regret"].to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, regret=regret, rate=rate)
    return regret, rate


def report(args: argparse.Namespace) -> None:
    out = Path(args.out) / _name(args)
    parts = [np.load(p) for p in sorted(out.glob("[0-9]*[0-9].npz"))]
    ids = np.concatenate([p["ids"] for p in parts])
    peer = np.concatenate([p["regret"] for p in parts])
    cpu = sum(float(p["cpu_seconds"]) for p in parts)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("a replicate was saved twice")
    n_ours = max(args.ours_replicates, int(ids.max()) + 1)
    ours, ours_rate = ours_regret(args, n_ours)
    paired = ours[ids]
    print(machine_note())
    print(
        f"{args.peer} {args.rule} on {args.instance}, T = {args.horizon}: peer n = {len(peer)} "
        f"(replicates {ids.min()}..{ids.max()}), ours n = {n_ours}"
    )
    print(f"correlation of paired pseudo-regrets: {np.corrcoef(paired, peer)[0, 1]:.3f}")
    print(
        f"ours {ours.mean():.2f} (sd {ours.std(ddof=1):.2f}), ours paired {paired.mean():.2f}, "
        f"peer {peer.mean():.2f} (sd {peer.std(ddof=1):.2f})"
    )
    for label, (p_lo, p_hi), (lo, hi), ratio in (
        (
            "two-sample (Welch)",
            welch_tost(ours, peer),
            welch_ratio_interval(ours, peer),
            ours.mean() / peer.mean(),
        ),
        (
            "paired",
            tost_ratio(paired, peer),
            ratio_interval(paired, peer),
            paired.mean() / peer.mean(),
        ),
    ):
        verdict = "equivalent" if max(p_lo, p_hi) < 0.05 else "NOT shown equivalent"
        print(
            f"{label}: ratio {ratio:.3f} [90%: {lo:.3f}, {hi:.3f}], p (<= 0.95) {p_lo:.2g}, "
            f"p (>= 1.05) {p_hi:.2g}: {verdict}"
        )
    print(
        f"speed (CPU): ours {ours_rate:,.0f} replicate-steps/s at R = {n_ours}, peer "
        f"{len(peer) * args.horizon / cpu:,.0f} one replicate at a time "
        f"({ours_rate / (len(peer) * args.horizon / cpu):.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "ours", "report"])
    parser.add_argument("--peer", default="mabwiser", choices=list(RUNNERS))
    parser.add_argument("--rule", default="beta_ts", choices=["ucb1", "beta_ts"])
    parser.add_argument("--instance", default="rare", choices=list(INSTANCES))
    parser.add_argument("--horizon", type=int, default=10_000)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=800)
    parser.add_argument("--chunk", type=int, default=10)
    parser.add_argument("--ours-replicates", type=int, default=20_000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "mab_tost"))
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    elif args.command == "ours":
        ours_regret(args, args.ours_replicates)
    else:
        report(args)


if __name__ == "__main__":
    main()
