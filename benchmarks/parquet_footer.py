"""Where a streamed Parquet log's memory goes beyond its buffer (issue 18): the writer's
per-row-group footer, and the encoder's pages in pyarrow's default pool.

Writes ``--rows`` rows of the off-policy log's columns (as :class:`regretlab.offpolicy.ParquetLog`
does for ``LinearBandit(n_actions=5, context_dim=6)``: 16 eight-byte columns and a flag, no
dictionary pages, the system pool for the Arrow arrays) from one reused buffer of
``--buffer-rows`` rows, in row groups of ``--group-rows`` rows and data pages of
``--page-bytes`` bytes, with and without returning the default pool's free memory to the
system after each write (``release_unused``), each case in its own process (after a warm-up
write of two rows). It reports the rise of the peak resident memory (Linux ``VmHWM``) above
the buffer, and the growth of glibc's heap in use just before the file is closed
(``mallinfo2``: live C++ objects, mainly the footer the writer keeps until it closes the
file). Run from the repository root::

    OPENBLAS_NUM_THREADS=1 python benchmarks/parquet_footer.py
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import machine_note

_CHILD = """
import ctypes, os, tempfile
import numpy as np
import pyarrow as pa, pyarrow.parquet as pq

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in FIELDS.split()]
mallinfo = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo.restype = Info

def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))

pool = pa.system_memory_pool()
names = (["agent", "replicate", "step", "action", "propensity", "reward"]
         + [f"context_{{i}}" for i in range(6)] + [f"mean_{{a}}" for a in range(5)])
rng = np.random.default_rng(0)
columns = {{name: rng.random({buffer}) for name in names}}
flag = np.zeros({buffer}, bool)

def table(n):
    return pa.table({{**{{k: pa.array(v[:n], memory_pool=pool) for k, v in columns.items()}},
                      "deterministic": pa.array(flag[:n], memory_pool=pool)}})

path = os.path.join(tempfile.mkdtemp(), "log.parquet")
first = table(2)
writer = pq.ParquetWriter(path, first.schema, use_dictionary=False, memory_pool=pool,
                          data_page_size={page})
writer.write_table(first)
heap_before = mallinfo().uordblks
open("/proc/self/clear_refs", "w").write("5")
before = kb("VmRSS:")
done = 0
while done < {rows}:
    n = min({buffer}, {rows} - done)
    writer.write_table(table(n), row_group_size={group})
    if {release}:
        pa.default_memory_pool().release_unused()
    done += n
heap = mallinfo().uordblks - heap_before
writer.close()
print(kb("VmHWM:") - before, heap, pq.ParquetFile(path).metadata.num_row_groups)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10**5, 10**6, 4 * 10**6])
    parser.add_argument("--buffer-rows", type=int, default=57344)
    parser.add_argument("--group-rows", type=int, nargs="+", default=[8192, 57344])
    parser.add_argument("--page-bytes", type=int, nargs="+", default=[2**20, 2**14])
    args = parser.parse_args()
    print(machine_note())
    print(f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}")
    buffer_mb = args.buffer_rows * 17 * 8 / 2**20  # the buffer the tables are views of
    print(f"buffer: {args.buffer_rows} rows, {buffer_mb:.2f} MB (allocated before the measure)")
    print()
    print(
        "| rows | row group rows | page bytes | release | row groups | peak rise MB "
        "| heap growth MB | heap growth per row group kB |"
    )
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    cases = itertools.product(args.group_rows, args.page_bytes, (False, True), args.rows)
    for group, page, release, rows in cases:
        code = _CHILD.format(
            rows=rows, buffer=args.buffer_rows, group=group, page=page, release=release
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        rise_kb, heap, groups = int(out[0]), int(out[1]), int(out[2])
        print(
            f"| {rows} | {group} | {page} | {'yes' if release else 'no'} | {groups} | "
            f"{rise_kb / 1024:.2f} | {heap / 2**20:.2f} | {heap / groups / 1024:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
