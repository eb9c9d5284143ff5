"""What a block of ``InteractionStream`` costs: numpy's generators against the compiled draws.

``run_prequential`` reads the stream in blocks sized by its memory budget (113 steps at R =
1000, x_dim 6; 59 at x_dim 10), where the stream alone would be read in one block. With numpy
every block costs two generator calls per replicate (inputs, noise); with numba installed the
stream draws every replicate's block in one compiled loop (``learners/_pcg64_kernel``,
``_stream_source``), the same numbers. Here ``blocks(size)`` is read to the end for several
sizes, both ways, in one process, interleaved: CPU time, median of the rounds; the blocks of
the two ways are compared bit for bit first.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stream_blocks.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import regretlab.environments.interactions as interactions
from regretlab.environments import InteractionStream

R = 1000
POINTS = {6: 600, 10: 150}  # x_dim: steps, as benchmarks/prequential_overhead.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
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


if __name__ == "__main__":
    main()
