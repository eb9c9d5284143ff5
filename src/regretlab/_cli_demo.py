"""``regretlab demo``: the seed study and a small bandit escalation sweep on built-in defaults.

Part of the command line (it prints); split from :mod:`regretlab.cli` to keep modules small.
Nothing heavy is imported at the top, as in :mod:`regretlab.cli`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["demo"]


_DEMO_BANDIT = """
name = "demo-bandit-escalation"
description = "Thompson sampling with the context x action group off, on, or escalated"
horizon = 1000
checkpoints = 25
reference = "main_effects"

[environments.shared]
type = "LinearBandit"
n_actions = 4
context_dim = 3
interaction_scale = 0.0

[environments.personal]
type = "LinearBandit"
n_actions = 4
context_dim = 3
interaction_scale = 1.0

[agents.main_effects]
learner = { type = "BayesianLinearRegression", prior_variance = { "context:action" = 0.0 } }
policy = { type = "ThompsonSampling" }

[agents.full_model]
learner = { type = "BayesianLinearRegression" }
policy = { type = "ThompsonSampling" }

[agents.evidence_switch]
learner = { type = "BayesianLinearRegression", prior_variance = { "context:action" = 0.0 } }
policy = { type = "ThompsonSampling" }
scheduler = { type = "EvidenceSwitch", group = "context:action", every = 10 }

[agents.model_averaging]
policy = { type = "ThompsonSampling" }

[agents.model_averaging.learner]
type = "ModelAveraging"
group = "context:action"
grid = [0.0, 0.1, 1.0]
learner = { type = "BayesianLinearRegression" }
"""
_DEMO_BANDIT_MAX_REPLICATES = 20


def _demo_bandit(args: argparse.Namespace) -> tuple[Path, int]:
    """Run the demo's bandit sweep in this process into ``--out/bandit_escalation``; report it."""
    import json
    import shutil
    import tomllib

    from regretlab.experiments.experiment import parse_experiment
    from regretlab.experiments.report import write_report
    from regretlab.experiments.storage import SweepFolderError, SweepStore
    from regretlab.experiments.sweep import run_sweep

    replicates = min(args.replicates, _DEMO_BANDIT_MAX_REPLICATES)
    raw = tomllib.loads(_DEMO_BANDIT)
    raw.update(seed=args.seed, replicates=replicates, chunk_size=min(replicates, 10))
    experiment = parse_experiment(raw)
    folder = args.out / "bandit_escalation"
    try:
        SweepStore(folder).check(experiment)
    except SweepFolderError:
        # The demo's own sweep from a run with another --seed or --replicates: start afresh.
        meta = folder / "metadata.json"
        if not meta.exists() or json.loads(meta.read_text())["experiment_name"] != experiment.name:
            raise
        shutil.rmtree(folder)
    run_sweep(experiment, folder, progress=not args.no_progress)
    write_report(folder)
    return folder, replicates


def demo(args: argparse.Namespace) -> int:
    """Run the demo as ``regretlab demo`` parsed it; return the exit code."""
    from regretlab.experiments.storage import SweepFolderError
    from regretlab.studies.seed_study import run_seed_study, seed_experiments

    experiments = seed_experiments(n_replicates=args.replicates)
    out = args.out
    try:
        run_seed_study(experiments, seed=args.seed, out_dir=out, progress=not args.no_progress)
        bandit, bandit_replicates = _demo_bandit(args)
    except (OSError, SweepFolderError) as exc:
        print(f"regretlab demo: error: cannot write to --out {str(out)!r}: {exc}", file=sys.stderr)
        return 2
    where = out.resolve()
    names = ", ".join(exp.name for exp in experiments)
    single = [exp.name for exp in experiments if exp.n_replicates is None]
    counts = f"{len(experiments) - len(single)} of {args.replicates} replicates each"
    if single:
        counts += f" and {len(single)} on a single stream ({', '.join(single)})"
    print(
        f"regretlab demo: {len(experiments)} experiments ({counts}), "
        f"seed {args.seed}, written to {where}\n"
        f"  summary: {where / 'summary.md'}\n"
        f"  tables:  <experiment>.csv and <experiment>.parquet "
        f"(columns model, data_size, replicate, mse)\n"
        f"  figures: <experiment>.png (test MSE against training size, log-log)\n"
        f"  experiments: {names}\n"
        f"  bandit escalation sweep ({bandit_replicates} replicates, Thompson sampling with "
        f"and without escalation): {bandit.resolve() / 'report.md'}"
    )
    return 0
