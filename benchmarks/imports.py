"""Import time of regretlab's core against ``import numpy, scipy.linalg`` (issue 19).

Each statement runs in a fresh interpreter, alternating, ``--repeats`` times, with bytecode
cached as for an installed package (``PYTHONDONTWRITEBYTECODE`` dropped, the cache under a
temporary ``PYTHONPYCACHEPREFIX``); the medians and their ratio are printed, with the heavy
modules found in ``sys.modules`` after the core import.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/imports.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _timing import machine_note

CORE = "import regretlab.simulate, regretlab.learners, regretlab.policies, regretlab.environments"
PEER = "import numpy, scipy.linalg"
HEAVY = ("pandas", "pyarrow", "matplotlib", "river", "dask", "tqdm", "scipy.stats")


# As an installed package runs: bytecode cached (here under a temporary prefix, not in src/).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="regretlab-pycache-")


def _seconds(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    _seconds(CORE), _seconds(PEER)  # warm the file cache
    core, peer, bare = [], [], []
    for _ in range(args.repeats):
        core.append(_seconds(CORE))
        peer.append(_seconds(PEER))
        bare.append(_seconds("pass"))
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{CORE}; import sys; print([m for m in {HEAVY!r} if m in sys.modules])",
        ],
        check=True,
        env=ENV,
        capture_output=True,
        text=True,
    ).stdout.strip()
    c, p, b = (statistics.median(v) for v in (core, peer, bare))
    print(machine_note())
    print(f"median of {args.repeats} fresh interpreters (wall, interpreter start included):")
    print(f"  python -c pass                 {b * 1e3:7.0f} ms")
    print(f"  {PEER:30s} {p * 1e3:7.0f} ms")
    print(f"  regretlab core (4 subpackages) {c * 1e3:7.0f} ms")
    print(
        f"core / numpy+scipy.linalg: {c / p:.2f}x (imports alone, start-up subtracted: "
        f"{(c - b) / (p - b):.2f}x)"
    )
    print(f"heavy modules loaded by the core import: {loaded}")


if __name__ == "__main__":
    main()
