"""``regretlab bench``: time the learners and policies beside the reference loops and peers.

Part of the command line (it prints); split from :mod:`regretlab.cli` to keep modules small.
One BLAS thread unless the environment says otherwise (set before numpy loads), as runs use.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["add_bench_parser", "bench"]


def add_bench_parser(commands: argparse._SubParsersAction) -> None:
    """The ``bench`` subcommand's options."""
    command = commands.add_parser(
        "bench",
        help="replicate-steps/s of the learners and policies beside reference loops and peers",
        description=(
            "Time each main learner and policy at a few (R, d) points beside a frozen bare "
            "numpy reference loop, river, MABWiser and Vowpal Wabbit (when installed), all in "
            "the same run, with the machine's copy bandwidth and matmul GFLOP/s and the share "
            "of each reached. Prints a Markdown section for benchmarks/RESULTS.md."
        ),
    )
    command.add_argument(
        "--quick", action="store_true", help="tiny sizes, one repeat (checks, not figures)"
    )
    command.add_argument(
        "--peers",
        nargs="*",
        default=None,
        metavar="PEER",
        help="peers to time when installed: river mabwiser vowpalwabbit (default: all)",
    )
    command.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the Markdown section to FILE"
    )
    command.set_defaults(parser=command, handler=bench, out=None)


def bench(args: argparse.Namespace) -> int:
    """Run the benchmark as ``regretlab bench`` parsed it; return the exit code."""
    from regretlab.experiments.executors import BLAS_VARIABLES

    for name in BLAS_VARIABLES:  # before numpy loads
        os.environ.setdefault(name, "1")
    from regretlab.bench import PEERS, bench_markdown, run_bench

    peers = PEERS if args.peers is None else tuple(args.peers)
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        print(
            f"regretlab bench: error: argument --peers: unknown {unknown}; choose from "
            f"{list(PEERS)}",
            file=sys.stderr,
        )
        return 2
    command = "regretlab bench" + (" --quick" if args.quick else "")
    print(f"{command}: timing (the machine's load changes the figures) ...", file=sys.stderr)
    text = bench_markdown(run_bench(quick=args.quick, peers=peers), command)
    if args.markdown is not None:
        try:
            args.markdown.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"regretlab bench: error: argument --markdown: {exc}", file=sys.stderr)
            return 2
    print(text, end="")
    return 0
