"""The ``regretlab`` command line. The only module that prints.

- ``regretlab demo`` runs every experiment of the seed notebook
  (:mod:`regretlab.studies.seed_study`) and writes per experiment a CSV, a Parquet table and a
  PNG, plus ``summary.md``, into one folder; then a small bandit escalation sweep with its report
  into ``bandit_escalation/`` beside them.
- ``regretlab run EXPERIMENT.toml`` runs a sweep (:mod:`regretlab.experiments.sweep`) on a
  process pool, in this process, or on dask.distributed, and resumes an interrupted one;
  ``--import MODULE`` (repeatable) allows a plugin module of user components
  (:mod:`regretlab.experiments.plugins`).
- ``regretlab example [NAME]`` lists the example experiment files shipped in the package, or
  prints one (:mod:`regretlab.experiments.examples`).
- ``regretlab report DIR`` writes a sweep's tables, figures and ``report.md``
  (:mod:`regretlab.experiments.report`).

Nothing heavy is imported at the top: spawned pool workers import the script that started
them, and must be able to pin their BLAS threads before numpy loads.
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


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


_positive_number.__name__ = "number"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regretlab",
        description="Simulate sequential decision loops and measure cumulative regret.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the seed notebook's convergence study and a small bandit escalation sweep",
        description=(
            "Run every experiment of the seed notebook (test MSE against training size for "
            "main-effects, interaction, ridge and Bayesian models) and write <experiment>.csv, "
            "<experiment>.parquet, <experiment>.png and summary.md into --out; then a small "
            "bandit escalation sweep (Thompson sampling with the context x action group off, "
            "on, or escalated; min(N, 20) replicates) with its report into "
            "--out/bandit_escalation."
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
    demo.set_defaults(parser=demo, handler=_demo)
    _run_parser(commands)
    report = commands.add_parser(
        "report",
        help="write a sweep's summary tables, figures and report.md",
        description=(
            "Read the finished tasks of a sweep folder (written by regretlab run) and write "
            "report.md plus report/ (final regret with 95% intervals, paired differences "
            "against a reference agent, ranks; regret, convergence, escalation and "
            "coefficient figures) into it."
        ),
    )
    report.add_argument("dir", type=Path, metavar="DIR", help="the sweep's output folder")
    _import_option(report)
    report.add_argument(
        "--reference",
        metavar="AGENT",
        help="agent the paired differences subtract (default: the experiment's reference)",
    )
    report.set_defaults(parser=report, handler=_report, out=None)
    example = commands.add_parser(
        "example",
        help="list the example experiment files, or print one",
        description=(
            "Without NAME, list the example experiments shipped with regretlab; with NAME, "
            "print its TOML: regretlab example bandit_escalation > bandit_escalation.toml, "
            "then regretlab run bandit_escalation.toml."
        ),
    )
    example.add_argument("name", nargs="?", metavar="NAME", help="the example to print")
    example.set_defaults(parser=example, handler=_example, out=None)
    from regretlab._cli_bench import add_bench_parser  # argparse only: nothing heavy

    add_bench_parser(commands)
    return parser


_PLUGINS_HELP = """\
plugins: an experiment file cannot import code by itself. Allow a module of components with
--import MODULE (repeatable) or install it as an entry point of the group regretlab.components;
the file then uses the names it registers (regretlab.experiments.registry.register) or names
its objects directly, as in: learner = { type = "mypkg.components:MyLearner", scale = 0.5 }
Every worker (process pool or dask) imports the modules the experiment uses, by name, before it
builds anything: they must be importable there too (installed, or on PYTHONPATH)."""


def _import_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="allow and import a plugin module of components, such as mypkg.components "
        "(repeatable; see 'plugins' below)",
    )


def _run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run (or resume) a sweep described by an experiment file",
        description=(
            "Run every environment x agent x replicate of EXPERIMENT.toml and store one\n"
            "Parquet file per task in --out, with a manifest of finished tasks: rerunning the\n"
            "same command resumes an interrupted sweep. For a start: `regretlab example` lists\n"
            "the example files, `regretlab example NAME > NAME.toml` writes one."
        ),
        epilog=_PLUGINS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("experiment", type=Path, metavar="EXPERIMENT.toml")
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="output folder (default: ./regretlab-out/<experiment name>)",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_count(0),
        metavar="N",
        help="process-pool workers (default: one per core); 0 runs in this process",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="address of a running dask scheduler, such as tcp://10.0.0.5:8786",
    )
    where.add_argument(
        "--dask-local",
        type=_count(1),
        metavar="N",
        help="start a dask LocalCluster of N worker processes on 127.0.0.1",
    )
    _import_option(run)
    run.add_argument(
        "--break-lock",
        action="store_true",
        help="remove another run's lock on --out (for a folder shared between machines whose "
        "locking run is known to be gone; a dead run's lock on this host is taken over anyway)",
    )
    run.add_argument(
        "--allow-large",
        action="store_true",
        help="run even when a task's estimated peak memory exceeds half of this machine's",
    )
    run.add_argument(
        "--block-memory-mb",
        type=_positive_number,
        metavar="MB",
        help="MiB of environment data each task holds at once (default: the experiment's "
        "block_memory_mb, else 64); changes the memory, never the results",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(parser=run, handler=_run)


# The demo's bandit escalation sweep (the packaged example bandit_escalation, trimmed): replicates,
# chunk size and seed come from the demo's options.
def _demo(args: argparse.Namespace) -> int:
    from regretlab._cli_demo import demo

    return demo(args)


def _run(args: argparse.Namespace) -> int:
    from regretlab._cli_run import run

    return run(args)


def _example(args: argparse.Namespace) -> int:
    from regretlab.experiments.examples import example_names, example_text

    if args.name is None:
        print("\n".join(example_names()))
        return 0
    try:
        text = example_text(args.name)
    except ValueError as exc:
        print(f"regretlab example: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _report(args: argparse.Namespace) -> int:
    from regretlab._cli_run import import_plugins
    from regretlab.experiments.experiment import ExperimentError
    from regretlab.experiments.report import write_report
    from regretlab.experiments.storage import SweepFolderError, SweepStore

    if not import_plugins("report", args.imports):
        return 2
    try:
        written = write_report(args.dir, reference=args.reference, imports=args.imports)
    except (SweepFolderError, ExperimentError, ValueError) as exc:
        print(f"regretlab report: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"regretlab report: error: cannot write to {str(args.dir)!r}: {exc}", file=sys.stderr)
        return 2
    for task, reason in SweepStore(args.dir).verify()[1].items():
        print(
            f"regretlab report: task {task} left out: {reason}; rerun the sweep to redo it",
            file=sys.stderr,
        )
    root = args.dir.resolve()
    print(
        f"regretlab report: {len(written)} files written\n"
        f"  report:  {root / 'report.md'}\n"
        f"  tables:  {root / 'report'}/final_regret.csv, paired_differences.csv, ranks.csv\n"
        f"  figures: {root / 'report'}/*.png"
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
            parser.error("a command is required (available: demo, run, example, report, bench)")
        if args.out is not None and args.out.exists() and not args.out.is_dir():
            args.parser.error(
                f"argument --out: {str(args.out)!r} is an existing file, not a folder"
            )
    except SystemExit as exc:  # argparse has printed the usage and the message
        return exc.code if isinstance(exc.code, int) else 2
    return args.handler(args)
