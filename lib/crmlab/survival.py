"""Survival analysis of account closures: Kaplan-Meier curves, log-rank tests, Cox models with a
proportional-hazards check, time-varying (counting-process) data, and lifecycle stages of a bank.

Time scale and censoring
------------------------
The time of a customer is the **tenure in months** (days since ``open_date`` / 30.4375). An account
closed at ``closure_date`` has an *event* at its tenure then; an account still open at the data end
is *censored* there. An extract that only holds accounts open at some time in a window is
*left-truncated*: a customer who opened before the window is only in the data because the account
survived until the window began, so it enters the risk set at its tenure at the window start
(``entry``). Pass ``entry_col="entry"`` to every function below when the data are left-truncated;
ignoring it biases survival upwards and hazard ratios towards the protective covariates of long
survivors. An account closed on the day it opened (or on the day it entered) counts half a day at
risk, so that every interval has a positive length.

Libraries: ``statsmodels.duration.survfunc.SurvfuncRight`` (Kaplan-Meier), ``survdiff``
(log-rank), ``statsmodels.duration.hazard_regression.PHReg`` (Cox).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from crmlab.churn import DAYS_PER_MONTH, customer_covariates, month_labels, month_ordinals
from crmlab.errors import DataError, describe_rows

__all__ = [
    "STAGES",
    "CoxFit",
    "KMResult",
    "LifecycleRules",
    "add_offer_indicator",
    "attributable_fraction",
    "cox_model",
    "flag_cox",
    "flag_scored",
    "flag_value",
    "flag_survival_frame",
    "km_group_column",
    "km_by_group",
    "lifecycle_stage",
    "logrank",
    "ph_check",
    "static_cox_frame",
    "survival_frame",
    "time_varying_frame",
]

HALF_DAY = 0.5 / DAYS_PER_MONTH  # months

MEDIAN_LABELS: dict[str, str] = {
    "group": "Group",
    "n": "Customers",
    "n_events": "Closures",
    "median": "Median months to closure",
    "median_ci_low": "CI low",
    "median_ci_high": "CI high",
}
"""Reader headers of :func:`km_by_group`'s ``medians`` table (for
:func:`crmlab.narrative.present`)."""

MEDIAN_LABELS_FLAG: dict[str, str] = {
    **MEDIAN_LABELS,
    "n_events": "Leavers",
    "median": "Median months to leaving",
}
"""The same headers for a churn-flag extract of any business (leavers, not account closures)."""


def _require(df, cols, what):
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; the table has {list(df.columns)}.")


def _dates(df, col, what, allow_missing):
    s = df[col]
    parsed = pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
    bad = parsed.isna() & s.notna() & (s.astype("str").str.strip() != "")
    if not allow_missing:
        bad = bad | parsed.isna()
    if bad.any():
        raise DataError(
            f"{what}: column '{col}' has missing or unparseable dates in "
            f"{describe_rows(df.index[bad])}."
        )
    return parsed


# ----------------------------------------------------------------------------------------------
# survival data
# ----------------------------------------------------------------------------------------------
def survival_frame(
    customers: pd.DataFrame,
    data_end,
    *,
    observation_start=None,
    open_col: str = "open_date",
    close_col: str = "closure_date",
) -> pd.DataFrame:
    """Add tenure-scale survival columns to a customer table.

    Parameters
    ----------
    customers : DataFrame
        One row per account with ``open_col`` and ``close_col`` (blank = still open).
    data_end : date
        Last day of the data: open accounts are censored here, closures after it are ignored.
    observation_start : date, optional
        First day of the extract's window. Accounts opened before it enter the risk set at their
        tenure on that day (left truncation). ``None``: no truncation (``entry`` = 0).

    Returns
    -------
    DataFrame
        A copy with ``duration`` (months from opening to closure or ``data_end``), ``event``
        (1 = closed, 0 = censored) and ``entry`` (months from opening to ``observation_start``,
        0 if opened later or no truncation).
    """
    _require(customers, [open_col, close_col], "survival_frame")
    end = pd.Timestamp(data_end).normalize()
    opened = _dates(customers, open_col, "survival_frame", allow_missing=False)
    closed = _dates(customers, close_col, "survival_frame", allow_missing=True)
    bad = opened > end
    if bad.any():
        raise DataError(
            f"survival_frame: '{open_col}' is after data_end {end.date()} in "
            f"{describe_rows(customers.index[bad])}; drop those rows or move data_end."
        )
    bad = closed.notna() & (closed < opened)
    if bad.any():
        raise DataError(
            f"survival_frame: '{close_col}' before '{open_col}' in "
            f"{describe_rows(customers.index[bad])}."
        )
    event = closed.notna() & (closed <= end)
    stop = closed.where(event, end)
    out = customers.copy()
    duration = (stop - opened).dt.days.to_numpy(dtype=np.float64) / DAYS_PER_MONTH
    if observation_start is not None:
        start = pd.Timestamp(observation_start).normalize()
        bad = event & (closed < start)
        if bad.any():
            raise DataError(
                f"survival_frame: accounts closed before observation_start {start.date()} in "
                f"{describe_rows(customers.index[bad])}; a window extract cannot hold them."
            )
        entry = (
            np.clip((start - opened).dt.days.to_numpy(dtype=np.float64), 0, None) / DAYS_PER_MONTH
        )
    else:
        entry = np.zeros(len(out))
    out["duration"] = np.maximum(duration, entry + HALF_DAY)
    out["event"] = event.astype(np.int64).to_numpy()
    out["entry"] = entry
    return out


def _sorted_months(snapshots: pd.DataFrame, cols, months) -> pd.DataFrame:
    """``customer_id``, ``cols`` and ``_m`` (month ordinal), sorted by customer then month;
    raises if a customer's months are not consecutive."""
    s = snapshots[["customer_id", *cols]].copy()
    s["_m"] = months
    s = s.sort_values(["customer_id", "_m"], kind="mergesort").reset_index(drop=True)
    same = s["customer_id"].eq(s["customer_id"].shift())
    gap = same & (s["_m"].diff() != 1)
    if gap.any():
        raise DataError(
            "time_varying_frame: snapshot months of a customer must be consecutive; gaps or "
            f"duplicates at {describe_rows(s.index[gap])} (after sorting)."
        )
    return s


def _add_rolling(s: pd.DataFrame, rolling: dict) -> pd.DataFrame:
    """Add ``f"{col}_{window}m"`` to the sorted rows of :func:`_sorted_months`."""
    first_row = ~s["customer_id"].eq(s["customer_id"].shift())
    pos = s.groupby("customer_id", sort=False).cumcount().to_numpy()
    for col, (window, how) in rolling.items():
        x = pd.to_numeric(s[col], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
        c = np.cumsum(x)
        base = c - x  # cumulative sum before this row
        grp_start = np.maximum.accumulate(np.where(first_row.to_numpy(), np.arange(len(s)), 0))
        before = base[grp_start]  # cumulative sum before the customer's first row
        lag_ix = np.arange(len(s)) - window
        lagged = np.where(pos >= window, c[np.maximum(lag_ix, 0)], before)
        val = c - lagged
        if how == "any":
            val = (val > 0).astype(np.float64)
        elif how != "sum":
            raise DataError(f"rolling: how must be 'sum' or 'any', got {how!r} for '{col}'.")
        s[f"{col}_{window}m"] = val
    return s


def rolling_covariates(snapshots: pd.DataFrame, rolling: dict | None = None) -> pd.DataFrame:
    """The rolling covariates of :func:`time_varying_frame` alone: ``customer_id``, ``month`` and
    ``f"{column}_{window}m"`` per snapshot row (sorted by customer, then month). Feed the result
    back with ``time_varying_frame(customers, result, rolled=True)``."""
    rolling = {"complaints": (6, "sum"), "fee_rise": (6, "any")} if rolling is None else rolling
    _require(snapshots, ["customer_id", "month", *rolling], "rolling_covariates")
    s = _add_rolling(_sorted_months(snapshots, list(rolling), month_ordinals(snapshots)), rolling)
    rolled = [f"{c}_{w}m" for c, (w, _) in rolling.items()]
    return pd.DataFrame(
        {"customer_id": s["customer_id"], "month": month_labels(s["_m"].to_numpy())}
    ).join(s[rolled])


def time_varying_frame(
    customers: pd.DataFrame,
    snapshots: pd.DataFrame,
    data_end=None,
    *,
    rolling: dict | None = None,
    open_col: str = "open_date",
    close_col: str = "closure_date",
    rolled: bool = False,
) -> pd.DataFrame:
    """Counting-process data for a Cox model with time-varying covariates: one row per customer
    and snapshot month, at risk from ``start`` to ``stop`` (tenure in months).

    Parameters
    ----------
    customers : DataFrame
        ``customer_id``, ``open_col``, ``close_col`` and the static attributes of
        :func:`crmlab.churn.customer_covariates`.
    snapshots : DataFrame
        ``customer_id``, ``month`` ("YYYY-MM") and the columns named in ``rolling``; the months of
        a customer must be consecutive.
    data_end : date, optional
        Data end (default: last day of the latest snapshot month).
    rolling : dict, optional
        ``{column: (window_months, how)}`` with ``how`` "sum" or "any": adds
        ``f"{column}_{window}m"`` = the sum (or 1 if any > 0) of the column over the current and
        the ``window - 1`` previous snapshot months. Default
        ``{"complaints": (6, "sum"), "fee_rise": (6, "any")}``.
    rolled : bool
        True when ``snapshots`` already hold the rolling covariates ``f"{column}_{window}m"``
        (:func:`rolling_covariates`, or computed in the engine by
        :func:`crmlab.engine.finance_case.cox_months`) instead of the raw columns.

    Returns
    -------
    DataFrame
        ``customer_id``, ``month``, ``start``, ``stop``, ``event`` (1 in the closure month), the
        rolling covariates and the static covariates. Fit with ``cox_model(frame, covariates,
        duration_col="stop", entry_col="start")``.
    """
    rolling = {"complaints": (6, "sum"), "fee_rise": (6, "any")} if rolling is None else rolling
    _require(customers, ["customer_id", open_col, close_col], "time_varying_frame(customers)")
    rolled_cols = [f"{c}_{w}m" for c, (w, _) in rolling.items()]
    need = rolled_cols if rolled else list(rolling)
    _require(snapshots, ["customer_id", "month", *need], "time_varying_frame(snapshots)")
    months = month_ordinals(snapshots)
    end = (
        pd.Period(ordinal=int(months.max()), freq="M").end_time.normalize()
        if data_end is None
        else pd.Timestamp(data_end).normalize()
    )
    s = _sorted_months(snapshots, need, months)
    if not rolled:
        s = _add_rolling(s, rolling)
    cust = customers[["customer_id", open_col, close_col]].copy()
    cust["_open"] = _dates(customers, open_col, "time_varying_frame", allow_missing=False)
    cust["_close"] = _dates(customers, close_col, "time_varying_frame", allow_missing=True)
    cov = customer_covariates(customers)
    cust = pd.concat([cust[["customer_id", "_open", "_close"]], cov], axis=1)
    f = s.merge(cust, on="customer_id", how="inner", validate="many_to_one")
    if len(f) < len(s):
        raise DataError(
            "time_varying_frame: some snapshot customers are not in the customer table."
        )
    m_start = pd.PeriodIndex.from_ordinals(f["_m"].to_numpy(), freq="M").to_timestamp()
    m_end = pd.PeriodIndex.from_ordinals(f["_m"].to_numpy() + 1, freq="M").to_timestamp()
    closed_obs = f["_close"].where(f["_close"] <= end)
    lo = np.maximum(m_start.to_numpy(), f["_open"].to_numpy())
    stop_day = np.minimum(m_end.to_numpy(), (end + pd.Timedelta(days=1)).to_datetime64())
    has_close = closed_obs.notna().to_numpy()
    close_vals = closed_obs.to_numpy()
    in_month = has_close & (close_vals >= m_start.to_numpy()) & (close_vals < m_end.to_numpy())
    hi = np.where(in_month, close_vals, stop_day)
    opened = f["_open"].to_numpy()
    start = (lo - opened) / np.timedelta64(1, "D") / DAYS_PER_MONTH
    stop = (hi - opened) / np.timedelta64(1, "D") / DAYS_PER_MONTH
    keep = stop >= start
    f = f.assign(
        month=month_labels(f["_m"].to_numpy()),
        start=start,
        stop=np.maximum(stop, start + HALF_DAY),
        event=in_month.astype(np.int64),
    )[keep]
    rolled = [f"{c}_{w}m" for c, (w, _) in rolling.items()]
    cols = ["customer_id", "month", "start", "stop", "event", *rolled, *cov.columns]
    return f[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Kaplan-Meier and log-rank
# ----------------------------------------------------------------------------------------------
class KMResult(NamedTuple):
    """Kaplan-Meier estimates: ``curves`` (long table) and ``medians`` (one row per group)."""

    curves: pd.DataFrame
    medians: pd.DataFrame


def _surv_arrays(df, duration_col, event_col, entry_col, what):
    _require(df, [duration_col, event_col, entry_col], what)
    t = pd.to_numeric(df[duration_col], errors="coerce").to_numpy(dtype=np.float64)
    e = pd.to_numeric(df[event_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(t) | (t < 0) | ~np.isin(e, [0, 1])
    ent = None
    if entry_col is not None:
        ent = pd.to_numeric(df[entry_col], errors="coerce").to_numpy(dtype=np.float64)
        bad |= ~np.isfinite(ent) | (ent < 0) | (ent > t)
    if bad.any():
        raise DataError(
            f"{what}: need {duration_col} >= 0, {event_col} in {{0, 1}}"
            + (f" and 0 <= {entry_col} <= {duration_col}" if entry_col else "")
            + f"; bad in {describe_rows(df.index[bad])}."
        )
    return t, e.astype(np.int64), ent


def _loglog_ci(s, se, alpha):
    """Pointwise log(-log) confidence interval of a survival probability (as R's default
    ``conf.type="log-log"``): ``S ** exp(+-z * se / (S * log S))``."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = z * se / (s * np.log(s))
        low, high = s ** np.exp(-w), s ** np.exp(w)
    undefined = (s <= 0) | (s >= 1)
    return np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def km_by_group(
    df: pd.DataFrame,
    group_col: str | None = None,
    *,
    duration_col: str = "duration",
    event_col: str = "event",
    entry_col: str | None = None,
    alpha: float = 0.05,
) -> KMResult:
    """Kaplan-Meier survival curves (product-limit estimate) per group.

    ``S(t) = prod over event times t_j <= t of (1 - d_j / n_j)`` with ``d_j`` events and ``n_j``
    at risk (``SurvfuncRight``). The median is the first event time with ``S(t) < 0.5``
    (statsmodels' convention, as SAS: strictly below one half), NaN if ``S`` never drops below
    0.5; its interval is statsmodels' ``quantile_ci`` (cloglog).

    Returns
    -------
    KMResult
        ``curves``: ``group``, ``time`` (starting with a row at time 0, S = 1), ``n_at_risk``,
        ``n_events``, ``survival``, ``ci_low``, ``ci_high`` (pointwise log-log interval).
        ``medians``: ``group``, ``n``, ``n_events``, ``median``, ``median_ci_low``,
        ``median_ci_high`` (NaN where not reached). Without ``group_col`` the group is "all".
    """
    t, e, ent = _surv_arrays(df, duration_col, event_col, entry_col, "km_by_group")
    if group_col is None:
        groups = np.array(["all"] * len(t), dtype=object)
    else:
        _require(df, [group_col], "km_by_group")
        groups = df[group_col].to_numpy(dtype=object)
    curves, medians = [], []
    present = pd.notna(groups)
    for g in sorted(pd.unique(groups[present]), key=str):
        sel = present & (groups == g)
        sf = SurvfuncRight(t[sel], e[sel], entry=None if ent is None else ent[sel])
        low, high = _loglog_ci(sf.surv_prob, sf.surv_prob_se, alpha)
        curves.append(
            pd.DataFrame(
                {
                    "group": g,
                    "time": np.r_[0.0, sf.surv_times],
                    "n_at_risk": np.r_[np.nan, sf.n_risk],
                    "n_events": np.r_[0, sf.n_events],
                    "survival": np.r_[1.0, sf.surv_prob],
                    "ci_low": np.r_[1.0, low],
                    "ci_high": np.r_[1.0, high],
                }
            )
        )
        if e[sel].sum() > 0:
            med = sf.quantile(0.5)
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore", RuntimeWarning)
                    lo, hi = sf.quantile_ci(0.5, alpha=alpha)
            except (ValueError, IndexError):
                lo, hi = np.nan, np.nan
        else:
            med, lo, hi = np.nan, np.nan, np.nan
        medians.append(
            {
                "group": g,
                "n": int(sel.sum()),
                "n_events": int(e[sel].sum()),
                "median": float(med),
                "median_ci_low": float(lo) if np.isfinite(lo) else np.nan,
                "median_ci_high": float(hi) if np.isfinite(hi) else np.nan,
            }
        )
    if not curves:
        raise DataError("km_by_group: no rows with a group value.")
    curves_df = pd.concat(curves, ignore_index=True)
    curves_df["n_at_risk"] = curves_df["n_at_risk"].astype("float64")
    return KMResult(curves=curves_df, medians=pd.DataFrame(medians))


def logrank(
    df: pd.DataFrame,
    group_col: str,
    *,
    duration_col: str = "duration",
    event_col: str = "event",
    entry_col: str | None = None,
    strata_col: str | None = None,
) -> dict:
    """Log-rank test of equal survival across the groups of ``group_col`` (``survdiff``).

    Returns
    -------
    dict
        ``chi2`` (statistic), ``dof`` (groups - 1), ``p_value``, ``n_groups``.
    """
    t, e, ent = _surv_arrays(df, duration_col, event_col, entry_col, "logrank")
    _require(df, [group_col, strata_col], "logrank")
    g = df[group_col]
    ok = g.notna().to_numpy()
    groups = g[ok].astype("str").to_numpy()
    k = len(np.unique(groups))
    if k < 2:
        raise DataError(f"logrank: '{group_col}' needs at least two groups, found {k}.")
    strata = None if strata_col is None else df[strata_col].astype("str").to_numpy()[ok]
    chi2, p = survdiff(t[ok], e[ok], groups, strata=strata, entry=None if ent is None else ent[ok])
    return {"chi2": float(chi2), "dof": k - 1, "p_value": float(p), "n_groups": k}


# ----------------------------------------------------------------------------------------------
# Cox proportional hazards
# ----------------------------------------------------------------------------------------------
@dataclass
class CoxFit:
    """A fitted Cox model.

    Attributes
    ----------
    table : DataFrame
        ``covariate``, ``coef`` (log hazard ratio per unit), ``std_err``, ``hazard_ratio``,
        ``ci_low``, ``ci_high`` (hazard-ratio Wald interval), ``p_value``.
    result : statsmodels ``PHRegResults``
    covariates : list of str
    """

    table: pd.DataFrame
    result: object
    covariates: list


def cox_model(
    df: pd.DataFrame,
    covariates,
    *,
    duration_col: str = "duration",
    event_col: str = "event",
    entry_col: str | None = None,
    strata_col: str | None = None,
    ties: str = "breslow",
    alpha: float = 0.05,
) -> CoxFit:
    """Cox proportional-hazards model (``PHReg``) of the numeric ``covariates``.

    ``ties`` is "breslow" or "efron". For time-varying covariates pass the counting-process rows of
    :func:`time_varying_frame` with ``duration_col="stop"`` and ``entry_col="start"``.
    """
    covariates = list(covariates)
    t, e, ent = _surv_arrays(df, duration_col, event_col, entry_col, "cox_model")
    _require(df, [*covariates, strata_col], "cox_model")
    X = df[covariates].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    bad = X.isna().any(axis=1)
    if bad.any():
        cols = [c for c in covariates if X[c].isna().any()]
        raise DataError(
            f"cox_model: missing or non-numeric values in {cols} at {describe_rows(df.index[bad])};"
            " encode categories as 0/1 columns (crmlab.churn.customer_covariates) and fill gaps."
        )
    if e.sum() == 0:
        raise DataError("cox_model: there are no events (closures); nothing to model.")
    strata = None if strata_col is None else df[strata_col].astype("str").to_numpy()
    model = PHReg(t, X.to_numpy(), status=e, entry=ent, strata=strata, ties=ties)
    res = model.fit()
    z = stats.norm.ppf(1 - alpha / 2)
    coef, se = np.asarray(res.params), np.asarray(res.bse)
    table = pd.DataFrame(
        {
            "covariate": covariates,
            "coef": coef,
            "std_err": se,
            "hazard_ratio": np.exp(coef),
            "ci_low": np.exp(coef - z * se),
            "ci_high": np.exp(coef + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        }
    )
    return CoxFit(table=table, result=res, covariates=covariates)


def ph_check(fit: CoxFit, *, transform: str = "log") -> pd.DataFrame:
    """Check the proportional-hazards assumption per covariate with Schoenfeld residuals.

    Under proportional hazards the Schoenfeld residuals of a covariate (``PHReg`` results'
    ``schoenfeld_residuals``, defined at event times) show no trend over time. The check is the
    Pearson correlation between a covariate's residuals and ``g(time)`` at the events (``g`` =
    log for ``transform="log"``, the rank for ``"rank"``, identity for ``"identity"``), with the
    t-test p-value of ``scipy.stats.pearsonr`` - an unscaled variant of the Grambsch-Therneau
    test. A small p-value says the covariate's hazard ratio changes with tenure.

    Returns ``covariate``, ``rho``, ``p_value``, ``n_events``, ``ph_ok`` (p_value >= 0.05).
    """
    res = fit.result
    resid = np.asarray(res.schoenfeld_residuals)
    time = np.asarray(res.model.endog, dtype=np.float64)
    ev = np.asarray(res.model.status) == 1
    rows = []
    for j, cov in enumerate(fit.covariates):
        r = resid[:, j]
        ok = ev & np.isfinite(r)
        tt = time[ok]
        if transform == "log":
            g = np.log(np.maximum(tt, HALF_DAY))
        elif transform == "rank":
            g = stats.rankdata(tt)
        elif transform == "identity":
            g = tt
        else:
            raise DataError(f"transform must be 'log', 'rank' or 'identity', got {transform!r}.")
        if ok.sum() < 3 or np.ptp(r[ok]) == 0:
            rho, p = np.nan, np.nan
        else:
            rho, p = stats.pearsonr(r[ok], g)
        rows.append(
            {
                "covariate": cov,
                "rho": float(rho),
                "p_value": float(p),
                "n_events": int(ok.sum()),
                "ph_ok": bool(p >= 0.05) if np.isfinite(p) else False,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# lifecycle stages
# ----------------------------------------------------------------------------------------------
#: Lifecycle stages of a bank customer, in the order the rules are tried (first match wins).
STAGES = ["churned", "at_risk", "new", "declining", "growing", "mature"]


@dataclass(frozen=True)
class LifecycleRules:
    """Configurable rules of :func:`lifecycle_stage` (the first matching rule wins).

    1. ``churned``: the account is closed (``closed`` = 1).
    2. ``at_risk``: predicted churn probability >= ``at_risk_prob``.
    3. ``new``: tenure < ``new_months`` months.
    4. ``declining``: balance change over the lookback <= ``decline`` (e.g. -0.10 = fell 10%+).
    5. ``growing``: balance change >= ``growth``.
    6. ``mature``: everything else (established, stable balance).

    There is no industry-standard cut-off (METHOD.md); the defaults suit a retail bank whose
    12-month churn is ~25%: ``at_risk_prob`` 0.40 is about 1.6 x the base rate.
    """

    at_risk_prob: float = 0.40
    new_months: float = 12.0
    decline: float = -0.10
    growth: float = 0.10


def lifecycle_stage(
    df: pd.DataFrame,
    rules: LifecycleRules | None = None,
    *,
    tenure_col: str = "tenure_months",
    balance_change_col: str = "balance_change",
    risk_col: str = "churn_prob",
    closed_col: str | None = None,
) -> pd.Series:
    """Lifecycle stage per customer by the first matching rule of :class:`LifecycleRules`.

    Parameters
    ----------
    df : DataFrame
        Tenure in months, relative balance change (0.1 = +10%) and predicted churn probability
        (e.g. the output of :func:`crmlab.churn.build_churn_dataset` with a ``churn_prob`` column
        added), and optionally a 0/1 closed flag (``closed_col``).

    Returns
    -------
    Series
        Ordered categorical with the categories :data:`STAGES`, same index as ``df``.
    """
    rules = rules or LifecycleRules()
    _require(df, [tenure_col, balance_change_col, risk_col, closed_col], "lifecycle_stage")
    num = {}
    for c in (tenure_col, balance_change_col, risk_col):
        v = pd.to_numeric(df[c], errors="coerce")
        if v.isna().any():
            raise DataError(
                f"lifecycle_stage: '{c}' has missing or non-numeric values in "
                f"{describe_rows(df.index[v.isna()])}."
            )
        num[c] = v.to_numpy(dtype=np.float64)
    closed = (
        np.zeros(len(df), dtype=bool)
        if closed_col is None
        else pd.to_numeric(df[closed_col], errors="coerce").fillna(0).to_numpy() == 1
    )
    conditions = [
        closed,
        num[risk_col] >= rules.at_risk_prob,
        num[tenure_col] < rules.new_months,
        num[balance_change_col] <= rules.decline,
        num[balance_change_col] >= rules.growth,
    ]
    stage = np.select(conditions, STAGES[:5], default="mature")
    return pd.Series(
        pd.Categorical(stage, categories=STAGES, ordered=True), index=df.index, name="stage"
    )


# ----------------------------------------------------------------------------------------------
# helpers for the churn case
# ----------------------------------------------------------------------------------------------
def add_offer_indicator(
    frame: pd.DataFrame,
    pilot: pd.DataFrame,
    treated: str,
    *,
    column: str = "offer",
    group_col: str = "group",
) -> pd.DataFrame:
    """Add a time-varying 0/1 ``column`` to counting-process rows (:func:`time_varying_frame`):
    1 in the months from the offer date's month on, for customers of the ``treated`` arm.

    ``pilot`` needs ``customer_id``, ``group_col`` and ``offer_date``. A retention offer changes
    the hazard of the offered customers from then on; a Cox model of the whole book should adjust
    for it (and its hazard ratio estimates the offer's effect).
    """
    _require(frame, ["customer_id", "month"], "add_offer_indicator(frame)")
    _require(pilot, ["customer_id", group_col, "offer_date"], "add_offer_indicator(pilot)")
    arm = pilot[pilot[group_col].astype("str") == str(treated)]
    if arm.empty:
        raise DataError(f"add_offer_indicator: no pilot customer in the arm '{treated}'.")
    start = pd.Series(
        month_ordinals(
            pd.DataFrame(
                {
                    "customer_id": arm["customer_id"].to_numpy(),
                    "month": pd.to_datetime(arm["offer_date"]).dt.strftime("%Y-%m").to_numpy(),
                }
            )
        ),
        index=arm["customer_id"].to_numpy(),
    )
    first = frame["customer_id"].map(start)
    m = month_ordinals(frame)
    out = frame.copy()
    out[column] = (first.notna() & (m >= first.fillna(np.inf))).astype(np.int64).to_numpy()
    return out


def static_cox_frame(customers: pd.DataFrame, data_end, *, observation_start=None) -> pd.DataFrame:
    """:func:`survival_frame` with the static attributes as numeric covariates
    (:func:`crmlab.churn.customer_covariates`, replacing the raw yes/no and segment columns):
    ready for ``cox_model(frame, STATIC_FEATURES, entry_col="entry")`` when there are no monthly
    snapshots for time-varying covariates."""
    sf = survival_frame(customers, data_end, observation_start=observation_start)
    cov = customer_covariates(sf)
    return pd.concat([sf.drop(columns=[c for c in cov.columns if c in sf.columns]), cov], axis=1)


def attributable_fraction(
    fit: CoxFit, frame: pd.DataFrame, covariate: str, *, event_col: str = "event"
) -> float:
    """Share of the events (closures) attributable to a covariate of a fitted Cox model.

    The share of events that would not have happened had the covariate been 0 for everyone, all
    else equal (Bruzzi et al. 1985, the case-based adjusted attributable fraction):

        AF = 1 - mean over the event rows of exp(-coef x value)

    For a 0/1 covariate this is Miettinen's ``p_c (HR - 1) / HR`` with ``p_c`` the share of events
    that were exposed. It reads the hazard ratio as causal - true only if the model holds and the
    covariate is something the bank changes (a fee rise), not something it selects on. Negative
    for a protective covariate (events that its absence would have added).

    Parameters
    ----------
    fit : CoxFit
        A fitted model with ``covariate`` among its covariates.
    frame : DataFrame
        The rows the model was fitted on (with ``event_col`` and the covariate).
    """
    if covariate not in fit.covariates:
        raise DataError(f"attributable_fraction: '{covariate}' is not in the model.")
    _require(frame, [covariate, event_col], "attributable_fraction")
    ev = pd.to_numeric(frame[event_col], errors="coerce").to_numpy() == 1
    if not ev.any():
        raise DataError("attributable_fraction: there are no events.")
    beta = float(fit.table.set_index("covariate").loc[covariate, "coef"])
    x = pd.to_numeric(frame.loc[ev, covariate], errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(x).any():
        raise DataError(f"attributable_fraction: '{covariate}' has missing values at events.")
    return float(1.0 - np.mean(np.exp(-beta * x)))


# ----------------------------------------------------------------------------------------------
# a flag extract: one row per customer with `tenure_months` and `churned`
# ----------------------------------------------------------------------------------------------
def flag_survival_frame(customers: pd.DataFrame) -> pd.DataFrame:
    """Survival data of a flag extract: ``duration`` = ``tenure_months`` (0 counts as half a day
    at risk), ``event`` = ``churned`` (1 = left at the end of the tenure, 0 = still a customer:
    censored). Other columns are kept. Rows without a tenure are left out.

    Assumes that the extract holds every customer who was a customer at some time in the
    client's window; customers who left before it are missing, which (like left truncation)
    makes tenures look longer than they are - say so when reading the curves.
    """
    from crmlab.churn import flag_customers

    df = flag_customers(customers)
    if "tenure_months" not in df.columns:
        raise DataError(
            "The survival analysis needs tenure_months (months as a customer); map it under "
            "columns: customers: tenure_months: YOUR_COLUMN."
        )
    df = df[df["tenure_months"].notna()].copy()
    df["duration"] = df["tenure_months"].clip(lower=HALF_DAY)
    df["event"] = df["churned"].astype(np.int64)
    return df


def km_group_column(
    customers: pd.DataFrame, preferred: str = "", *, max_levels: int = 6
) -> str | None:
    """The column to draw Kaplan-Meier curves by: ``preferred`` if given (a :class:`DataError`
    if absent), else ``segment`` if present, else among the text columns (not an id, the flag or
    a date) with 2 to ``max_levels`` values the one whose groups' churn shares lie furthest
    apart (first in column order on a tie); None if there is none."""
    from crmlab.modeling import _ID_NAME

    if preferred:
        if preferred not in customers.columns:
            raise DataError(
                f"km group column '{preferred}' is not in the customer table; it has "
                f"{', '.join(map(str, customers.columns))}."
            )
        return preferred
    if "segment" in customers.columns:
        return "segment"
    from crmlab.churn import flag_customers

    flags = flag_customers(customers)["churned"] if "churned" in customers else None
    best, spread = None, -1.0
    for c in customers.columns:
        s = customers[c]
        if c in ("customer_id", "churned", "tenure_months") or _ID_NAME.search(str(c).lower()):
            continue
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        if 2 <= s.nunique(dropna=True) <= max_levels:
            rates = flags.groupby(s.to_numpy()).mean() if flags is not None else pd.Series([0.0])
            if rates.max() - rates.min() > spread:
                best, spread = str(c), float(rates.max() - rates.min())
    return best


def flag_cox(
    customers: pd.DataFrame,
    *,
    alpha: float = 0.05,
    exclude=(),
    max_categories: int = 10,
) -> tuple[CoxFit, pd.DataFrame]:
    """Cox model of a flag extract: duration ``tenure_months``, event ``churned``, covariates
    every usable other column encoded by :func:`crmlab.modeling.auto_features` (numbers as
    they are, yes/no as 0/1, categories as dummies against the most frequent level), columns that
    are linear combinations of others left out (:func:`crmlab.modeling.drop_collinear`).

    Returns ``(fit, frame)``: the :class:`CoxFit` (hazard ratios per unit of each covariate) and
    the model frame (``duration``, ``event`` and the covariates).
    """
    from crmlab import modeling

    df = flag_survival_frame(customers)
    enc = modeling.auto_features(
        df.drop(columns=["duration", "event"]),
        exclude=[*modeling.FLAG_EXCLUDE, *exclude],
        max_categories=max_categories,
    )
    covariates, _ = modeling.drop_collinear(enc.X)
    if not covariates:
        raise DataError("flag_cox: no usable covariate column besides the id, flag and tenure.")
    frame = pd.concat([df[["duration", "event"]], enc.X[covariates]], axis=1)
    return cox_model(frame, covariates, alpha=alpha), frame


def flag_value(customers: pd.DataFrame, value_column: str = "") -> pd.Series:
    """Yearly value per customer of a flag extract: 12 x ``value_column`` (a monthly amount such
    as the monthly fee; missing or negative counts 0), or 1 for everyone without one (every
    customer counts the same). Raises :class:`DataError` for a column not in the table."""
    if not value_column:
        return pd.Series(1.0, index=customers.index, name="value")
    if value_column not in customers.columns:
        raise DataError(
            f"value column '{value_column}' is not in the customer table; it has "
            f"{', '.join(map(str, customers.columns))}."
        )
    monthly = pd.to_numeric(customers[value_column], errors="coerce").fillna(0).clip(lower=0)
    return (12 * monthly.astype(np.float64)).rename("value")


def flag_scored(
    customers: pd.DataFrame,
    churn_prob,
    *,
    at_risk_prob: float = 0.4,
    value_column: str = "",
) -> pd.DataFrame:
    """Today's customers of a flag extract (``churned`` = 0), scored for the action list.

    Columns added: ``churn_prob``; ``value`` = 12 x ``value_column`` (a monthly amount, e.g. the
    monthly fee: yearly value) or 1 for every customer without one; ``stage`` by
    :func:`lifecycle_stage` (at risk, new, mature: a flag extract has no balance trend; no tenure
    counts as established); ``tier`` = value tiers A/B/C (:func:`crmlab.segments.value_tiers`)
    with a value column, else ``B`` for everyone (no value to rank by).
    """
    from crmlab import segments
    from crmlab.churn import flag_customers

    df = flag_customers(customers)
    df["churn_prob"] = np.asarray(churn_prob, dtype=np.float64)
    df["value"] = flag_value(df, value_column)
    df = df[df["churned"] == 0].copy()
    tenure = df["tenure_months"].fillna(1e6) if "tenure_months" in df else 1e6
    frame = pd.DataFrame(
        {"tenure_months": tenure, "balance_change": 0.0, "churn_prob": df["churn_prob"]},
        index=df.index,
    )
    df["stage"] = lifecycle_stage(frame, LifecycleRules(at_risk_prob=at_risk_prob))
    if value_column:
        df["tier"] = segments.value_tiers(df["value"]).astype("str")
    else:
        df["tier"] = "B"
    return df
