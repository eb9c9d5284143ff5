"""``regretlab bench``: the command runs and prints a complete table (no timing assertions)."""

from __future__ import annotations

import numpy as np
import pytest

from regretlab.bench import bench_markdown, reference, run_bench
from regretlab.cli import main

COLUMNS = 10


def test_bench_quick_prints_a_row_with_a_ratio_for_every_timing(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert main(["bench", "--quick", "--markdown", str(out)]) == 0
    text = capsys.readouterr().out
    assert text == out.read_text()
    assert text.startswith("## regretlab bench\n")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| kernel |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    assert all(len(row) == COLUMNS for row in rows)
    kernels = {row[0] for row in rows}
    assert kernels == {"sherman-morrison", "sgd", "bandit-posterior", "bandit-greedy"}
    names = [row[1] for row in rows]
    for ours in (
        "BayesianLinearRegression",
        "NormalInverseGammaRegression",
        "SGDLinearRegression",
        "ThompsonSampling (disjoint)",
        "LinUCB (disjoint)",
        "EpsilonGreedy(0.1) (disjoint)",
    ):
        assert ours in names
    for row in rows:
        ratio = float(row[5])
        assert np.isfinite(ratio)
        assert ratio > 0
        if row[1].startswith("bare numpy"):
            assert ratio == 1
    assert "copy" in text
    assert "GFLOP/s" in text


def test_every_row_of_the_report_has_its_ratio_and_roofline():
    report = run_bench(quick=True, peers=())
    assert {row.role for row in report.rows} == {"reference", "regretlab"}
    for row in report.rows:
        assert row.ratio > 0
        assert row.bandwidth_share > 0
        assert row.flops_share > 0
        assert row.gbs == pytest.approx(row.bandwidth_share * report.ceilings.copy_gbs)
    assert bench_markdown(report).count("\n| ") == 2 + len(report.rows)


def test_bench_refuses_an_unknown_peer(capsys):
    assert main(["bench", "--quick", "--peers", "sklearn"]) == 2
    assert "--peers: unknown ['sklearn']" in capsys.readouterr().err


def test_the_reference_loop_matches_the_learner_it_times():
    from regretlab.learners import BayesianLinearRegression

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 4, 3)), rng.normal(size=(50, 4))
    preds, mean, cov = reference.sherman_morrison_lockstep(x, y, noise_precision=2.0)
    model = BayesianLinearRegression(groups=("g",) * 3, n_replicates=4, noise_precision=2.0)
    for t in range(50):
        np.testing.assert_allclose(model.predict_one(x[t]), preds[t], atol=1e-12)
        model.learn_one(x[t], y[t])
    np.testing.assert_allclose(model.mean, mean, atol=1e-10)
    sd = np.sqrt(np.einsum("rii->ri", cov))
    np.testing.assert_allclose(model.sd, sd, atol=1e-10)
