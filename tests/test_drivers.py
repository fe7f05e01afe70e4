"""Key-driver analysis against independent computations and planted effects."""

from __future__ import annotations

import itertools
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlab.charts.satisfaction import plot_driver_importance, plot_priority_matrix  # noqa: E402
from crmlab.drivers import (  # noqa: E402
    driver_performance,
    lmg_bootstrap,
    lmg_importance,
    ols_drivers,
    ordinal_drivers,
    priority_matrix,
)
from crmlab.errors import DataError, ParameterError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def r2_lstsq(df: pd.DataFrame, outcome: str, cols) -> float:
    """R-squared of OLS with intercept, computed independently with numpy lstsq."""
    y = df[outcome].to_numpy(float)
    if not cols:
        return 0.0
    X = np.column_stack([np.ones(len(df)), df[list(cols)].to_numpy(float)])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    return 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))


def correlated_data(n=400, seed=0, p=3):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, p))
    mix = np.eye(p) + 0.5  # correlated drivers
    X = z @ mix
    beta = np.linspace(1.0, 0.2, p)
    y = X @ beta + rng.normal(scale=2.0, size=n)
    cols = [f"x{i + 1}" for i in range(p)]
    return pd.DataFrame(np.column_stack([y, X]), columns=["y", *cols]), cols


# ---- LMG -------------------------------------------------------------------------------------
def test_lmg_two_predictors_hand_formula():
    df, cols = correlated_data(p=2)
    r1, r2, r12 = (r2_lstsq(df, "y", c) for c in (["x1"], ["x2"], ["x1", "x2"]))
    lmg = lmg_importance(df, "y", cols)
    assert lmg["x1"] == pytest.approx((r1 + r12 - r2) / 2, abs=1e-12)
    assert lmg["x2"] == pytest.approx((r2 + r12 - r1) / 2, abs=1e-12)
    assert lmg.sum() == pytest.approx(r12, abs=1e-12)
    assert lmg.attrs["r_squared"] == pytest.approx(r12, abs=1e-12)


def test_lmg_three_predictors_average_over_orderings():
    df, cols = correlated_data(p=3, seed=1)
    brute = dict.fromkeys(cols, 0.0)
    orders = list(itertools.permutations(cols))
    assert len(orders) == 6
    for order in orders:
        for k, c in enumerate(order):
            brute[c] += (r2_lstsq(df, "y", order[: k + 1]) - r2_lstsq(df, "y", order[:k])) / 6
    lmg = lmg_importance(df, "y", cols)
    assert lmg.to_dict() == pytest.approx(brute, abs=1e-12)
    assert lmg.sum() == pytest.approx(r2_lstsq(df, "y", cols), abs=1e-12)


def test_lmg_orthogonal_drivers_get_squared_correlations():
    # a balanced 2^3 factorial design: drivers exactly uncorrelated, so LMG_j = corr(y, x_j)^2
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))
    y = X @ np.array([3.0, 2.0, 1.0]) + np.array([1, -1, -1, 1, -1, 1, 1, -1.0])
    df = pd.DataFrame(np.column_stack([y, X]), columns=["y", "a", "b", "c"])
    lmg = lmg_importance(df, "y", ["a", "b", "c"])
    # sum of squares: y has 8 * (9 + 4 + 1 + 1) = 120 around its mean 0; each x_j explains 8 b_j^2
    assert lmg.tolist() == pytest.approx([72 / 120, 32 / 120, 8 / 120], abs=1e-12)
    assert lmg_importance(df, "y", ["a", "b", "c"], normalize=True).sum() == pytest.approx(1.0)


def test_lmg_twelve_drivers_sums_to_r_squared():
    df, cols = correlated_data(n=300, p=12, seed=3)
    lmg = lmg_importance(df, "y", cols)
    assert lmg.sum() == pytest.approx(r2_lstsq(df, "y", cols), abs=1e-10)
    assert (lmg > 0).all()


def test_lmg_rejects_too_many_drivers_and_bad_data():
    df, cols = correlated_data(n=60, p=16)
    with pytest.raises(ParameterError, match="limit of 15"):
        lmg_importance(df, "y", cols)
    df, cols = correlated_data(p=2)
    with pytest.raises(DataError, match="perfectly collinear"):
        lmg_importance(df.assign(x3=df["x1"] + df["x2"]), "y", [*cols, "x3"])
    with pytest.raises(DataError, match="do not vary"):
        lmg_importance(df.assign(x3=1.0), "y", [*cols, "x3"])
    with pytest.raises(DataError, match="not found"):
        lmg_importance(df, "y", ["x1", "nope"])


def test_lmg_drops_incomplete_rows():
    df, cols = correlated_data(p=2)
    holes = df.copy()
    holes.loc[[0, 5], "x1"] = np.nan
    lmg = lmg_importance(holes, "y", cols)
    assert (lmg.attrs["n"], lmg.attrs["n_dropped"]) == (398, 2)
    assert lmg.sum() == pytest.approx(r2_lstsq(df.drop(index=[0, 5]), "y", cols), abs=1e-12)


def independent_drivers(n=1000, seed=11):
    # y = 1.0 x1 + 0.5 x2 + 0.2 x3 + e, all N(0, 1): population LMG_j = b_j^2 / 2.29
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, 0.5, 0.2]) + rng.normal(size=n)
    return pd.DataFrame(np.column_stack([y, X]), columns=["y", "x1", "x2", "x3"])


def test_lmg_bootstrap_covers_population_values_and_is_reproducible():
    df = independent_drivers()
    out = lmg_bootstrap(df, "y", ["x1", "x2", "x3"], n_boot=200, seed=5)
    truth = {"x1": 1 / 2.29, "x2": 0.25 / 2.29, "x3": 0.04 / 2.29}
    for d, t in truth.items():
        assert out.loc[d, "low"] < t < out.loc[d, "high"]
    assert out.index.tolist() == ["x1", "x2", "x3"]
    assert out["rank"].tolist() == [1, 2, 3]
    assert out.loc["x1", "rank_stability"] == 1.0  # x1 dominates every resample
    assert out["lmg"].sum() == pytest.approx(out.attrs["r_squared"])
    assert out["share"].sum() == pytest.approx(1.0)
    again = lmg_bootstrap(df, "y", ["x1", "x2", "x3"], n_boot=200, seed=5)
    pd.testing.assert_frame_equal(out, again)
    other = lmg_bootstrap(df, "y", ["x1", "x2", "x3"], n_boot=200, seed=6)
    assert not np.allclose(out["low"], other["low"])


def test_lmg_bootstrap_seven_drivers_is_fast_enough():
    df, cols = correlated_data(n=2000, p=7, seed=4)
    out = lmg_bootstrap(df, "y", cols, n_boot=200, seed=1)
    assert out.attrs["n_boot"] == 200
    assert ((out["low"] <= out["lmg"]) & (out["lmg"] <= out["high"])).all()


# ---- OLS and ordinal logit ---------------------------------------------------------------------
def test_ols_drivers_recovers_planted_coefficients_and_standardized_betas():
    df = independent_drivers(n=3000, seed=2)
    res = ols_drivers(df, "y", ["x1", "x2", "x3"])
    t = res.table
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2", "x3"]].to_numpy()])
    beta, *_ = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)
    assert t["coef"].tolist() == pytest.approx(beta[1:].tolist(), abs=1e-10)
    assert res.intercept == pytest.approx(beta[0], abs=1e-10)
    for d, b in {"x1": 1.0, "x2": 0.5, "x3": 0.2}.items():
        assert abs(t.loc[d, "coef"] - b) < 4 * t.loc[d, "se"]  # planted value within 4 SE
        assert t.loc[d, "ci_low"] < t.loc[d, "coef"] < t.loc[d, "ci_high"]
    # standardized betas = coefficients of the regression of z(y) on z(X)
    z = (df - df.mean()) / df.std(ddof=1)
    Xz = np.column_stack([np.ones(len(z)), z[["x1", "x2", "x3"]].to_numpy()])
    beta_z, *_ = np.linalg.lstsq(Xz, z["y"].to_numpy(), rcond=None)
    assert t["std_beta"].tolist() == pytest.approx(beta_z[1:].tolist(), abs=1e-10)
    assert res.r_squared == pytest.approx(r2_lstsq(df, "y", ["x1", "x2", "x3"]), abs=1e-12)
    assert res.n == 3000 and res.n_dropped == 0


def test_ordinal_drivers_recovers_planted_logit():
    rng = np.random.default_rng(8)
    n = 4000
    X = rng.integers(1, 6, size=(n, 3)).astype(float)
    latent = X @ np.array([0.8, 0.4, 0.0]) + rng.logistic(size=n)
    cuts = [2.0, 3.0, 4.0, 5.0]
    y = 1 + np.searchsorted(cuts, latent)
    df = pd.DataFrame({"overall": y, "a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    res = ordinal_drivers(df, "overall", ["a", "b", "c"])
    t = res.table
    assert t["coef"].tolist() == pytest.approx([0.8, 0.4, 0.0], abs=0.08)
    assert t.loc["a", "or_low"] < math.exp(0.8) < t.loc["a", "or_high"]
    assert t["odds_ratio"].tolist() == pytest.approx(np.exp(t["coef"]).tolist())
    assert res.thresholds.index.tolist() == ["1/2", "2/3", "3/4", "4/5"]
    assert res.thresholds.tolist() == pytest.approx(cuts, abs=0.25)
    assert res.converged


def test_ordinal_drivers_needs_three_levels():
    df = pd.DataFrame({"y": [0, 1] * 20, "a": np.arange(40.0), "b": np.arange(40.0) % 7})
    with pytest.raises(DataError, match="at least 3"):
        ordinal_drivers(df, "y", ["a", "b"])


# ---- performance and priority matrix ------------------------------------------------------------
def test_driver_performance_hand_counted():
    df = pd.DataFrame({"a": [5, 4, 3, 2], "b": [5, 5, 5, np.nan]})
    top2 = driver_performance(df, ["a", "b"])
    assert top2.to_dict() == {"a": 0.5, "b": 1.0}
    assert driver_performance(df, ["a", "b"], kind="mean").to_dict() == {"a": 3.5, "b": 5.0}


def test_priority_matrix_quadrants_on_toy_example():
    importance = pd.Series({"a": 0.40, "b": 0.30, "c": 0.20, "d": 0.10})
    performance = pd.Series({"d": 0.95, "c": 0.50, "b": 0.90, "a": 0.60})
    m = priority_matrix(importance, performance)
    # medians: importance 0.25 (a, b high), performance 0.75 (b, d high)
    assert m["quadrant"].to_dict() == {
        "a": "fix first",
        "b": "keep up",
        "c": "low priority",
        "d": "possible overkill",
    }
    assert m.attrs == {"importance_cut": 0.25, "performance_cut": 0.75}
    cut = priority_matrix(importance, performance, performance_cut=0.55)
    assert cut.loc["c", "quadrant"] == "low priority" and cut.loc["a", "quadrant"] == "keep up"
    with pytest.raises(DataError, match="same drivers"):
        priority_matrix(importance, performance.drop("d"))


def test_driver_charts_render():
    df = independent_drivers(n=300)
    boot = lmg_bootstrap(df, "y", ["x1", "x2", "x3"], n_boot=50, seed=1)
    ax = plot_driver_importance(boot)
    assert len(ax.patches) == 3
    m = priority_matrix(
        pd.Series({"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}),
        pd.Series({"a": 0.6, "b": 0.9, "c": 0.5, "d": 0.95}),
    )
    ax = plot_priority_matrix(m)
    assert len(ax.collections[0].get_offsets()) == 4
    assert len(ax.get_lines()) == 2  # the two cut lines


def test_priority_matrix_labels_of_neighbouring_drivers_do_not_overlap():
    """Two drivers of almost the same importance and performance ("checkout speed", "price
    value" in the shipped data) had their labels drawn over each other."""
    m = priority_matrix(
        pd.Series({"checkout_speed": 0.200, "price_value": 0.201, "staff": 0.5, "range": 0.1}),
        pd.Series({"checkout_speed": 0.700, "price_value": 0.701, "staff": 0.9, "range": 0.4}),
    )
    ax = plot_priority_matrix(m)
    ax.figure.canvas.draw()
    texts = [
        t for t in ax.texts if t.get_text() in {"checkout speed", "price value", "staff", "range"}
    ]
    assert len(texts) == 4
    boxes = [t.get_window_extent() for t in texts]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    # each label still sits next to its own point: within 30 points below it at most
    for t in texts:
        assert t.xyann[0] == 4 and -30 < t.xyann[1] <= 4
    plt.close(ax.figure)
