"""Key-driver analysis: which attribute ratings move overall satisfaction.

- :func:`ols_drivers` - OLS of the outcome on the driver ratings: coefficients (points of outcome per
  point of driver), standardized betas, R-squared.
- :func:`ordinal_drivers` - ordinal logit (``OrderedModel``, ``distr="logit"``): coefficients on
  the log-odds of a higher rating, odds ratios with confidence intervals.
- :func:`lmg_importance` - LMG / Shapley decomposition of R-squared (general dominance): driver j
  gets the average, over all orderings of the drivers, of the R-squared it adds when it enters.
  Equivalently ``sum over subsets S without j of |S|! (p - |S| - 1)! / p! * (R2(S + j) - R2(S))``.
  The shares sum exactly to the full model's R-squared. Computed exactly by enumerating all ``2^p``
  subsets (R-squared of each from the correlation matrix), so ``p`` is capped at 15.
- :func:`lmg_bootstrap` - percentile intervals and rank stability by resampling respondents.
- :func:`driver_performance` - how well the business does on each driver: the share of answers
  rating it 4 or more on the drivers' 1-5 scale (a driver asked on another scale is mapped
  linearly onto 1-5 on import: on 1-10, answers of 8 or more count).
- :func:`priority_matrix` - importance x performance quadrants ("fix first", "keep up", ...).

Rows with a missing value in the outcome or any driver are dropped (listwise) and counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.miscmodels.ordinal_model import OrderedModel

from crmlab.canonical import RETAIL_DRIVERS
from crmlab.errors import DataError, ParameterError, describe_rows
from crmlab.metrics import clean_scores

__all__ = [
    "DEFAULT_DRIVERS",
    "MAX_LMG_DRIVERS",
    "OlsDrivers",
    "OrdinalDrivers",
    "driver_performance",
    "lmg_bootstrap",
    "lmg_importance",
    "ols_drivers",
    "ordinal_drivers",
    "priority_matrix",
    "subset_r_squared",
]

DEFAULT_DRIVERS: tuple[str, ...] = RETAIL_DRIVERS
"""Driver rating columns (1-5) of the retail satisfaction survey."""

MAX_LMG_DRIVERS = 15
"""Exact LMG enumerates 2^p subsets; above 15 drivers that is too slow (and too many drivers)."""

QUADRANTS = {
    (True, False): "fix first",
    (True, True): "keep up",
    (False, False): "low priority",
    (False, True): "possible overkill",
}
"""(high importance, high performance) -> quadrant label."""


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------
def _prepare(
    df: pd.DataFrame, outcome: str, drivers: Sequence[str]
) -> tuple[pd.Series, pd.DataFrame, int]:
    """Validate and return (y, X, n_dropped) as float64 with listwise deletion."""
    drivers = list(drivers)
    if not drivers:
        raise ParameterError("give at least one driver column")
    if len(set(drivers)) != len(drivers):
        raise ParameterError(f"driver names repeat: {drivers}")
    if outcome in drivers:
        raise ParameterError(f"the outcome '{outcome}' is also listed as a driver")
    cols = [outcome, *drivers]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} not found; available: {list(df.columns)}")
    data = {}
    for c in cols:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            v = s.astype("float64")
        else:
            v = pd.to_numeric(s, errors="coerce").astype("float64")
            bad = v.isna() & s.notna()
            if bad.any():
                raise DataError(
                    f"column '{c}': {describe_rows(s.index[bad])} are not numbers "
                    f"(e.g. {s[bad].iloc[0]!r}); recode them or set them missing"
                )
        data[c] = v
    d = pd.DataFrame(data)
    complete = d.notna().all(axis=1)
    d = d[complete]
    n_dropped = int((~complete).sum())
    if len(d) <= len(drivers) + 1:
        raise DataError(
            f"only {len(d)} complete rows for {len(drivers)} drivers ({n_dropped} dropped for missing "
            "values); need more responses than drivers + 1"
        )
    const = [c for c in cols if d[c].nunique() < 2]
    if const:
        raise DataError(
            f"columns {const} do not vary in the complete rows; drop them from the model"
        )
    X = d[drivers]
    centered = X.to_numpy() - X.to_numpy().mean(axis=0)
    if np.linalg.matrix_rank(centered) < len(drivers):
        raise DataError(
            f"drivers {drivers} are perfectly collinear (one is a linear combination of others); "
            "drop the redundant driver"
        )
    return d[outcome], X, n_dropped


# --------------------------------------------------------------------------------------------
# OLS
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OlsDrivers:
    """OLS key-driver model.

    Attributes
    ----------
    table : DataFrame
        Index = driver; columns ``coef`` (outcome points per driver point), ``se``, ``ci_low``,
        ``ci_high``, ``p_value``, ``std_beta`` (coef x sd(driver) / sd(outcome)).
    intercept : float
    r_squared, adj_r_squared : float
    n, n_dropped : int
    model : statsmodels RegressionResults
    """

    table: pd.DataFrame
    intercept: float
    r_squared: float
    adj_r_squared: float
    n: int
    n_dropped: int
    model: object = field(default=None, repr=False)


def ols_drivers(
    df: pd.DataFrame,
    outcome: str = "overall_satisfaction",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    alpha: float = 0.05,
    cov_type: str = "HC1",
) -> OlsDrivers:
    """Regress the outcome rating on the driver ratings by OLS (statsmodels).

    Parameters
    ----------
    df : DataFrame
    outcome : str
    drivers : sequence of str
    alpha : float
        1 - confidence level of the coefficient intervals.
    cov_type : str
        Standard errors: "HC1" (heteroskedasticity-robust, default - ratings are bounded so errors
        are not homoskedastic) or "nonrobust".

    Returns
    -------
    OlsDrivers
    """
    y, X, dropped = _prepare(df, outcome, drivers)
    res = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit(cov_type=cov_type)
    ci = res.conf_int(alpha=alpha)
    names = list(X.columns)
    table = pd.DataFrame(
        {
            "coef": res.params[names],
            "se": res.bse[names],
            "ci_low": ci.loc[names, 0],
            "ci_high": ci.loc[names, 1],
            "p_value": res.pvalues[names],
            "std_beta": res.params[names] * X.std(ddof=1) / y.std(ddof=1),
        }
    )
    table.index.name = "driver"
    return OlsDrivers(
        table=table,
        intercept=float(res.params["const"]),
        r_squared=float(res.rsquared),
        adj_r_squared=float(res.rsquared_adj),
        n=int(res.nobs),
        n_dropped=dropped,
        model=res,
    )


# --------------------------------------------------------------------------------------------
# Ordinal logit
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrdinalDrivers:
    """Ordinal-logit key-driver model (proportional odds).

    Attributes
    ----------
    table : DataFrame
        Index = driver; ``coef`` (change in log-odds of a higher outcome rating per driver point),
        ``se``, ``p_value``, ``odds_ratio`` = exp(coef), ``or_low``, ``or_high``.
    thresholds : Series
        Cut points on the latent scale between consecutive outcome levels ("1/2", "2/3", ...).
    pseudo_r_squared : float
        McFadden's pseudo R-squared.
    n, n_dropped : int
    converged : bool
    model : statsmodels OrderedResults
    """

    table: pd.DataFrame
    thresholds: pd.Series
    pseudo_r_squared: float
    n: int
    n_dropped: int
    converged: bool
    model: object = field(default=None, repr=False)


def ordinal_drivers(
    df: pd.DataFrame,
    outcome: str = "overall_satisfaction",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    alpha: float = 0.05,
) -> OrdinalDrivers:
    """Ordinal logit of the outcome rating on the driver ratings.

    ``statsmodels.miscmodels.ordinal_model.OrderedModel(distr="logit")``, fitted by BFGS. The model
    is ``P(outcome <= k) = logistic(threshold_k - x'beta)``, so a positive coefficient raises the
    odds of a higher rating by ``exp(coef)`` per driver point.

    Returns
    -------
    OrdinalDrivers
    """
    y, X, dropped = _prepare(df, outcome, drivers)
    levels = sorted(y.unique())
    if len(levels) < 3:
        raise DataError(
            f"outcome '{outcome}' has {len(levels)} levels in the complete rows; an ordinal model "
            "needs at least 3 (use a logit for a yes/no outcome)"
        )
    labels = [f"{v:g}" for v in levels]
    endog = pd.Series(
        pd.Categorical([f"{v:g}" for v in y], categories=labels, ordered=True),
        index=y.index,
        name=outcome,
    )
    model = OrderedModel(endog, X, distr="logit")
    res = model.fit(method="bfgs", disp=False, maxiter=2000)
    names = list(X.columns)
    ci = res.conf_int(alpha=alpha)
    coef = res.params[names]
    table = pd.DataFrame(
        {
            "coef": coef,
            "se": res.bse[names],
            "p_value": res.pvalues[names],
            "odds_ratio": np.exp(coef),
            "or_low": np.exp(ci.loc[names, 0]),
            "or_high": np.exp(ci.loc[names, 1]),
        }
    )
    table.index.name = "driver"
    cuts = model.transform_threshold_params(res.params.to_numpy())[1:-1]
    thr_names = [f"{a}/{b}" for a, b in zip(labels[:-1], labels[1:], strict=True)]
    return OrdinalDrivers(
        table=table,
        thresholds=pd.Series(cuts, index=thr_names, name="threshold"),
        pseudo_r_squared=float(res.prsquared),
        n=int(res.nobs),
        n_dropped=dropped,
        converged=bool(res.mle_retvals.get("converged", True)),
        model=res,
    )


# --------------------------------------------------------------------------------------------
# LMG / Shapley decomposition of R-squared
# --------------------------------------------------------------------------------------------
def _bits(p: int) -> tuple[np.ndarray, np.ndarray]:
    masks = np.arange(2**p)
    bits = ((masks[:, None] >> np.arange(p)) & 1).astype(bool)
    return bits, bits.sum(axis=1)


def subset_r_squared(corr: np.ndarray) -> np.ndarray:
    """R-squared of the regression of variable 0 on every subset of variables 1..p.

    Parameters
    ----------
    corr : (p + 1, p + 1) array
        Correlation matrix with the outcome first.

    Returns
    -------
    array of length ``2 ** p``
        Entry ``m`` is the R-squared on the drivers whose bits are set in ``m`` (bit j = driver j);
        entry 0 (no driver) is 0. ``R2(S) = r_S' R_SS^-1 r_S`` with ``r_S`` the outcome-driver and
        ``R_SS`` the driver-driver correlations. Subsets of equal size are solved as one batch.
    """
    corr = np.asarray(corr, dtype="float64")
    p = corr.shape[0] - 1
    r = corr[0, 1:]
    R = corr[1:, 1:]
    bits, size = _bits(p)
    out = np.zeros(2**p)
    for k in range(1, p + 1):
        sel = np.nonzero(size == k)[0]
        idx = np.nonzero(bits[sel])[1].reshape(len(sel), k)
        Rs = R[idx[:, :, None], idx[:, None, :]]
        rs = r[idx]
        beta = np.linalg.solve(Rs, rs[..., None])[..., 0]
        out[sel] = (rs * beta).sum(axis=1)
    return out


def _shapley(r2: np.ndarray, p: int) -> np.ndarray:
    """Shapley values of the set function ``r2`` (indexed by bitmask) for p players."""
    _, size = _bits(p)
    masks = np.arange(2**p)
    fact = np.array([math.factorial(k) for k in range(p + 1)], dtype="float64")
    out = np.empty(p)
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        k = size[without]
        w = fact[k] * fact[p - k - 1] / fact[p]
        out[j] = np.sum(w * (r2[without | (1 << j)] - r2[without]))
    return out


def _lmg_from_matrix(values: np.ndarray) -> tuple[np.ndarray, float]:
    corr = np.corrcoef(values, rowvar=False)
    p = values.shape[1] - 1
    r2 = subset_r_squared(corr)
    return _shapley(r2, p), float(r2[-1])


def _check_lmg_size(drivers: Sequence[str]) -> None:
    if len(drivers) > MAX_LMG_DRIVERS:
        raise ParameterError(
            f"exact LMG enumerates 2^p subsets; {len(drivers)} drivers exceed the limit of "
            f"{MAX_LMG_DRIVERS}. Group or pre-select drivers"
        )


def lmg_importance(
    df: pd.DataFrame,
    outcome: str = "overall_satisfaction",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    normalize: bool = False,
) -> pd.Series:
    """LMG (Shapley) share of R-squared for each driver.

    Parameters
    ----------
    df : DataFrame
    outcome : str
    drivers : sequence of str
        At most ``MAX_LMG_DRIVERS`` (15).
    normalize : bool
        False (default): each value is the R-squared contributed by the driver, and the values sum
        to the full model's R-squared. True: divided by R-squared, summing to 1.

    Returns
    -------
    Series
        Index = driver (in the given order), name ``"lmg"``; ``attrs["r_squared"]`` holds the full
        model's R-squared and ``attrs["n"]``, ``attrs["n_dropped"]`` the rows used / dropped.
    """
    _check_lmg_size(drivers)
    y, X, dropped = _prepare(df, outcome, drivers)
    values = np.column_stack([y.to_numpy(), X.to_numpy()])
    shares, r2 = _lmg_from_matrix(values)
    s = pd.Series(shares / r2 if normalize else shares, index=list(X.columns), name="lmg")
    s.index.name = "driver"
    s.attrs.update({"r_squared": r2, "n": len(y), "n_dropped": dropped})
    return s


def lmg_bootstrap(
    df: pd.DataFrame,
    outcome: str = "overall_satisfaction",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    n_boot: int = 200,
    seed: int | np.random.Generator | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """LMG importance with bootstrap percentile intervals and rank stability.

    Respondents are resampled with replacement ``n_boot`` times; each resample's LMG values give the
    percentile interval, and each resample's ranking of the drivers gives the rank interval and the
    rank stability.

    Parameters
    ----------
    df, outcome, drivers
        As in :func:`lmg_importance`.
    n_boot : int
        Bootstrap resamples (>= 20; 200 is enough for 95% percentile intervals of this kind).
    seed : int or numpy Generator
        Random state (required for reproducible intervals).
    alpha : float
        1 - interval coverage.

    Returns
    -------
    DataFrame
        Index = driver, sorted by importance (largest first); columns ``lmg`` (full-sample R-squared
        contribution), ``share`` (lmg / R-squared), ``low``, ``high`` (percentile interval of lmg),
        ``rank`` (1 = most important, full sample), ``rank_low``, ``rank_high`` (percentile interval
        of the bootstrap rank) and ``rank_stability`` (share of resamples giving the driver the same
        rank as the full sample). ``attrs`` holds ``r_squared``, ``r_squared_low``,
        ``r_squared_high``, ``n``, ``n_dropped``, ``n_boot`` (resamples used) and ``alpha``.
    """
    _check_lmg_size(drivers)
    if int(n_boot) < 20:
        raise ParameterError(f"n_boot must be at least 20, got {n_boot}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    y, X, dropped = _prepare(df, outcome, drivers)
    values = np.column_stack([y.to_numpy(), X.to_numpy()])
    point, r2 = _lmg_from_matrix(values)
    rng = np.random.default_rng(seed)
    n = len(values)
    boots, r2s = [], []
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(int(n_boot)):
            sample = values[rng.integers(0, n, n)]
            if (sample.std(axis=0) == 0).any():  # a resample where some column is constant
                continue
            try:
                b, b_r2 = _lmg_from_matrix(sample)
            except np.linalg.LinAlgError:
                continue
            boots.append(b)
            r2s.append(b_r2)
    if len(boots) < max(20, int(n_boot) // 2):
        raise DataError(
            f"only {len(boots)} of {n_boot} bootstrap resamples could be fitted; the data are too "
            "few or too degenerate for a bootstrap"
        )
    boots = np.asarray(boots)
    q = [alpha / 2, 1 - alpha / 2]
    low, high = np.quantile(boots, q, axis=0)
    point_rank = _ranks(point)
    boot_ranks = np.apply_along_axis(_ranks, 1, boots)
    rank_low, rank_high = np.quantile(boot_ranks, q, axis=0, method="inverted_cdf")
    out = pd.DataFrame(
        {
            "lmg": point,
            "share": point / r2,
            "low": low,
            "high": high,
            "rank": point_rank,
            "rank_low": rank_low.astype(int),
            "rank_high": rank_high.astype(int),
            "rank_stability": (boot_ranks == point_rank).mean(axis=0),
        },
        index=pd.Index(list(X.columns), name="driver"),
    ).sort_values("rank")
    r2_low, r2_high = np.quantile(r2s, q)
    out.attrs.update(
        {
            "r_squared": r2,
            "r_squared_low": float(r2_low),
            "r_squared_high": float(r2_high),
            "n": n,
            "n_dropped": dropped,
            "n_boot": len(boots),
            "alpha": alpha,
        }
    )
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """1 = largest; ties broken by order."""
    order = np.argsort(-np.asarray(values), kind="stable")
    ranks = np.empty(len(order), dtype=int)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


# --------------------------------------------------------------------------------------------
# Performance and priority matrix
# --------------------------------------------------------------------------------------------
def driver_performance(
    df: pd.DataFrame,
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    kind: str = "top2",
    scale: tuple[float, float] = (1, 5),
    satisfied_at: float | None = None,
) -> pd.Series:
    """How well the business does on each driver.

    Parameters
    ----------
    kind : {"top2", "mean"}
        "top2": share of ratings at or above ``satisfied_at`` (default 4 on the 1-5 scale: 4 or
        more), in [0, 1]; "mean": mean rating.
    scale, satisfied_at
        As in :func:`crmlab.metrics.csat`.

    Ratings need not be whole numbers: a client's driver asked in several questions is their
    mean (4.5), one asked on another scale is mapped linearly onto 1-5 on import (8 on 1-10 is
    4.11), see :func:`crmlab.ingest.rescale_linear`. So "top2" counts the ratings of 4 or more,
    not only 4 and 5: on a 1-10 driver that is 7.75 or more, i.e. 8-10.

    Returns
    -------
    Series
        Index = driver, name ``"performance"``. Missing ratings are ignored per driver.
    """
    from crmlab.metrics import satisfied_threshold

    if kind not in ("top2", "mean"):
        raise ParameterError(f"kind must be 'top2' or 'mean', got {kind!r}")
    missing = [c for c in drivers if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} not found; available: {list(df.columns)}")
    thr = satisfied_threshold(scale, satisfied_at) if kind == "top2" else None
    values = {}
    for c in drivers:
        valid, _ = clean_scores(df[c], scale, integer=False)
        if valid.empty:
            raise DataError(f"column '{c}' has no valid rating")
        values[c] = float((valid >= thr).mean()) if kind == "top2" else float(valid.mean())
    s = pd.Series(values, name="performance")
    s.index.name = "driver"
    return s


def priority_matrix(
    importance: pd.Series,
    performance: pd.Series,
    importance_cut: float | None = None,
    performance_cut: float | None = None,
) -> pd.DataFrame:
    """Importance x performance quadrants.

    A driver is "high" on an axis when its value is at or above the cut (default: the median over
    the drivers). Quadrants: high importance and low performance = "fix first"; high and high =
    "keep up"; low and low = "low priority"; low importance and high performance = "possible
    overkill".

    Parameters
    ----------
    importance : Series
        Index = driver (e.g. :func:`lmg_importance`, or the ``lmg`` column of
        :func:`lmg_bootstrap`).
    performance : Series
        Index = driver (e.g. :func:`driver_performance`); same drivers as ``importance``.
    importance_cut, performance_cut : float, optional

    Returns
    -------
    DataFrame
        Index = driver, sorted by importance (largest first); columns ``importance``,
        ``performance``, ``high_importance``, ``high_performance``, ``quadrant``. ``attrs`` holds the
        cuts used.
    """
    imp = pd.Series(importance, dtype="float64")
    perf = pd.Series(performance, dtype="float64")
    if set(imp.index) != set(perf.index) or len(imp) != len(perf):
        raise DataError(
            f"importance and performance must cover the same drivers; only in importance: "
            f"{sorted(set(imp.index) - set(perf.index))}, only in performance: "
            f"{sorted(set(perf.index) - set(imp.index))}"
        )
    if imp.isna().any() or perf.isna().any():
        raise DataError("importance and performance must not contain missing values")
    perf = perf.reindex(imp.index)
    i_cut = float(imp.median()) if importance_cut is None else float(importance_cut)
    p_cut = float(perf.median()) if performance_cut is None else float(performance_cut)
    hi_i = imp >= i_cut
    hi_p = perf >= p_cut
    out = pd.DataFrame(
        {
            "importance": imp,
            "performance": perf,
            "high_importance": hi_i,
            "high_performance": hi_p,
            "quadrant": pd.Series(
                [QUADRANTS[(bool(a), bool(b))] for a, b in zip(hi_i, hi_p, strict=True)],
                index=imp.index,
                dtype="str",
            ),
        }
    ).sort_values("importance", ascending=False, kind="stable")
    out.index.name = "driver"
    out.attrs.update({"importance_cut": i_cut, "performance_cut": p_cut})
    return out
