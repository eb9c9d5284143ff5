"""What numba adds to a process's resident memory (issue 19: the memory bar's "numba floor").

One fresh process per kernel choice reads ``/proc/self/status`` (VmRSS, with its anonymous and
file-backed parts) after each stage of a tiny ``run_prequential`` of
``BayesianLinearRegression`` (R = 10, x_dim = 4, T = 100): the core imports, ``llvmlite``'s
LLVM binding, ``numba``, the kernels the run asks for (``compile_kernel`` is wrapped to list
them) and their first call, then pandas and pyarrow (which the result tables load). A cold
compile of a kernel (no on-disk cache) costs more than loading a cached one: ``--cold`` points
numba's cache at a fresh directory. ``--trivial`` first loads a cached kernel that only sums a
vector, to show how much of the kernels' stage is numba's own start-up (its CPU target and
LLVM's code generator) rather than the size of regretlab's kernels.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/numba_floor.py [--cold] [--trivial]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

TRIVIAL = """
import numba


@numba.njit(cache=True)
def total(values):
    result = 0.0
    for value in values:
        result += value
    return result
"""

CHILD = r"""
import sys, time


def rss():
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}


stages = [("start", rss(), 0.0)]


def mark(name, since):
    stages.append((name, rss(), time.perf_counter() - since))


t = time.perf_counter()
import numpy, scipy.linalg  # noqa: E401
import regretlab.environments, regretlab.learners, regretlab.simulate  # noqa: E401
mark("numpy, scipy.linalg, regretlab core", t)
from regretlab.learners import _numba

asked = []
compile_kernel = _numba.compile_kernel


def logged(source, **options):
    asked.append(f"{source.__module__}.{source.__name__}")
    return compile_kernel(source, **options)


for module in [m for name, m in sys.modules.items() if name.startswith("regretlab")]:
    if getattr(module, "compile_kernel", None) is compile_kernel:
        module.compile_kernel = logged
if {numba}:
    t = time.perf_counter()
    import llvmlite.binding
    mark("llvmlite.binding (LLVM)", t)
    t = time.perf_counter()
    import numba
    mark("numba", t)
    if {trivial}:
        t = time.perf_counter()
        from floor_trivial_kernel import total

        total(numpy.ones(3))
        mark("a trivial cached kernel (a loop summing a vector), first call", t)
from regretlab.environments import InteractionStream
from regretlab.learners import BayesianLinearRegression
from regretlab.simulate import Agent, run_prequential
import regretlab.simulate.prequential as prequential

build = prequential._regret_table


def tables(*args):
    mark("the loop (kernels compiled or loaded, first calls)", loop_start)
    start = time.perf_counter()
    import pandas, pyarrow  # noqa: E401
    mark("pandas, pyarrow", start)
    return build(*args)


prequential._regret_table = tables
env = InteractionStream(x_dim=4, horizon=100, n_replicates=10, seed=0)
agent = Agent("b", BayesianLinearRegression(groups=env.features, n_replicates=10))
loop_start = time.perf_counter()
run_prequential(env, [agent])
mark("the tables built (s: the whole run)", loop_start)
previous = 0.0
for name, mem, seconds in stages:
    print(f"| {name} | {mem['VmRSS']:.0f} | {mem['VmRSS'] - previous:+.0f} | "
          f"{mem['RssAnon']:.0f} | {mem['RssFile']:.0f} | {seconds:.2f} |")
    previous = mem["VmRSS"]
print("kernels asked for:", asked or "none")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="numba's cache in a fresh directory")
    parser.add_argument(
        "--trivial",
        action="store_true",
        help="load a trivial cached kernel of this script's own before the run's kernels",
    )
    args = parser.parse_args()
    # numba caches only functions defined in a file: the trivial kernel gets one, kept between
    # runs, and an untimed process fills its cache before the measured one loads it.
    trivial_dir = os.path.join(tempfile.gettempdir(), "regretlab_numba_floor")
    os.makedirs(trivial_dir, exist_ok=True)
    with open(os.path.join(trivial_dir, "floor_trivial_kernel.py"), "w") as module:
        module.write(TRIVIAL)
    path = os.pathsep.join(filter(None, [trivial_dir, os.environ.get("PYTHONPATH")]))
    if args.trivial:
        warm = "import numpy; from floor_trivial_kernel import total; total(numpy.ones(3))"
        subprocess.run(
            [sys.executable, "-c", warm], env={**os.environ, "PYTHONPATH": path}, check=True
        )
    for numba in (False, True):
        env = {**os.environ, "REGRETLAB_NUMBA": "1" if numba else "0", "PYTHONPATH": path}
        with tempfile.TemporaryDirectory() as cache:
            if args.cold:
                env["NUMBA_CACHE_DIR"] = cache
            print(f"\nREGRETLAB_NUMBA={int(numba)}{' (cold cache)' if args.cold else ''}")
            print("| stage | RSS MB | added MB | anonymous MB | file-backed MB | s |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
            code = CHILD.replace("{numba}", str(numba)).replace("{trivial}", str(args.trivial))
            subprocess.run([sys.executable, "-c", code], env=env, check=True)


if __name__ == "__main__":
    main()
