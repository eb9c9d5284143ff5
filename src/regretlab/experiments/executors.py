"""Where sweep tasks run: in the driver, in a process pool, or on a dask.distributed cluster.

Every option is a :class:`concurrent.futures.Executor`, so a sweep neither knows nor cares which
one it was given. This module imports neither numpy nor dask at the top: a spawned pool worker
unpickles :func:`pin_blas_threads` (its initializer) before anything else, and so can set the
BLAS thread counts before numpy loads a BLAS library.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "BLAS_VARIABLES",
    "ExecutorInfo",
    "InProcessExecutor",
    "open_executor",
    "pin_blas_threads",
    "process_pool",
]

logger = logging.getLogger(__name__)

# Small solves are fastest single-threaded here (DESIGN.md, Numerics): workers run one BLAS
# thread each and the sweep gets its parallelism from running tasks side by side.
BLAS_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def pin_blas_threads() -> None:
    """One BLAS thread in this process: the environment for libraries not loaded yet, and
    ``threadpoolctl`` (when installed) for those already loaded.

    Pools and clusters run it in every worker (``initializer=pin_blas_threads``,
    ``client.run(pin_blas_threads)``). Here the settings are restored afterwards:

    >>> from unittest import mock
    >>> from threadpoolctl import threadpool_info, threadpool_limits
    >>> with mock.patch.dict(os.environ), threadpool_limits():
    ...     pin_blas_threads()
    ...     os.environ["OPENBLAS_NUM_THREADS"], {i["num_threads"] for i in threadpool_info()}
    ('1', {1})
    """
    for name in BLAS_VARIABLES:
        os.environ[name] = "1"
    if "numpy" in sys.modules:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return
        threadpool_limits(1)


class InProcessExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (debugging, tiny sweeps).

    >>> with InProcessExecutor() as ex:
    ...     ex.submit(pow, 2, 5).result()
    32
    """

    def __init__(self) -> None:
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        if self._closed:
            raise RuntimeError("cannot submit to an InProcessExecutor after shutdown")
        future: cf.Future = cf.Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """``workers`` spawned processes with one BLAS thread each.

    ``spawn`` rather than ``fork``: forking a driver that runs threads (progress bars, dask
    clients) can deadlock, and a fresh interpreter sees the BLAS settings before numpy loads.

    >>> with process_pool(1) as pool:  # no process starts before the first task
    ...     type(pool).__name__
    'ProcessPoolExecutor'
    >>> process_pool(0)
    Traceback (most recent call last):
    ValueError: workers must be an integer >= 1, got 0
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=pin_blas_threads,
    )


def _workers(n: int) -> str:
    return f"{n} worker" if n == 1 else f"{n} workers"


class ExecutorInfo(NamedTuple):
    """An open executor, a description for people and how many tasks to keep queued on it.

    >>> with open_executor(workers=0) as info:
    ...     info.description, info.capacity
    ('in this process', 1)
    """

    executor: cf.Executor
    description: str
    capacity: int


@contextlib.contextmanager
def open_executor(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
) -> Iterator[ExecutorInfo]:
    """Open the executor the options ask for and close it (and any cluster) afterwards.

    Parameters
    ----------
    workers
        Process-pool size; ``0`` runs every task in this process. The default (all three
        ``None``) is a pool with one worker per core.
    scheduler
        Address of a running dask scheduler, such as ``"tcp://10.0.0.5:8786"``.
    dask_local
        Start a ``LocalCluster`` of this many single-threaded worker processes on 127.0.0.1.

    Examples
    --------
    >>> with open_executor(workers=0) as info:
    ...     info.description, info.executor.submit(abs, -3).result()
    ('in this process', 3)
    """
    if sum(option is not None for option in (workers, scheduler, dask_local)) > 1:
        raise ValueError("choose at most one of workers, scheduler and dask_local")
    if scheduler is not None:
        from distributed import Client

        with Client(scheduler) as client:
            # Workers of a cluster we did not start: pin what is already loaded there.
            client.run(pin_blas_threads)
            threads = max(1, sum(client.nthreads().values()))
            executor = client.get_executor()
            try:
                yield ExecutorInfo(executor, f"dask scheduler {scheduler}", 4 * threads)
            finally:
                executor.shutdown(wait=False)
        return
    if dask_local is not None:
        from distributed import Client, LocalCluster

        if isinstance(dask_local, bool) or not isinstance(dask_local, int) or dask_local < 1:
            raise ValueError(f"dask_local must be an integer >= 1, got {dask_local!r}")
        # The nanny starts each worker with OPENBLAS/OMP/MKL_NUM_THREADS=1 (dask's default
        # distributed.nanny.pre-spawn-environ), before the worker imports numpy.
        with (
            LocalCluster(
                host="127.0.0.1",
                n_workers=dask_local,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            executor = client.get_executor()
            description = f"dask LocalCluster, {_workers(dask_local)} on 127.0.0.1"
            try:
                yield ExecutorInfo(executor, description, 4 * dask_local)
            finally:
                executor.shutdown(wait=False)
        return
    if workers == 0:
        with InProcessExecutor() as executor:
            yield ExecutorInfo(executor, "in this process", 1)
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    pool = process_pool(n)
    try:
        yield ExecutorInfo(pool, f"process pool, {_workers(n)}", 4 * n)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
