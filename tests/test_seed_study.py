"""The seed notebook's experiments: coverage, the published table, outputs and safe writing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from regretlab.learners import GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.studies import (
    SeedExperiment,
    experiment_seeds,
    run_seed_study,
    seed_experiments,
    write_seed_study,
)

# The notebook's experiments in order: (x_dim, noise_level, interaction_scale, models).
NOTEBOOK = {
    "single_run": (6, 2.0, 0.01, ["base", "pair_int"]),
    "low_interaction": (6, 2.0, 0.01, ["base", "pair_int"]),
    "high_interaction": (6, 2.0, 1.0, ["base", "pair_int"]),
    "super_high_interaction": (6, 2.0, 3.0, ["base", "pair_int"]),
    "ridge": (6, 2.0, 1.0, ["base", "pair_int", "ridge_0.1", "ridge_1.0", "ridge_10.0"]),
    "bayes_wide_prior": (
        6,
        2.0,
        1.0,
        ["base", "pair_int", "bayes_wide_prior", "ridge_10.0", "bayes_base_-1_int_-1"],
    ),
    "bayes_as_base": (6, 2.0, 1.0, ["base", "bayes_base_10_int_-30"]),
    "prior_low_interaction": (
        6,
        2.0,
        0.0,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_-1_int_-3"],
    ),
    "prior_medium_interaction": (
        6,
        2.0,
        1.0,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_-1_int_-3"],
    ),
    "prior_high_interaction": (
        6,
        2.0,
        3.0,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_-1_int_1"],
    ),
    "scenario_low_noise": (
        6,
        0.5,
        0.05,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_1_int_-1"],
    ),
    "scenario_more_features": (
        10,
        0.5,
        0.05,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_1_int_-1"],
    ),
    "scenario_high_noise": (
        2,
        2.0,
        0.05,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_1_int_-1"],
    ),
    "scenario_high_interaction": (
        2,
        0.1,
        1.0,
        ["base", "pair_int", "bayes_base_-1_int_-1", "bayes_base_1_int_-1"],
    ),
    "statsmodels": (6, 2.0, 1.0, ["base", "pair_int", "sm"]),
}

# The notebook's first table (seed 0, 100,000 rows), as printed: 6 decimals.
PUBLISHED = {
    10: (7.021291, 5.908158),
    16: (5.209511, 14.097194),
    26: (4.39508, 35.045385),
    42: (4.57206, 5.576258),
    69: (4.411355, 5.976907),
    112: (4.361497, 5.000326),
    183: (4.282209, 4.518509),
    297: (4.115095, 4.410294),
    483: (4.030166, 4.115449),
    784: (4.007926, 4.070176),
    1274: (3.988579, 4.007178),
    2069: (3.981494, 3.993713),
    3359: (3.984491, 3.992081),
    5455: (3.981747, 3.989064),
    8858: (3.98022, 3.985193),
    14384: (3.979952, 3.986001),
    23357: (3.979837, 3.984299),
    37926: (3.979853, 3.982656),
    50000: (3.979462, 3.980511),
}


def _small(names: list[str], horizon: int = 120, n_replicates: int = 2) -> list[SeedExperiment]:
    chosen = {e.name: e for e in seed_experiments(n_replicates)}
    return [
        dataclasses.replace(
            chosen[n],
            horizon=horizon,
            n_replicates=None if chosen[n].n_replicates is None else n_replicates,
        )
        for n in names
    ]


def _snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_seed_experiments_cover_the_notebook():
    experiments = seed_experiments(n_replicates=7)
    assert [e.name for e in experiments] == list(NOTEBOOK)
    for exp in experiments:
        x_dim, noise, scale, models = NOTEBOOK[exp.name]
        assert (exp.x_dim, exp.noise_level, exp.interaction_scale) == (x_dim, noise, scale)
        assert list(exp.models) == models
        single = exp.name == "single_run"
        assert exp.horizon == (100_000 if single else 10_000)
        assert exp.n_replicates == (None if single else 7)


def test_seed_models_are_the_notebook_models():
    models = {name: fit for e in seed_experiments(2) for name, fit in e.models.items()}
    assert models["base"] == LeastSquares(groups=("main",))
    assert models["pair_int"] == LeastSquares()
    assert models["ridge_0.1"] == Ridge(alpha=0.1)
    assert models["ridge_10.0"] == Ridge(alpha=10.0)
    expected = {
        "bayes_wide_prior": (1e6, 1e6),
        "bayes_base_-1_int_-1": (1e-1, 1e-1),
        "bayes_base_10_int_-30": (1e10, 1e-30),
        "bayes_base_-1_int_-3": (1e-1, 1e-3),
        "bayes_base_-1_int_1": (1e-1, 1e1),
        "bayes_base_1_int_-1": (1e1, 1e-1),
    }
    for name, (alpha_base, alpha_int) in expected.items():
        # The notebook's quirk, kept: intercept variance 1 and beta = 1.
        assert models[name] == GaussianPosteriorMean(
            prior_variance={"intercept": 1.0, "main": alpha_base, "pairwise": alpha_int},
            noise_precision=1.0,
        )
    assert models["sm"] == GaussianPosteriorMean(prior_variance=math.inf, noise_precision=1.0)


def test_single_run_reproduces_the_published_table():
    single = seed_experiments(2)[0]
    table = run_seed_study([single], seed=0, progress=False)["single_run"]
    wide = table.pivot(index="data_size", columns="model", values="mse")
    assert list(wide.index) == list(PUBLISHED)
    expected = np.array(list(PUBLISHED.values()))
    # The notebook printed 6 decimals: agreement to half a unit in the last place.
    np.testing.assert_allclose(wide[["base", "pair_int"]].to_numpy(), expected, atol=5e-7, rtol=0)
    assert table.attrs["seed_entropy"] == 0
    assert table.attrs["seed_spawn_key"] == []


def test_seed_tree_children_and_determinism():
    experiments = _small(["single_run", "low_interaction", "high_interaction"])
    seeds = experiment_seeds(experiments, seed=5)
    assert [s.spawn_key for s in seeds] == [(), (1,), (2,)]
    assert all(s.entropy == 5 for s in seeds)
    first = run_seed_study(experiments, seed=5, progress=False)
    again = run_seed_study(experiments, seed=5, progress=False)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    other = run_seed_study(experiments, seed=6, progress=False)
    assert not np.allclose(first["low_interaction"]["mse"], other["low_interaction"]["mse"])


def test_run_seed_study_writes_tables_figures_and_summary(tmp_path):
    experiments = _small(["single_run", "ridge", "statsmodels"])
    out = tmp_path / "out"
    results = run_seed_study(experiments, seed=0, out_dir=out, progress=False)
    for exp in experiments:
        table = results[exp.name]
        assert list(table.columns) == ["model", "data_size", "replicate", "mse"]
        assert list(dict.fromkeys(table["model"])) == list(exp.models)
        pd.testing.assert_frame_equal(pd.read_csv(out / f"{exp.name}.csv"), table)
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{exp.name}.parquet"), table)
        assert (out / f"{exp.name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "## single_run" in summary
    assert "## ridge" in summary
    assert "| data_size | base | pair_int |" in summary
    assert "| `ridge_10.0` | " in summary
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    # Outputs get the usual permissions, as any file made here, not a temp file's 0600.
    reference = tmp_path / "reference"
    reference.write_text("")
    mode = reference.stat().st_mode & 0o777
    assert {(p.stat().st_mode & 0o777) for p in out.iterdir()} == {mode}


def test_progress_bar_goes_to_stderr_and_can_be_silenced(capsys):
    experiments = _small(["low_interaction"])
    run_seed_study(experiments, progress=False)
    assert capsys.readouterr() == ("", "")
    run_seed_study(experiments, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "seed study" in captured.err


class _Broken:
    def coef(self, stats, groups):
        raise FloatingPointError("broken model")


def test_a_failing_run_leaves_existing_results_intact(tmp_path, monkeypatch):
    experiments = _small(["low_interaction", "ridge"])
    run_seed_study(experiments, out_dir=tmp_path, progress=False)
    before = _snapshot(tmp_path)

    broken = [
        *experiments,
        dataclasses.replace(experiments[0], name="broken", models={"x": _Broken()}),
    ]
    with pytest.raises(FloatingPointError, match="broken model"):
        run_seed_study(broken, out_dir=tmp_path, progress=False)
    assert _snapshot(tmp_path) == before

    # A failure while writing (here: drawing the second figure) leaves no half-written files.
    import regretlab.plots

    calls = []
    real = regretlab.plots.plot_convergence

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(regretlab.plots, "plot_convergence", fail_second)
    other = run_seed_study(experiments, seed=1, progress=False)
    with pytest.raises(OSError, match="disk full"):
        write_seed_study(other, experiments, tmp_path, seed=1)
    assert _snapshot(tmp_path) == before


def test_invalid_arguments_name_the_problem(tmp_path):
    experiments = _small(["low_interaction"])
    with pytest.raises(ValueError, match="unique"):
        run_seed_study(experiments * 2, progress=False)
    with pytest.raises(ValueError, match="experiments must not be empty"):
        run_seed_study([], progress=False)
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    with pytest.raises(NotADirectoryError, match="out_dir"):
        run_seed_study(experiments, out_dir=a_file, progress=False)
    assert a_file.read_text() == "keep me"
    with pytest.raises(ValueError, match="name"):
        dataclasses.replace(experiments[0], name="../escape")
    with pytest.raises(ValueError, match="horizon"):
        dataclasses.replace(experiments[0], horizon=3)
    with pytest.raises(ValueError, match="n_replicates"):
        seed_experiments(n_replicates=0)
    with pytest.raises(TypeError, match="models"):
        dataclasses.replace(experiments[0], models={})
