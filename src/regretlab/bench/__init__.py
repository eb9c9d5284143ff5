"""``regretlab bench``: replicate-steps per second of the learners and policies, in context.

Each (R, d) point is timed beside a frozen bare numpy reference loop
(:mod:`regretlab.bench.reference`) and the installed peers (river, MABWiser, Vowpal Wabbit)
in the same run, and the machine's own ceilings are measured first (copy bandwidth, matmul
GFLOP/s; :mod:`regretlab.bench.machine`), so that every rate comes with its ratio to the
reference and its share of what the hardware does (a roofline: the bytes and flops one
replicate-step needs at least, stated per kernel in :data:`regretlab.bench.kernels.KERNELS`).
"""

from __future__ import annotations

import importlib
import os
import platform
from collections.abc import Iterable
from typing import Any, NamedTuple

from regretlab.bench.bandits import bandit_timings
from regretlab.bench.kernels import KERNELS, Timing, learner_timings
from regretlab.bench.machine import Ceilings, measure_ceilings

__all__ = ["PEERS", "BenchReport", "BenchRow", "bench_markdown", "run_bench"]

PEERS = ("river", "mabwiser", "vowpalwabbit")
"""The peer libraries timed when installed (their import names)."""

# (R, d) points: predict-then-learn, bandits; then steps per point and per peer, repeats.
_FULL = {"learners": ((100, 22), (1000, 22), (1000, 56)), "bandits": ((100, 6), (1000, 6))}
_QUICK = {"learners": ((4, 3),), "bandits": ((4, 3),)}


class BenchRow(NamedTuple):
    """One line of the table: a rate with its ratio to the reference loop and its roofline.

    >>> row = BenchRow("sgd", "regretlab", "SGD", 10, 3, 2e6, 0.5, 0.048, 0.01, 0.024, 0.001)
    >>> row.ratio
    0.5
    """

    kernel: str
    role: str
    implementation: str
    n_replicates: int
    dim: int
    rate: float
    ratio: float
    gbs: float
    bandwidth_share: float
    gflops: float
    flops_share: float


class BenchReport(NamedTuple):
    """What :func:`run_bench` measured: the machine, its ceilings, the rows, what was skipped.

    >>> BenchReport("m", Ceilings(5.0, 40.0), [], ["vowpalwabbit: not installed"]).skipped
    ['vowpalwabbit: not installed']
    """

    machine: str
    ceilings: Ceilings
    rows: list[BenchRow]
    skipped: list[str]


def _peers(names: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    found, skipped = {}, []
    for name in names:
        if name not in PEERS:
            raise ValueError(f"peers must be among {list(PEERS)}, got {name!r}")
        try:
            found[name] = importlib.import_module(name)
        except Exception as exc:  # a peer that fails to import is skipped, and said so
            skipped.append(f"{name}: not importable ({type(exc).__name__}: {exc})")
    return found, skipped


def _rows(timings: list[Timing], ceilings: Ceilings) -> list[BenchRow]:
    """Each timing with its ratio to the reference of its kernel (else the point's first)."""
    refs = {t.kernel: t.rate for t in timings if t.role == "reference"}
    first = next(t.rate for t in timings if t.role == "reference")
    rows = []
    for t in timings:
        kernel = KERNELS[t.kernel]
        gbs = t.rate * kernel.bytes(t.dim) / 1e9
        gflops = t.rate * kernel.flops(t.dim) / 1e9
        share = (gbs / ceilings.copy_gbs, gflops / ceilings.matmul_gflops)
        ratio = t.rate / refs.get(t.kernel, first)
        rows.append(
            BenchRow(
                t.kernel,
                t.role,
                t.implementation,
                t.n_replicates,
                t.dim,
                t.rate,
                ratio,
                gbs,
                share[0],
                gflops,
                share[1],
            )
        )
    return rows


def machine_note() -> str:
    """Python, numpy, cores, BLAS threads and load average: where the numbers come from.

    >>> "numpy" in machine_note()
    True
    """
    import numpy as np

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"OPENBLAS_NUM_THREADS={threads}, load average {load}"
    )


def run_bench(
    *, quick: bool = False, peers: Iterable[str] = PEERS, repeats: int | None = None
) -> BenchReport:
    """Measure the ceilings, then every point: reference, ours, the installed peers.

    ``quick`` runs tiny sizes (seconds; the rates are then dominated by Python overhead, for
    checking the command, not for quoting); ``repeats`` is the number of runs whose best is
    kept (default 3, quick 1).

    >>> report = run_bench(quick=True, peers=())
    >>> sorted({row.role for row in report.rows})
    ['reference', 'regretlab']
    """
    found, skipped = _peers(peers)
    sizes = _QUICK if quick else _FULL
    repeats = (1 if quick else 3) if repeats is None else repeats
    if quick:
        ceilings = measure_ceilings(copy_mb=4.0, matmul_n=128, repeats=2)
    else:
        ceilings = measure_ceilings()
    rows: list[BenchRow] = []
    for r, d in sizes["learners"]:
        steps = 10 if quick else max(20, round(3e8 / (r * d * d)))
        peer_steps = 10 if quick else 1000
        rows += _rows(learner_timings(r, d, steps, peer_steps, repeats, found), ceilings)
    for r, d in sizes["bandits"]:
        steps = 10 if quick else max(20, round(2e5 / r))
        peer_steps = 10 if quick else 500
        rows += _rows(bandit_timings(r, d, steps, peer_steps, repeats, found), ceilings)
    return BenchReport(machine_note(), ceilings, rows, skipped)


def bench_markdown(report: BenchReport, command: str = "regretlab bench") -> str:
    """The report as the Markdown section ``regretlab bench`` of ``benchmarks/RESULTS.md``.

    >>> row = BenchRow("sgd", "regretlab", "SGD", 10, 3, 2e6, 0.5, 0.048, 0.01, 0.024, 0.001)
    >>> text = bench_markdown(BenchReport("m", Ceilings(5.0, 40.0), [row], []))
    >>> text.splitlines()[0], "| sgd | SGD | 10 | 3 | 2.00M | 0.5 |" in text
    ('## regretlab bench', True)
    """
    c = report.ceilings
    lines = [
        "## regretlab bench",
        "",
        f"    {command}",
        "",
        f"{report.machine}. Ceilings measured in the same run (one thread): copy "
        f"{c.copy_gbs:.2f} GB/s (bytes copied per second), matmul {c.matmul_gflops:.1f} "
        "GFLOP/s (float64). Rates are replicate-steps per second, the best of the repeats; "
        "peers step one stream (R = 1: their steps per second), ours step R replicates in "
        "lockstep. `x ref` is the rate over the frozen bare numpy loop "
        "(`regretlab.bench.reference`) of the same kernel and point (bandits: the disjoint "
        "Thompson-sampling loop); GB/s and GFLOP/s count the least bytes and flops a "
        "replicate-step needs (below), so their shares are a roofline.",
        "",
        "| kernel | implementation | R | d | replicate-steps/s | x ref | GB/s | % copy bw "
        "| GFLOP/s | % matmul |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report.rows:
        r = 1 if row.role == "peer" else row.n_replicates
        lines.append(
            f"| {row.kernel} | {row.implementation} | {r} | {row.dim} | {_si(row.rate)} | "
            f"{row.ratio:.3g} | {row.gbs:.3g} | {100 * row.bandwidth_share:.2g}% | "
            f"{row.gflops:.3g} | {100 * row.flops_share:.2g}% |"
        )
    lines += ["", "Kernels (least work per replicate-step, d design columns):", ""]
    lines += [f"- `{k.name}`: {k.what}" for k in KERNELS.values()]
    if report.skipped:
        lines += ["", "Skipped: " + "; ".join(report.skipped) + "."]
    return "\n".join(lines) + "\n"


def _si(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.1f}"
