"""Off-policy estimators on the Open Bandit Dataset sample (issue 18): real logs, a known truth.

The dataset's two loggers, uniform random and Bernoulli Thompson sampling, ran side by side on
the same traffic. So the random logger's mean click rate is an unbiased estimate of what the
**uniform policy** earns on the Thompson-sampling log's traffic: the truth against which every
estimator, reading the Thompson-sampling log only, is scored (with both standard errors:
``z = (estimate - truth) / sqrt(se^2 + se_truth^2)``). The same estimators on the random log
itself, where target and logger agree, must give its on-policy mean (IPS and SNIPS exactly).

The data: the 10,000-row samples inside the ``obp`` wheel (``obp/dataset/obd``), read from their
CSV files by :func:`regretlab.offpolicy.read_open_bandit`; ``obp`` itself is not imported
(its pins cannot be installed beside this package). ``--obd DIR`` points at an ``obd`` folder;
without it the script uses an installed ``obp``'s, else downloads the wheel (``pip download
obp==0.4.1 --no-deps``, the package index only) into ``benchmarks/out/obp`` and unpacks it.

    OPENBLAS_NUM_THREADS=1 python benchmarks/open_bandit.py
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from regretlab.offpolicy import IPS, SNIPS, DirectMethod, DoublyRobust, SwitchDR, read_open_bandit

CAMPAIGNS = ("all", "men", "women")
OUT = Path(__file__).parent / "out" / "obp"


def find_obd(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.find_spec("obp")
    if spec is not None and spec.origin:
        return Path(spec.origin).parent / "dataset" / "obd"
    unpacked = OUT / "wheel" / "obp" / "dataset" / "obd"
    if not unpacked.is_dir():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "obp==0.4.1", "--no-deps", "-q", "-d", OUT],
            check=True,
        )
        with zipfile.ZipFile(next(OUT.glob("obp-0.4.1-*.whl"))) as wheel:
            wheel.extractall(OUT / "wheel", [n for n in wheel.namelist() if "/obd/" in n])
    return unpacked


def estimators() -> dict[str, object]:
    return {
        "DM": DirectMethod(),
        "IPS": IPS(),
        "SNIPS": SNIPS(),
        "DR": DoublyRobust(),
        "switch-DR tau 10": SwitchDR(tau=10.0),
    }


def obp_estimates(log, uniform: np.ndarray) -> dict[str, float]:
    """``obp``'s IPW and SNIPW on the same log, where ``obp`` is importable (else empty)."""
    try:
        from obp import ope
    except ImportError:
        return {}
    data = {
        "reward": log.rewards[0],
        "action": log.actions[0],
        "pscore": log.propensity[0],
        "action_dist": uniform[0][..., None],
    }
    return {
        "IPS": ope.InverseProbabilityWeighting().estimate_policy_value(**data),
        "SNIPS": ope.SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obd", help="the dataset's obd folder (random/, bts/)")
    args = parser.parse_args()
    obd = find_obd(args.obd)
    print(f"data: {obd}")
    print(
        "| campaign | log | K | rows | clicks | truth: random log's click rate (se) | estimator "
        "| estimate (se) | z | ESS | max weight | obp's estimate |"
    )
    print("| --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: |")
    for campaign in CAMPAIGNS:
        random_log = read_open_bandit(obd / "random" / campaign / f"{campaign}.csv")
        truth = float(random_log.rewards.mean())
        truth_se = math.sqrt(truth * (1 - truth) / random_log.n_rows)
        for name in ("bts", "random"):
            log = read_open_bandit(obd / name / campaign / f"{campaign}.csv")
            uniform = np.full((1, log.n_rows, log.n_actions), 1.0 / log.n_actions)
            # On its own log the random logger's value is the log's mean: no second error.
            se_truth = truth_se if name == "bts" else 0.0
            theirs = obp_estimates(log, uniform)
            for label, estimator in estimators().items():
                e = estimator.estimate(log, uniform)
                value, se = float(e.value[0]), float(e.se[0])
                z = (value - truth) / math.sqrt(se**2 + se_truth**2)
                peer = f"{theirs[label]:.10f}" if label in theirs else ""
                print(
                    f"| {campaign} | {name} | {log.n_actions} | {log.n_rows} | "
                    f"{int(log.rewards.sum())} | {truth:.5f} ({truth_se:.5f}) | {label} | "
                    f"{value:.10f} ({se:.5f}) | {z:+.2f} | {float(e.ess[0]):,.0f} | "
                    f"{float(e.max_weight[0]):,.1f} | {peer} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
