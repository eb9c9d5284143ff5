"""Seed study (issue 2): regretlab's ``run_seed_study`` against the notebook's own refit loop.

Both sides see identical data: the notebook side takes every replicate from
``InteractionStream(...).take(horizon)`` (a single stream seeded with that replicate's child
seed, which draws exactly the replicate of the batched stream) and then does what the notebook
does: ``PolynomialFeatures``, a fresh scikit-learn ``LinearRegression`` / ``Ridge``, the
notebook's ``BayesLinearRegressor`` or statsmodels' ``OLS`` refitted on ``x_train[1:s]`` at every
data size, and ``mean_squared_error`` on the test half. Both are timed with
``time.perf_counter`` in this process, data generation included on both sides.

Run from the repository root, single-threaded BLAS as in DESIGN.md::

    OPENBLAS_NUM_THREADS=1 python benchmarks/seed_study.py
    OPENBLAS_NUM_THREADS=1 python benchmarks/seed_study.py --replicates 10 --experiments ridge

Outputs go to ``benchmarks/out/seed_study/`` (gitignored): ``timings.csv``,
``max_rel_diff.csv``, ``comparison.parquet``, ``rel_diff.png``, ``speed.png`` and regretlab's own
tables, figures and summary under ``regretlab/``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal, localcontext
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import sklearn.linear_model
import sklearn.metrics
import sklearn.preprocessing
from matplotlib.figure import Figure
from tqdm import tqdm

from _timing import machine_note
from regretlab.learners import GaussianPosteriorMean, LeastSquares, Ridge
from regretlab.plots import save_figure
from regretlab.studies import (
    SeedExperiment,
    experiment_seeds,
    run_seed_study,
    seed_experiments,
    write_seed_study,
)
from regretlab.studies._seed_notebook import BayesLinearRegressor, cov_split_base_int

try:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning
except ImportError:  # the appendix then uses statsmodels' own pinv fit, written out below
    sm = None
else:
    # Under-determined fits (fewer rows than weights) are what the appendix compares; the
    # notebook printed this warning for each of them.
    warnings.filterwarnings("ignore", category=SingularMatrixWarning)

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "seed_study"
TOLERANCE = 1e-8

# ---------------------------------------------------------------------------------------------
# The notebook's model functions and loop. Its predict_model_base / predict_model_bayes read the
# global ``x_dim = 6``; here x_dim is the experiment's own (see regretlab.studies.seed_study's
# docstring: with the global, its 2- and 10-input scenarios split main effects and interactions
# wrongly).
# ---------------------------------------------------------------------------------------------

Predict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def predict_model_pair_int(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray):
    _model = sklearn.linear_model.LinearRegression()
    _model.fit(x_train, y_train)
    return _model.predict(x_test)


def make_predict_model_base(x_dim: int) -> Predict:
    def predict_model_base(x_train, y_train, x_test):
        _model = sklearn.linear_model.LinearRegression()
        _model.fit(x_train[:, :x_dim], y_train)
        return _model.predict(x_test[:, :x_dim])

    return predict_model_base


def make_predict_model_ridge_reg(alpha: float) -> Predict:
    def predict_model_ridge_reg(x_train, y_train, x_test):
        _model = sklearn.linear_model.Ridge(alpha=alpha)
        _model.fit(x_train, y_train)
        return _model.predict(x_test)

    return predict_model_ridge_reg


def make_predict_model_bayes(x_dim: int, alpha_base: float, alpha_int: float) -> Predict:
    def predict_model_bayes(x_train, y_train, x_test):
        cov = cov_split_base_int(
            n_base=x_dim,
            n_int=x_train.shape[1] - x_dim,
            alpha_base=alpha_base,
            alpha_int=alpha_int,
        )
        _model = BayesLinearRegressor(number_of_features=x_train.shape[1], cov=cov)
        _model.fit(x_train, y_train)
        return _model.predict(x_test)

    return predict_model_bayes


def predict_model_sm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray):
    if sm is not None:
        _model = sm.OLS(y_train, sm.add_constant(x_train))
        _res = _model.fit()
        return _res.predict(sm.add_constant(x_test))
    # What OLS.fit(method="pinv") computes: statsmodels' pinv_extended uses rcond=1e-15.
    design = np.column_stack([np.ones(len(x_train)), x_train])
    params = np.linalg.pinv(design, rcond=1e-15) @ y_train
    return np.column_stack([np.ones(len(x_test)), x_test]) @ params


def notebook_models(exp: SeedExperiment) -> dict[str, Predict]:
    """The notebook's function for each of the experiment's models, chosen from its fit."""
    out: dict[str, Predict] = {}
    for name, fit in exp.models.items():
        if name == "sm":
            out[name] = predict_model_sm
        elif isinstance(fit, LeastSquares):
            out[name] = (
                make_predict_model_base(exp.x_dim)
                if fit.groups == ("main",)
                else predict_model_pair_int
            )
        elif isinstance(fit, Ridge):
            out[name] = make_predict_model_ridge_reg(fit.alpha)
        elif isinstance(fit, GaussianPosteriorMean):
            prior = dict(fit.prior_variance)
            out[name] = make_predict_model_bayes(exp.x_dim, prior["main"], prior["pairwise"])
        else:
            raise TypeError(f"no notebook counterpart for {name!r}: {fit!r}")
    return out


def train_models(
    models: dict[str, callable],
    x_train: np.array,
    y_train: np.array,
    x_test: np.array,
    no_batches: int = 20,
) -> dict:
    # Verbatim from the notebook.
    y_est = {}
    for _name in models.keys():  # noqa: SIM118 (verbatim)
        y_est[_name] = {}

    batch_blocks = np.unique(
        np.clip(
            np.logspace(1, np.ceil(np.log10(x_train.shape[0])), no_batches).astype(int),
            1,
            x_train.shape[0],
        )
    )

    for _data_filt in batch_blocks:
        for _name, _model in models.items():
            y_est[_name][_data_filt] = _model(x_train[1:_data_filt], y_train[1:_data_filt], x_test)
    return y_est


def replicate_seed(
    exp: SeedExperiment, exp_seed: np.random.SeedSequence, r: int
) -> np.random.SeedSequence:
    """Replicate ``r``'s seed: what ``InteractionStream(n_replicates=R)`` spawns for it."""
    if exp.n_replicates is None:
        return exp_seed
    return np.random.SeedSequence(exp_seed.entropy, spawn_key=(*exp_seed.spawn_key, r))


def replicate_data(
    exp: SeedExperiment, exp_seed: np.random.SeedSequence, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``x`` (main effects then pairwise products) and ``y`` for replicate ``r``."""
    one = SeedExperiment(**{**vars(exp), "n_replicates": None})
    obs = one.environment(replicate_seed(exp, exp_seed, r)).take(exp.horizon)
    int_trans = sklearn.preprocessing.PolynomialFeatures(
        interaction_only=True, degree=2, include_bias=False
    )
    return int_trans.fit_transform(obs.x), obs.y


def run_notebook(exp: SeedExperiment, exp_seed: np.random.SeedSequence) -> pd.DataFrame:
    """The notebook's ``train_loop`` for every replicate of ``exp``, as one tidy table."""
    models = notebook_models(exp)
    rows = []
    n_rep = 1 if exp.n_replicates is None else exp.n_replicates
    for r in tqdm(range(n_rep), desc=f"notebook {exp.name}", leave=False, file=sys.stderr):
        x, y = replicate_data(exp, exp_seed, r)
        n = x.shape[0]
        x_train, x_test = x[: n // 2], x[n // 2 :]
        y_train, y_test = y[: n // 2], y[n // 2 :]
        y_est = train_models(models=models, x_train=x_train, y_train=y_train, x_test=x_test)
        for name, by_size in y_est.items():
            for size, pred in by_size.items():
                mse = sklearn.metrics.mean_squared_error(y_test, pred)
                rows.append((name, int(size), r, mse))
    return pd.DataFrame(rows, columns=["model", "data_size", "replicate", "mse"])


# ---------------------------------------------------------------------------------------------
# An exact reference: the same fit solved in 80-digit decimal arithmetic from the float data.
# ---------------------------------------------------------------------------------------------


def _dec(a: np.ndarray) -> list:
    return [Decimal(float(v)) for v in np.ravel(a)]


def _solve(a: list[list[Decimal]], b: list[Decimal]) -> list[Decimal]:
    """Gaussian elimination with partial pivoting (the context's precision)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for k in range(n):
        piv = max(range(k, n), key=lambda i: abs(m[i][k]))
        m[k], m[piv] = m[piv], m[k]
        for i in range(k + 1, n):
            f = m[i][k] / m[k][k]
            if f:
                row_i, row_k = m[i], m[k]
                for j in range(k, n + 1):
                    row_i[j] -= f * row_k[j]
    out = [Decimal(0)] * n
    for k in reversed(range(n)):
        s = m[k][n] - sum(m[k][j] * out[j] for j in range(k + 1, n))
        out[k] = s / m[k][k]
    return out


def _min_norm_or_normal(
    rows: list[list[Decimal]], y: list[Decimal], diag: list[Decimal] | None
) -> list[Decimal]:
    """Solve ``(A'A + diag) w = A'y``; with no ``diag`` and fewer rows than columns, the
    minimum-norm solution ``A'(AA')^-1 y``."""
    n, p = len(rows), len(rows[0])
    cols = list(zip(*rows, strict=True))
    if diag is None and n < p:
        gram = [[sum(a * b for a, b in zip(ri, rj, strict=True)) for rj in rows] for ri in rows]
        z = _solve(gram, y)
        return [sum(c * zi for c, zi in zip(col, z, strict=True)) for col in cols]
    gram = [[sum(a * b for a, b in zip(ci, cj, strict=True)) for cj in cols] for ci in cols]
    if diag is not None:
        for i in range(p):
            gram[i][i] += diag[i]
    rhs = [sum(a * b for a, b in zip(c, y, strict=True)) for c in cols]
    return _solve(gram, rhs)


def exact_mse(fit: object, name: str, x: np.ndarray, y: np.ndarray, size: int, x_dim: int) -> float:
    """The test MSE of ``fit`` trained on rows ``1 .. size - 1``, in 80-digit arithmetic."""
    n = x.shape[0]
    x_tr, y_tr = x[1:size], y[1:size]
    x_te, y_te = x[n // 2 :], y[n // 2 :]
    with localcontext() as ctx:
        ctx.prec = 80
        if name == "sm" or isinstance(fit, GaussianPosteriorMean):
            design = np.column_stack([np.ones(len(x_tr)), x_tr])
            rows = [_dec(row) for row in design]
            yd = _dec(y_tr)
            if name == "sm":
                w = _min_norm_or_normal(rows, yd, None)
            else:
                prior = dict(fit.prior_variance)
                var = [prior["intercept"]] + [prior["main"]] * x_dim
                var += [prior["pairwise"]] * (design.shape[1] - 1 - x_dim)
                w = _min_norm_or_normal(rows, yd, [1 / Decimal(v) for v in var])
            coef, intercept = w[1:], Decimal(0) + w[0]
            cols = list(range(x.shape[1]))
        else:
            cols = list(range(x_dim)) if getattr(fit, "groups", None) == ("main",) else None
            cols = cols if cols is not None else list(range(x.shape[1]))
            rows = [_dec(row[cols]) for row in x_tr]
            yd = _dec(y_tr)
            m = len(rows)
            means = [sum(c) / m for c in zip(*rows, strict=True)]
            y_mean = sum(yd) / m
            centred = [[v - mu for v, mu in zip(row, means, strict=True)] for row in rows]
            yc = [v - y_mean for v in yd]
            if isinstance(fit, Ridge):
                coef = _min_norm_or_normal(centred, yc, [Decimal(fit.alpha)] * len(cols))
            elif m - 1 < len(cols):
                # Centred rows sum to zero: drop one to keep a full-row-rank system.
                coef = _min_norm_or_normal(centred[:-1], yc[:-1], None)
            else:
                coef = _min_norm_or_normal(centred, yc, None)
            intercept = y_mean - sum(c * mu for c, mu in zip(coef, means, strict=True))
        total = Decimal(0)
        for row, target in zip(x_te[:, cols], y_te, strict=True):
            pred = intercept + sum(c * v for c, v in zip(coef, _dec(row), strict=True))
            total += (Decimal(float(target)) - pred) ** 2
        return float(total / len(y_te))


# ---------------------------------------------------------------------------------------------
# The benchmark.
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    names = [e.name for e in seed_experiments(1)]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=100, help="replicates per experiment")
    parser.add_argument(
        "--experiments",
        nargs="+",
        choices=names,
        default=names,
        metavar="NAME",
        help=f"subset of: {', '.join(names)}",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.replicates < 1:
        parser.error(f"argument --replicates: must be >= 1, got {args.replicates}")

    exps = [e for e in seed_experiments(args.replicates) if e.name in args.experiments]
    print(machine_note())
    print(
        f"seed study benchmark: {len(exps)} experiments x {args.replicates} replicates, "
        f"seed {args.seed}, statsmodels {'yes' if sm is not None else 'no (pinv fallback)'}"
    )

    # regretlab: the whole study in one call, then each experiment alone for its own time.
    start = time.perf_counter()
    ours = run_seed_study(exps, seed=args.seed, progress=False)
    ours_total = time.perf_counter() - start
    ours_time = {}
    for exp, exp_seed in zip(exps, experiment_seeds(exps, args.seed), strict=True):
        start = time.perf_counter()
        table = exp.run(exp_seed)
        ours_time[exp.name] = time.perf_counter() - start
        pd.testing.assert_frame_equal(table, ours[exp.name], check_like=False)

    # The notebook: every replicate refitted at every size.
    nb_time, nb_tables = {}, {}
    for exp, exp_seed in zip(exps, experiment_seeds(exps, args.seed), strict=True):
        start = time.perf_counter()
        nb_tables[exp.name] = run_notebook(exp, exp_seed)
        nb_time[exp.name] = time.perf_counter() - start
        print(f"  notebook {exp.name:<26} {nb_time[exp.name]:8.2f} s", flush=True)
    nb_total = sum(nb_time.values())

    # Same data on both sides: the replicates' true weights agree.
    for exp, exp_seed in zip(exps, experiment_seeds(exps, args.seed), strict=True):
        batched = exp.environment(exp_seed).true_weights.reshape(
            -1, exp.x_dim * (exp.x_dim + 1) // 2 + 1
        )
        for r in (0, len(batched) - 1):
            one = SeedExperiment(**{**vars(exp), "n_replicates": None})
            np.testing.assert_array_equal(
                one.environment(replicate_seed(exp, exp_seed, r)).true_weights, batched[r]
            )

    frames = []
    for exp in exps:
        both = ours[exp.name].merge(
            nb_tables[exp.name],
            on=["model", "data_size", "replicate"],
            suffixes=("_regretlab", "_notebook"),
            validate="one_to_one",
        )
        if len(both) != len(ours[exp.name]) or len(both) != len(nb_tables[exp.name]):
            raise AssertionError(f"{exp.name}: the two sides have different rows")
        both.insert(0, "experiment", exp.name)
        frames.append(both)
    comparison = pd.concat(frames, ignore_index=True)
    comparison["rel_diff"] = (
        comparison["mse_regretlab"] - comparison["mse_notebook"]
    ).abs() / comparison["mse_notebook"].abs()

    print()
    print(
        f"total: regretlab {ours_total:.2f} s (run_seed_study), notebook {nb_total:.2f} s, "
        f"ratio {nb_total / ours_total:.1f}x"
    )
    timings = pd.DataFrame(
        {
            "experiment": [e.name for e in exps],
            "regretlab_s": [ours_time[e.name] for e in exps],
            "notebook_s": [nb_time[e.name] for e in exps],
        }
    )
    timings["ratio"] = timings["notebook_s"] / timings["regretlab_s"]
    print(timings.to_string(index=False, float_format=lambda v: f"{v:.2f}"))

    worst = comparison.loc[
        comparison.groupby(["experiment", "model"], sort=False)["rel_diff"].idxmax()
    ].reset_index(drop=True)
    # The exact reference settles which side is right: run for every difference above the
    # tolerance and, to show where the remaining rounding sits, for each model's largest one.
    # The notebook inverts twice (np.linalg.inv of the prior covariance, then of the posterior
    # precision) and multiplies; an explicit inverse loses about cond * eps, so with extreme
    # priors (variance 1e6 on under-determined data, or 1e-30 beside 1e10) it is the less
    # accurate side. regretlab solves the same system by Cholesky, which is backward stable.
    per_model_max = worst.groupby("model", sort=False)["rel_diff"].idxmax()
    check = set(per_model_max) | set(worst.index[worst["rel_diff"] > TOLERANCE])
    worst["exact"] = np.nan
    seeds = dict(zip([e.name for e in exps], experiment_seeds(exps, args.seed), strict=True))
    for i in sorted(check):
        row = worst.loc[i]
        exp = next(e for e in exps if e.name == row["experiment"])
        x, y = replicate_data(exp, seeds[exp.name], int(row["replicate"]))
        worst.loc[i, "exact"] = exact_mse(
            exp.models[row["model"]], row["model"], x, y, int(row["data_size"]), exp.x_dim
        )
    worst["err_regretlab"] = (worst["mse_regretlab"] - worst["exact"]).abs() / worst["exact"]
    worst["err_notebook"] = (worst["mse_notebook"] - worst["exact"]).abs() / worst["exact"]
    fmt = {"float_format": lambda v: f"{v:.2e}", "index": False}
    cols = ["experiment", "model", "data_size", "replicate", "rel_diff"]
    print()
    print("largest relative MSE difference per experiment and model:")
    print(worst[cols].to_string(**fmt))
    print()
    print(f"largest relative MSE difference per model (tolerance {TOLERANCE:g}); err_* is each")
    print("side's relative error against an exact (80-digit) refit of that case:")
    summary = worst.loc[list(per_model_max), [*cols, "err_regretlab", "err_notebook"]]
    print(summary.to_string(**fmt))
    above = worst[worst["rel_diff"] > TOLERANCE]
    verdict = "none" if above.empty else f"{len(above)} (see err_* above)"
    print(f"cases above the tolerance: {verdict}")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    timings.to_csv(out / "timings.csv", index=False)
    worst.to_csv(out / "max_rel_diff.csv", index=False)
    comparison.to_parquet(out / "comparison.parquet", index=False)
    write_seed_study(ours, exps, out / "regretlab", seed=args.seed)
    _figures(comparison, timings, ours_total, nb_total, out)
    print(f"\nwrote {out}")
    return 0


def _figures(
    comparison: pd.DataFrame, timings: pd.DataFrame, ours_total: float, nb_total: float, out: Path
) -> None:
    fig = Figure(figsize=(9, 4.8), layout="constrained")
    ax = fig.subplots()
    # The replicated experiments share one grid of sizes; single_run's own grid would zigzag.
    replicated = comparison[comparison["experiment"] != "single_run"]
    by = replicated.groupby(["model", "data_size"])["rel_diff"].max().reset_index()
    colours = matplotlib.colormaps["tab20"].colors
    for i, (model, part) in enumerate(by.groupby("model", sort=False)):
        ax.plot(
            part["data_size"],
            np.maximum(part["rel_diff"], 1e-17),
            marker="o",
            markersize=3,
            color=colours[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20],
            label=model,
        )
    ax.axhline(TOLERANCE, color="0.3", linestyle=":", label="tolerance 1e-8")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training rows (data size)",
        ylabel="max relative MSE difference",
        title="regretlab vs the notebook's refits: worst over replicates and experiments",
    )
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(fig, out / "rel_diff.png", dpi=110)

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.barh(timings["experiment"], timings["ratio"])
    ax.axvline(
        nb_total / ours_total,
        color="k",
        linestyle="--",
        label=f"whole study {nb_total / ours_total:.1f}x",
    )
    ax.set(xlabel="speed-up (notebook time / regretlab time)", title="Seed study speed-up")
    ax.invert_yaxis()
    ax.legend()
    save_figure(fig, out / "speed.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
