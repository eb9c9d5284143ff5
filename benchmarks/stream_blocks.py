"""What a block of ``InteractionStream`` costs: numpy's generators against the compiled draws.

``run_prequential`` reads the stream in blocks sized by its memory budget (113 steps at R =
1000, x_dim 6; 59 at x_dim 10), where the stream alone would be read in one block. With numpy
every block costs two generator calls per replicate (inputs, noise); with numba installed the
stream draws every replicate's block in one compiled loop (``learners/_pcg64_kernel``,
``_stream_source``), the same numbers. Here ``blocks(size)`` is read to the end for several
sizes, both ways, in one process, interleaved: CPU time, median of the rounds; the blocks of
the two ways are compared bit for bit first.

``--runner`` also times ``run_prequential`` (``BayesianLinearRegression``, R = 1000, one
checkpoint) and the stream alone (one block) both ways, alternating in every round of one
process: the paired differences say what the compiled draws save the runner and the stream
alone, so the change of the runner's own cost, ``(runner saved - stream saved) / learner``, is
read from pairs measured moments apart rather than from totals of separate processes.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stream_blocks.py [--runner]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import regretlab.environments.interactions as interactions
from regretlab.environments import InteractionStream

R = 1000
POINTS = {6: 600, 10: 150}  # x_dim: steps, as benchmarks/prequential_overhead.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--runner", action="store_true", help="also run_prequential, paired")
    args = parser.parse_args()
    compiled = interactions.compiled_stream_draws
    if compiled() is None:
        raise SystemExit("numba is not installed (or REGRETLAB_NUMBA=0): nothing to compare")
    ways = {"compiled": compiled, "numpy": lambda: None}
    print("| x_dim | steps | block | blocks | numpy ms | compiled ms | same bits |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for x_dim, steps in POINTS.items():
        env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
        sizes = sorted({steps, 113, 59, 30}, reverse=True)
        same = True
        for size in sizes:
            made = {}
            for name, way in ways.items():
                interactions.compiled_stream_draws = way  # type: ignore[assignment]
                made[name] = [tuple(np.array(a) for a in b) for b in env.blocks(size)]
            same &= all(
                np.array_equal(u, v)
                for a, b in zip(made["compiled"], made["numpy"], strict=True)
                for u, v in zip(a, b, strict=True)
            )
        times: dict[tuple[str, int], list[float]] = {(w, s): [] for w in ways for s in sizes}
        for _ in range(args.rounds):
            for name, way in ways.items():
                interactions.compiled_stream_draws = way  # type: ignore[assignment]
                for size in sizes:
                    start = time.process_time()
                    for _block in env.blocks(size):
                        pass
                    times[name, size].append(time.process_time() - start)
        interactions.compiled_stream_draws = compiled
        for size in sizes:
            numpy_ms, compiled_ms = (1e3 * np.median(times[w, size]) for w in ("numpy", "compiled"))
            print(
                f"| {x_dim} | {steps} | {size} | {-(-steps // size)} | {numpy_ms:.1f} | "
                f"{compiled_ms:.1f} | {same} |",
                flush=True,
            )
    if args.runner:
        _runner(ways, args.rounds)


def _runner(ways: dict[str, Any], rounds: int) -> None:
    """run_prequential and the stream alone, numpy's draws and the compiled ones, paired."""
    from regretlab.learners import BayesianLinearRegression
    from regretlab.simulate import Agent, run_prequential

    compiled = ways["compiled"]
    print(
        "\n| x_dim | rounds | runner ms, numpy / compiled | stream ms, numpy / compiled "
        "| runner saves ms | stream saves ms | (runner - stream saved) ms |"
    )
    print("| ---: | ---: | --- | --- | ---: | ---: | ---: |")
    for x_dim, steps in POINTS.items():
        env = InteractionStream(x_dim=x_dim, horizon=steps, n_replicates=R, seed=0)
        agent = Agent("b", BayesianLinearRegression(groups=env.features, n_replicates=R))

        def runner(env: Any = env, agent: Any = agent, steps: int = steps) -> None:
            run_prequential(env, [agent], checkpoints=[steps])

        def stream(env: Any = env) -> None:
            for _block in env.blocks():
                pass

        parts = {"runner": runner, "stream": stream}
        times: dict[tuple[str, str], list[float]] = {(w, k): [] for w in ways for k in parts}
        for i in range(rounds + 1):  # the first round warms (compiles, imports pandas)
            order = list(ways) if i % 2 == 0 else list(ways)[::-1]
            for name in order:
                interactions.compiled_stream_draws = ways[name]
                for key, fn in parts.items():
                    start = time.process_time()
                    fn()
                    if i:
                        times[name, key].append(time.process_time() - start)
        interactions.compiled_stream_draws = compiled
        ms = {k: 1e3 * np.asarray(v) for k, v in times.items()}
        saved = {k: ms["numpy", k] - ms["compiled", k] for k in parts}
        print(
            f"| {x_dim} | {rounds} | {np.median(ms['numpy', 'runner']):.0f} / "
            f"{np.median(ms['compiled', 'runner']):.0f} | {np.median(ms['numpy', 'stream']):.0f} / "
            f"{np.median(ms['compiled', 'stream']):.0f} | {np.median(saved['runner']):.1f} | "
            f"{np.median(saved['stream']):.1f} | "
            f"{np.median(saved['runner'] - saved['stream']):+.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
