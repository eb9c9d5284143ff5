"""The ``regretlab`` command line. The only module that prints.

``regretlab demo`` runs every experiment of the seed notebook (:mod:`regretlab.seed_study`) and
writes per experiment a CSV, a Parquet table and a PNG, plus ``summary.md``, into one folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _count(minimum: int) -> type:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse  # type: ignore[return-value]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regretlab",
        description="Simulate sequential decision loops and measure cumulative regret.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the seed notebook's convergence study and write tables, figures and a summary",
        description=(
            "Run every experiment of the seed notebook (test MSE against training size for "
            "main-effects, interaction, ridge and Bayesian models) and write <experiment>.csv, "
            "<experiment>.parquet, <experiment>.png and summary.md into --out."
        ),
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("regretlab-out"),
        metavar="DIR",
        help="output folder, created if missing (default: ./regretlab-out)",
    )
    demo.add_argument(
        "--replicates",
        type=_count(1),
        default=100,
        metavar="N",
        help="datasets per replicated experiment (default: 100, as the notebook)",
    )
    demo.add_argument(
        "--seed",
        type=_count(0),
        default=0,
        help="root seed; 0 reproduces the notebook's first table (default: 0)",
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(parser=demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from regretlab.seed_study import run_seed_study, seed_experiments

    experiments = seed_experiments(n_replicates=args.replicates)
    out = args.out
    run_seed_study(experiments, seed=args.seed, out_dir=out, progress=not args.no_progress)
    where = out.resolve()
    names = ", ".join(exp.name for exp in experiments)
    print(
        f"regretlab demo: {len(experiments)} experiments, {args.replicates} replicates each, "
        f"seed {args.seed}, written to {where}\n"
        f"  summary: {where / 'summary.md'}\n"
        f"  tables:  <experiment>.csv and <experiment>.parquet "
        f"(columns model, data_size, replicate, mse)\n"
        f"  figures: <experiment>.png (test MSE against training size, log-log)\n"
        f"  experiments: {names}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error).

    >>> main(["demo", "--replicates", "0"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error("a command is required (available: demo)")
        if args.out.exists() and not args.out.is_dir():
            args.parser.error(
                f"argument --out: {str(args.out)!r} is an existing file, not a folder"
            )
    except SystemExit as exc:  # argparse has printed the usage and the message
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _demo(args)
    except OSError as exc:
        print(f"regretlab demo: cannot write to --out {str(args.out)!r}: {exc}", file=sys.stderr)
        return 1
