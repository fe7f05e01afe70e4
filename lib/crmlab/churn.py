"""Churn statistics of a contractual business (a bank): churn rates, cohort retention, a leak-free
churn-prediction data set, a logistic churn model, and score evaluation (AUC, lift, calibration).

Definitions
-----------
Churn rate (METHOD.md)
    customers lost in a period / customers at risk at the start of the period. A customer is *at
    risk* for the period ``[start, start + months)`` if the account was opened before ``start``
    (``open_date < start``) and not closed before it (``closure_date`` missing or
    ``>= start``); customers who open during the period are not in the denominator. A customer is
    *lost* if at risk and ``closure_date < start + months``. Unit: share in [0, 1]; the interval is
    Wilson's score interval (``statsmodels.stats.proportion.proportion_confint``).
Prediction date, horizon, lookback
    A churn model scores customers at risk at a *prediction date* ``t``. Its label is 1 if the
    account closes in ``[t, t + horizon_months)``. Its features use only data known before ``t``:
    static attributes, tenure at ``t`` and monthly snapshots of the ``lookback_months`` complete
    calendar months before ``t`` (a month ``m`` is usable only if its last day is before ``t``).
ROC AUC
    the probability that a random churner scores higher than a random non-churner (ties count
    1/2), computed with the Mann-Whitney rank formula
    ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` where ``R_pos`` is the sum of the
    churners' mid-ranks among all scores.
Lift and cumulative gains
    customers sorted by score (highest first) are cut into ``n_bins`` groups of (nearly) equal
    size; lift = churn rate in the group / overall churn rate; cumulative gain = share of all
    churners found in the top groups so far.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from crmlab.errors import DataError, describe_rows

__all__ = [
    "CHURN_KPIS",
    "FEATURES",
    "STATIC_FEATURES",
    "TENURE_EDGES",
    "ChurnLogit",
    "ChurnRate",
    "PilotData",
    "Window",
    "assert_no_leakage",
    "build_churn_dataset",
    "calibration_table",
    "churn_by",
    "churn_kpis",
    "churn_rate",
    "cohort_retention",
    "customer_covariates",
    "evaluate_scores",
    "fit_churn_logit",
    "label_churn",
    "lift_table",
    "missing_balance_message",
    "month_ordinals",
    "month_labels",
    "observation_window",
    "open_accounts",
    "pilot_arms",
    "pilot_data",
    "pilot_outcomes",
    "roc_curve_table",
    "rolling_churn",
    "score_dataset",
    "tenure_band",
    "tenure_band_months",
    "time_split",
    "FLAG_CUSTOMER_RULES",
    "FlagRate",
    "churn_mode",
    "flag_churn_rate",
    "flag_churn_tables",
    "flag_customers",
    "flag_goal_record",
    "flag_kpis",
    "FLAG_SNAPSHOTS_REASON",
    "no_tenure_reason",
    "as_of_date",
    "whole_months",
]

#: Static customer covariates made by :func:`customer_covariates` (numeric, 0/1 for yes/no).
STATIC_FEATURES = [
    "products_held",
    "salary_deposit",
    "relationship_manager",
    "digital_active",
    "segment_affluent",
    "segment_private",
]

#: Default model features of :func:`build_churn_dataset` (see its docstring for definitions).
FEATURES = [
    *STATIC_FEATURES,
    "tenure_months",
    "new_customer",
    "log_balance_mean",
    "balance_change",
    "logins_mean",
    "logins_change",
    "n_transactions_change",
    "fee_rises",
    "complaints",
    "service_contacts",
]

DAYS_PER_MONTH = 365.25 / 12
_YES_NO = {
    **{"yes": 1, "no": 0, "y": 1, "n": 0, "true": 1, "false": 0, "1": 1, "0": 0},
    **{"1.0": 1, "0.0": 0, "是": 1, "否": 0},
}


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; the table has {list(df.columns)}.")


def _dates(df: pd.DataFrame, col: str, what: str, allow_missing: bool) -> pd.Series:
    s = df[col]
    if pd.api.types.is_datetime64_dtype(s) and (allow_missing or s.notna().all()):
        return s.astype("datetime64[ns]")  # parsed already
    parsed = pd.to_datetime(s, errors="coerce")
    bad = parsed.isna() & s.notna() & (s.astype("str").str.strip() != "")
    if not allow_missing:
        bad = bad | parsed.isna()
    if bad.any():
        raise DataError(
            f"{what}: column '{col}' has missing or unparseable dates in "
            f"{describe_rows(df.index[bad])}; use ISO dates like 2025-01-31"
            + (" (blank means 'not closed')." if allow_missing else ".")
        )
    return parsed.astype("datetime64[ns]")


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{name} must be a date like '2025-11-01', got {value!r}.") from None
    if pd.isna(ts):
        raise DataError(f"{name} must be a date like '2025-11-01', got {value!r}.")
    return ts.normalize()


def _open_close(customers, open_col, close_col, what):
    _require(customers, [open_col, close_col], what)
    opened = _dates(customers, open_col, what, allow_missing=False)
    closed = _dates(customers, close_col, what, allow_missing=True)
    bad = closed.notna() & (closed < opened)
    if bad.any():
        raise DataError(
            f"{what}: '{close_col}' is before '{open_col}' in "
            f"{describe_rows(customers.index[bad])};"
            " fix the dates."
        )
    return opened, closed


def _binary(y, name: str = "y") -> np.ndarray:
    s = pd.Series(y)
    if s.isna().any():
        raise DataError(f"{name} has missing values in {describe_rows(s.index[s.isna()])}.")
    if s.dtype == bool:
        return s.to_numpy(dtype=np.int64)
    v = pd.to_numeric(s, errors="coerce")
    bad = ~v.isin([0, 1])
    if bad.any():
        raise DataError(
            f"{name} must be 0/1 (or bool); bad values in {describe_rows(s.index[bad])}."
        )
    return v.to_numpy(dtype=np.int64)


def _scores(p, n: int, name: str = "p", unit_interval: bool = False) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(p), errors="coerce").to_numpy(dtype=np.float64)
    if len(arr) != n:
        raise DataError(f"{name} has {len(arr)} values but y has {n}.")
    bad = ~np.isfinite(arr)
    if unit_interval:
        bad |= (arr < 0) | (arr > 1)
    if bad.any():
        rng = " in [0, 1]" if unit_interval else ""
        raise DataError(
            f"{name} must be finite numbers{rng}; bad at positions {np.flatnonzero(bad)[:5]}."
        )
    return arr


# ----------------------------------------------------------------------------------------------
# churn rates
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnRate:
    """A churn rate with its Wilson confidence interval.

    Attributes
    ----------
    rate : float
        ``n_lost / n_at_risk`` (share in [0, 1]).
    ci_low, ci_high : float
        Confidence interval (Wilson score).
    n_at_risk, n_lost : int
        Customers at risk at ``start`` and customers lost in the period.
    start, end : pandas.Timestamp
        The period ``[start, end)``.
    alpha : float
        1 - confidence level.
    """

    rate: float
    ci_low: float
    ci_high: float
    n_at_risk: int
    n_lost: int
    start: pd.Timestamp
    end: pd.Timestamp
    alpha: float = 0.05

    def to_series(self) -> pd.Series:
        """The fields as a Series (for tables)."""
        return pd.Series(asdict(self))


def label_churn(
    customers: pd.DataFrame,
    start,
    months: int = 12,
    *,
    open_col: str = "open_date",
    close_col: str = "closure_date",
) -> pd.DataFrame:
    """Customers at risk at ``start`` with a ``churned`` label (1 if closed within the period).

    Returns
    -------
    DataFrame
        The rows of ``customers`` at risk at ``start`` (``open_date < start`` and not closed before
        ``start``), with an int column ``churned`` = 1 if ``closure_date < start + months``.
    """
    start = _timestamp(start, "start")
    if int(months) < 1:
        raise DataError(f"months must be a positive number of months, got {months}.")
    end = start + pd.DateOffset(months=int(months))
    opened, closed = _open_close(customers, open_col, close_col, "churn_rate(customers)")
    at_risk = (opened < start) & (closed.isna() | (closed >= start))
    out = customers.loc[at_risk].copy()
    out["churned"] = (closed[at_risk] < end).fillna(False).astype(np.int64)
    return out


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def churn_rate(
    customers: pd.DataFrame,
    start,
    months: int = 12,
    *,
    alpha: float = 0.05,
    open_col: str = "open_date",
    close_col: str = "closure_date",
) -> ChurnRate:
    """Churn rate over ``[start, start + months)`` with a Wilson confidence interval.

    Customers opened on or after ``start`` are excluded from the denominator (see the module
    docstring). Raises :class:`DataError` if nobody is at risk.
    """
    labelled = label_churn(customers, start, months, open_col=open_col, close_col=close_col)
    n = len(labelled)
    start_ts = _timestamp(start, "start")
    if n == 0:
        raise DataError(
            f"churn_rate: no customer was open at {start_ts.date()} (open_date < start and not "
            "closed before); choose a later start date."
        )
    k = int(labelled["churned"].sum())
    low, high = _wilson(k, n, alpha)
    return ChurnRate(
        rate=k / n,
        ci_low=low,
        ci_high=high,
        n_at_risk=n,
        n_lost=k,
        start=start_ts,
        end=start_ts + pd.DateOffset(months=int(months)),
        alpha=alpha,
    )


def churn_by(
    df: pd.DataFrame, group_col: str, *, label_col: str = "churned", alpha: float = 0.05
) -> pd.DataFrame:
    """Churn rate per group of a labelled table (e.g. from :func:`label_churn`).

    Returns
    -------
    DataFrame
        One row per group (sorted; a categorical column in its category order, empty
        categories left out): ``group_col``, ``n_at_risk``, ``n_lost``, ``churn_rate``,
        ``ci_low``, ``ci_high`` (Wilson). Missing group values form no group.
    """
    _require(df, [group_col, label_col], "churn_by")
    y = _binary(df[label_col], label_col)
    g = pd.DataFrame({"g": df[group_col].reset_index(drop=True), "y": y}).dropna(subset=["g"])
    agg = g.groupby("g", sort=True, observed=True)["y"].agg(n_at_risk="size", n_lost="sum")
    agg = agg.reset_index()
    agg = agg.rename(columns={"g": group_col})
    agg["churn_rate"] = agg["n_lost"] / agg["n_at_risk"]
    cis = [
        _wilson(int(k), int(n), alpha) for k, n in zip(agg["n_lost"], agg["n_at_risk"], strict=True)
    ]
    agg["ci_low"] = [c[0] for c in cis]
    agg["ci_high"] = [c[1] for c in cis]
    return agg


def cohort_retention(
    customers: pd.DataFrame,
    period: str = "M",
    *,
    as_of=None,
    since=None,
    open_col: str = "open_date",
    close_col: str = "closure_date",
) -> pd.DataFrame:
    """Cohort retention table: share of each opening cohort still open k periods later.

    Parameters
    ----------
    customers : DataFrame
        One row per account with ``open_col`` and ``close_col`` (blank = still open).
    period : str
        Pandas period alias of the cohorts and steps: ``"M"`` (months) or ``"Q"`` (quarters).
    as_of : date, optional
        Data end. Cells whose period ends after ``as_of`` are NaN (not yet observed); closures
        after ``as_of`` are ignored. Default: the latest open or closure date.
    since : date, optional
        Keep only cohorts opening in or after the period of ``since``. Use the start of the
        extract: cohorts opened before it are left-truncated (only their survivors are in the
        data), so their retention would be biased upwards.

    Returns
    -------
    DataFrame
        Wide table: index ``cohort`` (period label, e.g. "2024-01"), columns ``k`` = 0, 1, ...
        periods since the opening period; value = share of the cohort whose account is still open
        at the end of period ``cohort + k`` (so column 0 excludes those closing in their opening
        period).
    """
    if period not in ("M", "Q"):
        raise DataError(f"period must be 'M' or 'Q', got {period!r}.")
    opened, closed = _open_close(customers, open_col, close_col, "cohort_retention")
    if len(opened) == 0:
        raise DataError("cohort_retention: the customer table is empty.")
    as_of_ts = (
        _timestamp(as_of, "as_of")
        if as_of is not None
        else max(opened.max(), closed.max() if closed.notna().any() else opened.max())
    )
    keep = opened <= as_of_ts
    if since is not None:
        keep &= opened.dt.to_period(period) >= pd.Period(_timestamp(since, "since"), period)
    opened, closed = opened[keep], closed[keep]
    if len(opened) == 0:
        raise DataError("cohort_retention: no account opened in the selected range.")
    cohort = opened.dt.to_period(period)
    c_ord = np.asarray(cohort.array.asi8, dtype=np.int64)
    closed_obs = closed.where(closed <= as_of_ts)
    big = np.iinfo(np.int64).max // 4
    close_ord = np.full(len(c_ord), big, dtype=np.int64)
    has = closed_obs.notna().to_numpy()
    close_ord[has] = closed_obs[has].dt.to_period(period).array.asi8
    k_close = close_ord - c_ord  # closed by the end of period cohort + k  <=>  k_close <= k
    as_of_p = pd.Period(as_of_ts, period)
    last_complete = as_of_p.ordinal - (0 if as_of_ts >= as_of_p.end_time.normalize() else 1)
    cohorts = np.unique(c_ord)
    k_max = int(last_complete - cohorts.min())
    if k_max < 0:
        raise DataError("cohort_retention: no complete period after the first cohort's opening.")
    table = np.full((len(cohorts), k_max + 1), np.nan)
    for row, c in enumerate(cohorts):
        sel = c_ord == c
        kc = np.minimum(k_close[sel], k_max + 1)
        closed_by = np.cumsum(np.bincount(kc, minlength=k_max + 2))[: k_max + 1]
        shares = 1.0 - closed_by / sel.sum()
        n_obs = int(last_complete - c) + 1
        table[row, : max(n_obs, 0)] = shares[: max(n_obs, 0)]
    labels = [str(pd.Period(ordinal=int(c), freq=period)) for c in cohorts]
    out = pd.DataFrame(table, index=pd.Index(labels, name="cohort"), columns=range(k_max + 1))
    out.columns.name = "k"
    return out


def pilot_outcomes(
    pilot: pd.DataFrame,
    customers: pd.DataFrame,
    follow_up_end,
    *,
    close_col: str = "closure_date",
) -> pd.DataFrame:
    """Outcome of each customer of a retention pilot: closed during the follow-up or not.

    Parameters
    ----------
    pilot : DataFrame
        ``customer_id``, ``group`` (e.g. offer/control) and ``offer_date``.
    customers : DataFrame
        ``customer_id`` and ``close_col``.
    follow_up_end : date
        Last day of the follow-up (inclusive).

    Returns
    -------
    DataFrame
        The pilot rows with ``churned`` = 1 if ``offer_date <= closure_date <= follow_up_end``.
        Summarize with ``churn_by(out, "group")``. Raises :class:`DataError` if a pilot customer
        is missing from ``customers`` or had closed before the offer date.
    """
    _require(pilot, ["customer_id", "group", "offer_date"], "pilot_outcomes(pilot)")
    _require(customers, ["customer_id", close_col], "pilot_outcomes(customers)")
    end = _timestamp(follow_up_end, "follow_up_end")
    closed = _dates(customers, close_col, "pilot_outcomes", allow_missing=True)
    lookup = pd.Series(closed.to_numpy(), index=customers["customer_id"].to_numpy())
    if not lookup.index.is_unique:
        raise DataError("pilot_outcomes: customer_id is not unique in the customer table.")
    missing = ~pilot["customer_id"].isin(lookup.index)
    if missing.any():
        raise DataError(
            f"pilot_outcomes: pilot customers not in the customer table at "
            f"{describe_rows(pilot.index[missing])}."
        )
    offer = _dates(pilot, "offer_date", "pilot_outcomes", allow_missing=False)
    close = pd.Series(lookup.reindex(pilot["customer_id"]).to_numpy(), index=pilot.index)
    early = close.notna() & (close < offer)
    if early.any():
        raise DataError(
            f"pilot_outcomes: customers closed before their offer date at "
            f"{describe_rows(pilot.index[early])}; they cannot be in the pilot."
        )
    out = pilot.copy()
    out["churned"] = (close.notna() & (close <= end)).astype(np.int64)
    return out


# ----------------------------------------------------------------------------------------------
# churn-prediction data set
# ----------------------------------------------------------------------------------------------
def _yes_no(s: pd.Series, col: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        v = pd.to_numeric(s, errors="coerce")
    else:
        v = s.astype("str").str.strip().str.lower().map(_YES_NO)
    bad = v.isna() | ~v.isin([0, 1])
    if bad.any():
        raise DataError(
            f"column '{col}' must be yes/no (or 0/1); bad values in {describe_rows(s.index[bad])}."
        )
    return v.astype(np.int64)


def customer_covariates(customers: pd.DataFrame) -> pd.DataFrame:
    """Numeric covariates of the static customer attributes (:data:`STATIC_FEATURES`).

    ``products_held`` as is; ``salary_deposit``, ``relationship_manager``, ``digital_active``
    yes/no -> 1/0; ``segment`` -> dummies ``segment_affluent`` and ``segment_private`` (reference:
    mass). Returns a DataFrame with the same index.
    """
    cols = ["products_held", "salary_deposit", "relationship_manager", "digital_active", "segment"]
    _require(customers, cols, "customer_covariates")
    out = pd.DataFrame(index=customers.index)
    prod = pd.to_numeric(customers["products_held"], errors="coerce")
    if prod.isna().any() or (prod < 0).any():
        bad = prod.isna() | (prod < 0)
        raise DataError(
            f"products_held must be a count >= 0; bad in {describe_rows(customers.index[bad])}."
        )
    out["products_held"] = prod.astype(np.float64)
    for c in ("salary_deposit", "relationship_manager", "digital_active"):
        out[c] = _yes_no(customers[c], c)
    seg = customers["segment"].astype("str").str.strip().str.lower()
    bad = ~seg.isin(["mass", "affluent", "private"])
    if bad.any():
        raise DataError(
            f"segment must be mass/affluent/private; bad in {describe_rows(customers.index[bad])}."
        )
    out["segment_affluent"] = (seg == "affluent").astype(np.int64)
    out["segment_private"] = (seg == "private").astype(np.int64)
    return out


def month_labels(ordinals) -> np.ndarray:
    """ "YYYY-MM" labels of monthly period ordinals (the inverse of :func:`month_ordinals`)."""
    ords = np.asarray(ordinals, dtype=np.int64)
    uniq, inv = np.unique(ords, return_inverse=True)
    labels = pd.PeriodIndex.from_ordinals(uniq, freq="M").astype("str").to_numpy(dtype=object)
    return labels[inv]


def month_ordinals(snapshots: pd.DataFrame, col: str = "month") -> np.ndarray:
    """Monthly period ordinals (``pandas.Period(..., "M").ordinal``) of a "YYYY-MM" column.

    Parses each distinct value once (fast on tens of millions of rows). Raises
    :class:`DataError` naming the rows whose month is missing or not "YYYY-MM".
    """
    _require(snapshots, [col], "snapshots")
    codes, uniques = pd.factorize(snapshots[col].astype("str"), use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Series(uniques, dtype="str"), format="%Y-%m", errors="coerce")
    ords = np.where(parsed.isna(), np.iinfo(np.int64).min, 0)
    ok = parsed.notna().to_numpy()
    ords[ok] = pd.PeriodIndex(parsed[ok], freq="M").asi8
    out = np.where(codes >= 0, ords[np.maximum(codes, 0)], np.iinfo(np.int64).min)
    bad = out == np.iinfo(np.int64).min
    if bad.any():
        raise DataError(
            f"snapshots: column '{col}' must be 'YYYY-MM'; bad in "
            f"{describe_rows(snapshots.index[bad])}."
        )
    return out


def build_churn_dataset(
    customers: pd.DataFrame,
    snapshots: pd.DataFrame,
    prediction_date,
    horizon_months: int = 12,
    lookback_months: int = 6,
    *,
    data_end=None,
) -> pd.DataFrame:
    """One row per customer at risk at ``prediction_date``: leak-free features and the label.

    Only snapshot months that ended before ``prediction_date`` are read (the rows are filtered
    before anything is computed), and customers' closure dates are used only for the at-risk
    filter and the label; :func:`assert_no_leakage` checks the result.

    Parameters
    ----------
    customers : DataFrame
        ``customer_id``, ``open_date``, ``closure_date`` and the static attributes of
        :func:`customer_covariates` (assumed constant over time), plus ``segment``.
    snapshots : DataFrame
        Monthly rows: ``customer_id``, ``month`` ("YYYY-MM"), ``balance``, ``n_transactions``,
        ``logins``, ``fee_rise``, ``complaints``, ``service_contacts``.
    prediction_date : date
        The scoring date ``t``.
    horizon_months : int
        Label: 1 if the account closes in ``[t, t + horizon_months)``.
    lookback_months : int
        Calendar months before ``t`` (complete months only) used for behaviour features.
    data_end : date, optional
        Last day of the data; default the last day of the latest snapshot month. Raises
        :class:`DataError` if the horizon runs past it (labels not fully observed).

    Returns
    -------
    DataFrame
        ``customer_id``, ``segment``, ``prediction_date``, ``last_data_month`` (latest snapshot
        month used, "YYYY-MM"), ``months_observed``, the :data:`FEATURES`, ``balance_mean``
        (CNY), ``fees_mean`` (CNY per month, if snapshots have ``fees_charged``) and ``churned``
        (0/1). Feature definitions (over the lookback months):

        - ``tenure_months``: (t - open_date) in months (days / 30.44); ``new_customer`` = 1 if
          < 12;
        - ``log_balance_mean``: log(1 + mean balance);
        - ``balance_change``: balance in the last / the first lookback month - 1 (0 if only one
          month, clipped to [-1, 5]);
        - ``logins_mean``; ``logins_change`` = mean logins of the last 2 months - mean of the
          lookback; ``n_transactions_change`` likewise;
        - ``fee_rises``, ``complaints``, ``service_contacts``: sums over the lookback.
    """
    t = _timestamp(prediction_date, "prediction_date")
    horizon_months, lookback_months = int(horizon_months), int(lookback_months)
    if horizon_months < 1 or lookback_months < 1:
        raise DataError("horizon_months and lookback_months must be at least 1.")
    _require(customers, ["customer_id", "segment"], "build_churn_dataset(customers)")
    need = ["balance", "n_transactions", "logins", "fee_rise", "complaints", "service_contacts"]
    _require(snapshots, ["customer_id", "month", *need], "build_churn_dataset(snapshots)")
    months = month_ordinals(snapshots)
    if data_end is None:
        data_end_ts = pd.Period(ordinal=int(months.max()), freq="M").end_time.normalize()
    else:
        data_end_ts = _timestamp(data_end, "data_end")
    horizon_end = t + pd.DateOffset(months=horizon_months)
    if horizon_end - pd.Timedelta(days=1) > data_end_ts:
        raise DataError(
            f"prediction_date {t.date()} + {horizon_months} months runs past the data end "
            f"{data_end_ts.date()}: labels would be incomplete; use a prediction date on or before "
            f"{(data_end_ts + pd.Timedelta(days=1) - pd.DateOffset(months=horizon_months)).date()}."
        )

    # ---- leakage guard by construction: drop every snapshot month not ended before t -------
    last_complete = pd.Period(t, "M") - 1
    first = last_complete - (lookback_months - 1)
    usable = (months >= first.ordinal) & (months <= last_complete.ordinal)
    extra = ["fees_charged"] if "fees_charged" in snapshots.columns else []
    snaps = snapshots.loc[usable, ["customer_id", *need, *extra]].copy()
    snaps["_m"] = months[usable]  # period ordinals
    del months

    labelled = label_churn(customers, t, horizon_months)
    base = labelled[["customer_id", "segment"]].copy()
    opened = pd.to_datetime(labelled["open_date"])
    base["prediction_date"] = t
    base = pd.concat([base, customer_covariates(labelled)], axis=1)
    base["tenure_months"] = (t - opened).dt.days.to_numpy() / DAYS_PER_MONTH
    base["new_customer"] = (base["tenure_months"] < 12).astype(np.int64)

    for c in [*need, *extra]:
        snaps[c] = pd.to_numeric(snaps[c], errors="coerce").astype(np.float64)
    snaps = snaps.sort_values(["customer_id", "_m"], kind="mergesort")
    g = snaps.groupby("customer_id", sort=False)
    recent = snaps[snaps["_m"] >= last_complete.ordinal - 1].groupby("customer_id", sort=False)
    feats = pd.DataFrame(
        {
            "_last_m": g["_m"].max(),
            "months_observed": g.size(),
            "balance_mean": g["balance"].mean(),
            "_bal_first": g["balance"].first(),
            "_bal_last": g["balance"].last(),
            "logins_mean": g["logins"].mean(),
            "_logins_recent": recent["logins"].mean(),
            "_tx_mean": g["n_transactions"].mean(),
            "_tx_recent": recent["n_transactions"].mean(),
            "fee_rises": g["fee_rise"].sum(),
            "complaints": g["complaints"].sum(),
            "service_contacts": g["service_contacts"].sum(),
        }
    )
    if extra:
        feats["fees_mean"] = g["fees_charged"].mean()
    return finish_churn_dataset(base, feats, labelled, t)


def finish_churn_dataset(
    base: pd.DataFrame, feats: pd.DataFrame, labelled: pd.DataFrame, prediction_date
) -> pd.DataFrame:
    """The last steps of :func:`build_churn_dataset`, shared with
    :func:`crmlab.engine.churn_dataset`: derived features from the per-customer aggregates,
    the join to the customers at risk, the label, the column order and the leakage check.

    ``feats`` is indexed by customer id and holds the aggregates plus the helper columns
    ``_bal_first``, ``_bal_last``, ``_logins_recent``, ``_tx_recent``, ``_tx_mean`` and
    ``_last_m`` (month ordinal of the latest snapshot used); ``fees_mean`` is kept if present.
    """
    feats = feats.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = feats["_bal_last"] / feats["_bal_first"] - 1.0
    feats["balance_change"] = change.where(feats["_bal_first"] > 0, 0.0).clip(-1.0, 5.0)
    feats["log_balance_mean"] = np.log1p(feats["balance_mean"].clip(lower=0))
    feats["logins_change"] = feats["_logins_recent"] - feats["logins_mean"]
    feats["n_transactions_change"] = feats["_tx_recent"] - feats["_tx_mean"]
    feats["last_data_month"] = month_labels(feats["_last_m"].to_numpy())
    extra = ["fees_mean"] if "fees_mean" in feats.columns else []
    feats = feats.drop(columns=[c for c in feats.columns if c.startswith("_")])
    out = base.merge(feats, left_on="customer_id", right_index=True, how="left")
    out["months_observed"] = out["months_observed"].fillna(0).astype(np.int64)
    for c in ("fee_rises", "complaints", "service_contacts"):
        out[c] = out[c].fillna(0.0)
    out["churned"] = labelled["churned"].to_numpy()
    cols = [
        "customer_id",
        "segment",
        "prediction_date",
        "last_data_month",
        "months_observed",
        *FEATURES,
        "balance_mean",
        *extra,
        "churned",
    ]
    out = out[cols].reset_index(drop=True)
    assert_no_leakage(out, prediction_date)
    return out


def missing_balance_message(df: pd.DataFrame, column: str = "balance_mean") -> str | None:
    """What to act on when ``column`` of a :func:`build_churn_dataset` table is missing for some
    customers, or None when it is not.

    A customer counted as open at the prediction date (opened before it, ``closure_date`` blank
    or later) whose snapshots have no row in the lookback months has no balance. The usual cause
    is a closure date that is blank, or was unreadable and set to missing: the closed account
    then reads as open (the validate check of :attr:`crmlab.schemas.Field.blank_means` stops
    text in closure dates; a blank one cannot be told from an open account). The message names
    the customers (ids as in the table: pseudonyms in a config run, which ``crmlab lookup``
    turns back into customer numbers), the tables and columns to check, and the fix.
    """
    if column not in df.columns:
        return None
    bad = pd.to_numeric(df[column], errors="coerce").isna().to_numpy()
    if not bad.any():
        return None
    n, n_bad = len(df), int(bad.sum())
    ids = df["customer_id"].to_numpy()[bad] if "customer_id" in df.columns else None
    who = (
        f"customer_id {', '.join(str(x) for x in ids[:5])}"
        + (f" (+{n_bad - 5:,} more)" if n_bad > 5 else "")
        if ids is not None
        else describe_rows(np.flatnonzero(bad))
    )
    when = ""
    if "prediction_date" in df.columns and len(df):
        when = f" at {pd.Timestamp(df['prediction_date'].iloc[0]).date()}"
    head = f"{column} is missing for {n_bad:,} of {n:,} customers at risk{when} ({who})"
    unseen = (
        (pd.to_numeric(df["months_observed"], errors="coerce").fillna(0).to_numpy() == 0) & bad
        if "months_observed" in df.columns
        else np.zeros(n, dtype=bool)
    )
    lookup = (
        "; `crmlab lookup --config <config> <id>` gives the customer number behind an id "
        "starting with P-"
        if ids is not None and any(str(x).startswith("P-") for x in ids[:5])
        else ""
    )
    if unseen.any():
        return (
            f"{head}: the monthly snapshots have no row for "
            f"{'them' if unseen[bad].all() else f'{int(unseen.sum()):,} of them'} in the months "
            "before that date, though the customer table counts them as open (opened before "
            "it, closure_date blank or later). Usually their closure date in the customer table "
            "(closure_date) is blank or was unreadable, so a closed account reads as open: write "
            "the closure date in the export (leave it blank only for accounts still open; "
            "`crmlab validate` lists unreadable ones), or add their snapshot rows" + lookup + "."
        )
    return (
        f"{head}: their snapshot rows in the months before that date have no readable balance; "
        "check the balance column of the monthly snapshots (validate lists values that are not "
        "numbers)" + lookup + "."
    )


def assert_no_leakage(
    features: pd.DataFrame, prediction_date, *, month_col: str = "last_data_month"
) -> None:
    """Raise :class:`DataError` if a feature row uses data from on or after ``prediction_date``.

    Checks that every month in ``month_col`` ("YYYY-MM", the latest snapshot month used) ended
    before the prediction date, and that every datetime column other than ``prediction_date``
    holds dates before it. Missing values (no data used) pass.
    """
    t = _timestamp(prediction_date, "prediction_date")
    if month_col not in features.columns:
        raise DataError(
            f"assert_no_leakage: column '{month_col}' (latest data month used per row) is missing;"
            " build the features with build_churn_dataset."
        )
    m = features[month_col]
    present = m.notna()
    ends = pd.Series(pd.NaT, index=features.index, dtype="datetime64[ns]")
    parsed = pd.PeriodIndex(
        pd.to_datetime(m[present].astype("str"), format="%Y-%m", errors="coerce"), freq="M"
    )
    if parsed.isna().any():
        raise DataError(f"assert_no_leakage: '{month_col}' must be 'YYYY-MM'.")
    ends[present] = (parsed + 1).to_timestamp().to_numpy()  # first day after the month
    late = present & (ends > t)
    if late.any():
        raise DataError(
            f"Leakage: '{month_col}' is on or after the prediction date {t.date()} in "
            f"{describe_rows(features.index[late])}; features may only use months that ended "
            "before the prediction date."
        )
    for c in features.columns:
        if c == "prediction_date" or not pd.api.types.is_datetime64_any_dtype(features[c]):
            continue
        late = features[c].notna() & (features[c] >= t)
        if late.any():
            raise DataError(
                f"Leakage: date column '{c}' is on or after the prediction date {t.date()} in "
                f"{describe_rows(features.index[late])}."
            )


def time_split(
    customers: pd.DataFrame,
    snapshots: pd.DataFrame,
    train_date,
    test_date,
    horizon_months: int = 12,
    lookback_months: int = 6,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-time split: a training set at ``train_date`` and a test set at ``test_date``.

    The training labels must be known at the test date: ``train_date + horizon_months`` must not
    be after ``test_date`` (else :class:`DataError`).
    """
    tr, te = _timestamp(train_date, "train_date"), _timestamp(test_date, "test_date")
    if tr + pd.DateOffset(months=int(horizon_months)) > te:
        raise DataError(
            f"train_date {tr.date()} + {horizon_months} months is after test_date {te.date()}: "
            "the training labels would not be known when the model is used; move train_date back."
        )
    train = build_churn_dataset(customers, snapshots, tr, horizon_months, lookback_months)
    test = build_churn_dataset(customers, snapshots, te, horizon_months, lookback_months)
    return train, test


# ----------------------------------------------------------------------------------------------
# logistic churn model
# ----------------------------------------------------------------------------------------------
@dataclass
class ChurnLogit:
    """A fitted logistic churn model.

    Attributes
    ----------
    result : statsmodels results
        ``statsmodels.api.Logit(...).fit()`` result (with a ``const`` term).
    table : DataFrame
        Per feature: ``feature``, ``coef`` (log odds ratio per unit), ``std_err``, ``odds_ratio``,
        ``ci_low``, ``ci_high`` (odds-ratio confidence interval), ``p_value``.
    features : list of str
        The model's features, in order.
    """

    result: object
    table: pd.DataFrame
    features: list

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted churn probabilities for the rows of ``df``."""
        X = _design(df, self.features)
        return np.asarray(self.result.predict(X))


def _design(df: pd.DataFrame, features) -> pd.DataFrame:
    _require(df, list(features), "churn model")
    X = df[list(features)].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    bad = X.isna().any(axis=1)
    if bad.any():
        cols = [c for c in features if X[c].isna().any()]
        raise DataError(
            f"churn model: missing or non-numeric values in {cols} at "
            f"{describe_rows(df.index[bad])}; fill or drop those rows first."
        )
    return sm.add_constant(X, has_constant="add")


def fit_churn_logit(
    train: pd.DataFrame, features=None, *, label_col: str = "churned", alpha: float = 0.05
) -> ChurnLogit:
    """Fit a logistic regression of ``label_col`` on ``features`` (default :data:`FEATURES`).

    Returns a :class:`ChurnLogit` whose ``table`` gives odds ratios with ``1 - alpha`` Wald
    confidence intervals (``exp(coef +- z * se)``).
    """
    features = list(FEATURES if features is None else features)
    _require(train, [label_col], "fit_churn_logit")
    X = _design(train, features)
    y = _binary(train[label_col], label_col)
    if y.min() == y.max():
        raise DataError(f"fit_churn_logit: '{label_col}' has only one class; nothing to model.")
    const = [c for c in features if X[c].nunique() < 2]
    if const:
        raise DataError(f"fit_churn_logit: features {const} are constant in the training data.")
    try:
        res = sm.Logit(y, X).fit(disp=0, maxiter=200)
    except np.linalg.LinAlgError as exc:
        raise DataError(f"fit_churn_logit: singular design (collinear features?): {exc}") from exc
    ci = res.conf_int(alpha=alpha)
    table = pd.DataFrame(
        {
            "feature": features,
            "coef": res.params[features].to_numpy(),
            "std_err": res.bse[features].to_numpy(),
            "odds_ratio": np.exp(res.params[features].to_numpy()),
            "ci_low": np.exp(ci.loc[features, 0].to_numpy()),
            "ci_high": np.exp(ci.loc[features, 1].to_numpy()),
            "p_value": res.pvalues[features].to_numpy(),
        }
    )
    return ChurnLogit(result=res, table=table, features=features)


# ----------------------------------------------------------------------------------------------
# score evaluation
# ----------------------------------------------------------------------------------------------
def evaluate_scores(y, p) -> dict:
    """Discrimination and accuracy of churn probabilities.

    Returns
    -------
    dict
        ``n``, ``n_pos`` (churners), ``base_rate``, ``auc`` (ROC AUC by the Mann-Whitney rank
        formula, ties count 1/2), ``brier`` (mean squared error of ``p``) and ``log_loss`` (mean
        negative log-likelihood, ``p`` clipped to [1e-15, 1 - 1e-15]).
    """
    yy = _binary(y)
    pp = _scores(p, len(yy), unit_interval=True)
    n_pos = int(yy.sum())
    n_neg = len(yy) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError("evaluate_scores: y needs both churners (1) and non-churners (0).")
    ranks = stats.rankdata(pp)  # mid-ranks for ties
    auc = (ranks[yy == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    pc = np.clip(pp, 1e-15, 1 - 1e-15)
    return {
        "n": len(yy),
        "n_pos": n_pos,
        "base_rate": n_pos / len(yy),
        "auc": float(auc),
        "brier": float(np.mean((pp - yy) ** 2)),
        "log_loss": float(-np.mean(yy * np.log(pc) + (1 - yy) * np.log(1 - pc))),
    }


def roc_curve_table(y, p) -> pd.DataFrame:
    """ROC curve points: for each distinct score threshold (highest first), flag ``p >= threshold``.

    Returns ``threshold``, ``fpr`` (false-positive rate), ``tpr`` (true-positive rate), starting
    at (0, 0) with threshold +inf and ending at (1, 1).
    """
    yy = _binary(y)
    pp = _scores(p, len(yy))
    n_pos, n_neg = yy.sum(), len(yy) - yy.sum()
    if n_pos == 0 or n_neg == 0:
        raise DataError("roc_curve_table: y needs both classes.")
    order = np.argsort(-pp, kind="mergesort")
    ps, ys = pp[order], yy[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ps) != 0), len(ps) - 1]
    tp = np.cumsum(ys)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return pd.DataFrame(
        {
            "threshold": np.r_[np.inf, ps[last_of_tie]],
            "fpr": np.r_[0.0, fp / n_neg],
            "tpr": np.r_[0.0, tp / n_pos],
        }
    )


def lift_table(y, p, n_bins: int = 10) -> pd.DataFrame:
    """Lift and cumulative gains by score group (bin 1 = highest scores).

    Customers are sorted by ``p`` descending (stable: ties keep input order); bins 1..k hold
    the top ``round(k / n_bins x n)`` of the ``n`` customers, so group sizes differ by at most
    one and "the top tenth" is the same ``round(n / 10)`` customers as in
    :func:`crmlab.targeting.backtest_rankings` and :func:`crmlab.targeting.gain_curve`.

    Returns
    -------
    DataFrame
        ``bin``, ``n``, ``n_churners``, ``churn_rate``, ``lift`` (= churn_rate / overall rate),
        ``min_score``, ``max_score``, ``cum_n``, ``cum_churners``, ``cum_share_customers``,
        ``cum_gain`` (share of all churners in bins 1..bin), ``cum_lift`` (= cum_gain /
        cum_share_customers).
    """
    yy = _binary(y)
    pp = _scores(p, len(yy))
    n_bins = int(n_bins)
    if not 1 <= n_bins <= len(yy):
        raise DataError(
            f"n_bins must be between 1 and the number of rows ({len(yy)}), got {n_bins}."
        )
    total_pos = yy.sum()
    if total_pos == 0:
        raise DataError("lift_table: there are no churners (y is all 0); lift is undefined.")
    order = np.argsort(-pp, kind="mergesort")
    ends = np.round(np.arange(n_bins + 1) / n_bins * len(yy)).astype(np.int64)
    parts = [order[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]
    rows = []
    for b, ix in enumerate(parts, start=1):
        rows.append(
            {
                "bin": b,
                "n": len(ix),
                "n_churners": int(yy[ix].sum()),
                "min_score": float(pp[ix].min()),
                "max_score": float(pp[ix].max()),
            }
        )
    t = pd.DataFrame(rows)
    base = total_pos / len(yy)
    t["churn_rate"] = t["n_churners"] / t["n"]
    t["lift"] = t["churn_rate"] / base
    t["cum_n"] = t["n"].cumsum()
    t["cum_churners"] = t["n_churners"].cumsum()
    t["cum_share_customers"] = t["cum_n"] / len(yy)
    t["cum_gain"] = t["cum_churners"] / total_pos
    t["cum_lift"] = t["cum_gain"] / t["cum_share_customers"]
    return t[
        [
            "bin",
            "n",
            "n_churners",
            "churn_rate",
            "lift",
            "min_score",
            "max_score",
            "cum_n",
            "cum_churners",
            "cum_share_customers",
            "cum_gain",
            "cum_lift",
        ]
    ]


def calibration_table(
    y, p, n_bins: int = 10, *, strategy: str = "quantile", alpha: float = 0.05
) -> pd.DataFrame:
    """Predicted vs observed churn by bins of predicted probability.

    ``strategy="quantile"``: bins of (nearly) equal size by sorted ``p`` (as in
    :func:`lift_table`, but ordered from low to high); ``"uniform"``: bins of equal width on
    [0, 1] (empty bins are left out).

    Returns ``bin``, ``n``, ``mean_predicted``, ``observed_rate``, ``ci_low``, ``ci_high``
    (Wilson interval of the observed rate). A calibrated model has observed ~ predicted.
    """
    yy = _binary(y)
    pp = _scores(p, len(yy), unit_interval=True)
    n_bins = int(n_bins)
    if not 1 <= n_bins <= len(yy):
        raise DataError(
            f"n_bins must be between 1 and the number of rows ({len(yy)}), got {n_bins}."
        )
    if strategy == "quantile":
        groups = np.array_split(np.argsort(pp, kind="mergesort"), n_bins)
    elif strategy == "uniform":
        idx = np.minimum((pp * n_bins).astype(np.int64), n_bins - 1)
        groups = [np.flatnonzero(idx == b) for b in range(n_bins)]
        groups = [g for g in groups if len(g)]
    else:
        raise DataError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}.")
    rows = []
    for b, ix in enumerate(groups, start=1):
        k, n = int(yy[ix].sum()), len(ix)
        low, high = _wilson(k, n, alpha)
        rows.append(
            {
                "bin": b,
                "n": n,
                "mean_predicted": float(pp[ix].mean()),
                "observed_rate": k / n,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# the observation window, rolling churn history, the open book and scoring sets
# ----------------------------------------------------------------------------------------------
class Window(NamedTuple):
    """The calendar span of an extract: ``start`` (first day) and ``end`` (last day)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def after(self) -> pd.Timestamp:
        """The first day after the data: the date today's open accounts are scored at."""
        return self.end + pd.Timedelta(days=1)

    def last_period_start(self, months: int = 12) -> pd.Timestamp:
        """First day of the last complete ``months``-month period (``after - months``)."""
        return self.after - pd.DateOffset(months=int(months))


def observation_window(customers: pd.DataFrame, snapshots: pd.DataFrame | None = None) -> Window:
    """The extract's window, assuming it covers whole calendar months.

    ``end`` is the last day of the latest month seen in the data (snapshot months, opening and
    closure dates). ``start`` is the first day of the earliest snapshot month; without snapshots,
    the first day of the month of the earliest closure (a window extract cannot hold accounts
    closed before it began), or of the earliest opening if nothing closed.
    """
    opened, closed = _open_close(customers, "open_date", "closure_date", "observation_window")
    if len(opened) == 0:
        raise DataError("observation_window: the customer table is empty.")
    latest = [opened.max()] + ([closed.max()] if closed.notna().any() else [])
    first = None
    if snapshots is not None and len(snapshots):
        months = month_ordinals(snapshots)
        latest.append(pd.Period(ordinal=int(months.max()), freq="M").start_time)
        first = pd.Period(ordinal=int(months.min()), freq="M").start_time
    if first is None:
        earliest = closed.min() if closed.notna().any() else opened.min()
        first = pd.Period(earliest, "M").start_time
    end = pd.Period(max(latest), "M").end_time.normalize()
    return Window(start=pd.Timestamp(first).normalize(), end=end)


def open_accounts(customers: pd.DataFrame, as_of) -> pd.DataFrame:
    """Accounts open at the start of day ``as_of``: opened before it, not closed before it."""
    t = _timestamp(as_of, "as_of")
    opened, closed = _open_close(customers, "open_date", "closure_date", "open_accounts")
    return customers.loc[(opened < t) & (closed.isna() | (closed >= t))]


def rolling_churn(
    customers: pd.DataFrame,
    months: int = 12,
    *,
    first_start,
    data_end,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Churn rate of every complete ``months``-month period starting on a month's first day.

    Periods start on the first day of each month from ``first_start`` to the last start whose
    period ends by ``data_end`` (overlapping periods, one a month: a rolling 12-month churn rate).
    Each rate is :func:`churn_rate` of its period.

    Returns
    -------
    DataFrame
        ``start`` and ``end`` (first and last month of the period, "YYYY-MM"), ``n_at_risk``,
        ``n_lost``, ``churn_rate``, ``low``, ``high`` (Wilson interval). Raises
        :class:`DataError` if no complete period fits.
    """
    months = int(months)
    first = pd.Period(_timestamp(first_start, "first_start"), "M")
    end = _timestamp(data_end, "data_end")
    last = pd.Period(end + pd.Timedelta(days=1), "M") - months  # start of the last whole period
    if last < first:
        raise DataError(
            f"rolling_churn: no complete {months}-month period between {first} and {end.date()}."
        )
    opened, closed = _open_close(customers, "open_date", "closure_date", "rolling_churn")
    rows = []
    for k in range(last.ordinal - first.ordinal + 1):
        p0 = first + k
        s, e = p0.start_time, (p0 + months).start_time
        at_risk = (opened < s) & (closed.isna() | (closed >= s))
        n = int(at_risk.sum())
        lost = int((at_risk & closed.notna() & (closed < e)).sum())
        low, high = _wilson(lost, n, alpha)
        rows.append(
            {
                "start": str(p0),
                "end": str(p0 + months - 1),
                "n_at_risk": n,
                "n_lost": lost,
                "churn_rate": lost / n if n else np.nan,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows)


#: Tenure bands (months) of :func:`tenure_band`.
TENURE_EDGES = (12, 24, 60, 120)


def tenure_band(open_date: pd.Series, as_of, edges=TENURE_EDGES) -> pd.Series:
    """Tenure at ``as_of`` in bands: "< 1 year", "1-2 years", "2-5 years", "5-10 years",
    "10+ years" for the default edges (months; a band includes its lower edge).

    Returns an ordered categorical with the index of ``open_date``.
    """
    t = _timestamp(as_of, "as_of")
    opened = pd.to_datetime(open_date, errors="coerce")
    months = (t - opened).dt.days / DAYS_PER_MONTH
    return tenure_band_months(months, edges).set_axis(open_date.index)


def tenure_band_months(months: pd.Series, edges=TENURE_EDGES) -> pd.Series:
    """Tenure in months (e.g. a ``tenure_months`` column) in the bands of :func:`tenure_band`:
    "< 1 year", "1-2 years", "2-5 years", "5-10 years", "10+ years" for the default edges
    (months; a band includes its lower edge). Missing tenure gives a missing band.

    Returns an ordered categorical named ``tenure_band`` with the index of ``months``.
    """
    months = pd.to_numeric(pd.Series(months), errors="coerce")
    e = [float(x) for x in edges]
    if any(b <= a for a, b in zip(e, e[1:], strict=False)) or e[0] <= 0:
        raise DataError(f"edges must be increasing positive months, got {edges}.")

    def yrs(m: float) -> str:
        return f"{m / 12:g}"

    labels = [f"< {yrs(e[0])} year" + ("" if e[0] == 12 else "s")]
    labels += [f"{yrs(a)}-{yrs(b)} years" for a, b in zip(e, e[1:], strict=False)]
    labels.append(f"{yrs(e[-1])}+ years")
    band = pd.cut(months, [-np.inf, *e, np.inf], right=False, labels=labels)
    return pd.Series(band, index=months.index, name="tenure_band")


def score_dataset(
    customers: pd.DataFrame, snapshots: pd.DataFrame, as_of, lookback_months: int = 6
) -> pd.DataFrame:
    """Features of the accounts open at ``as_of`` for scoring (no label: the future is unknown).

    Same rows and columns as :func:`build_churn_dataset` at ``prediction_date=as_of`` without
    ``churned``; typically ``as_of`` = the day after the data end. Only snapshot months that
    ended before ``as_of`` are used.
    """
    t = _timestamp(as_of, "as_of")
    out = build_churn_dataset(
        customers,
        snapshots,
        t,
        horizon_months=1,
        lookback_months=lookback_months,
        data_end=t + pd.DateOffset(months=1),
    )
    return out.drop(columns="churned")


# ----------------------------------------------------------------------------------------------
# KPIs of a churn programme
# ----------------------------------------------------------------------------------------------
#: key -> (KPI name, higher is better, unit, format) of :func:`churn_kpis`.
CHURN_KPIS: dict[str, tuple[str, bool, str, str]] = {
    "churn_rate_12m": ("12-month churn rate", False, "share", "{:.1%}"),
    "complaints_per_100": ("Complaints per 100 customers a month", False, "count", "{:.2f}"),
    "products_per_customer": ("Products per customer", True, "count", "{:.2f}"),
    "salary_deposit_share": ("Salary-deposit share", True, "share", "{:.1%}"),
}


#: key -> (KPI name, higher is better, unit, format) of the KPI only :func:`flag_kpis` has.
FLAG_KPIS: dict[str, tuple[str, bool, str, str]] = {
    "churn_share": ("Churn share of the extract", False, "share", "{:.1%}"),
}


def churn_kpis(
    customers: pd.DataFrame,
    snapshots: pd.DataFrame | None,
    as_of,
    targets: dict,
    *,
    window_months: int = 6,
    monthly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The KPI scorecard of a churn programme at ``as_of`` (typically the day after the data end).

    Definitions (``key``):

    - ``churn_rate_12m``: :func:`churn_rate` over the 12 months before ``as_of``;
    - ``complaints_per_100``: 100 x complaints / customer-months (snapshot rows) in the
      ``window_months`` complete months before ``as_of`` (needs snapshots);
    - ``products_per_customer``: mean ``products_held`` of the accounts open at ``as_of``;
    - ``salary_deposit_share``: share of the open accounts with a salary deposit (yes/no).

    Parameters
    ----------
    targets : dict
        key -> target; KPIs without a target (or without their data) are left out.
    monthly : DataFrame, optional
        Per-month snapshot totals - ``month`` ("YYYY-MM"), ``rows`` (customer-months) and
        ``complaints`` (:func:`crmlab.engine.finance_case.snapshot_months`) - used instead of
        ``snapshots`` (which may then be None) when the snapshots stay in the engine.

    Returns
    -------
    DataFrame
        :func:`crmlab.metrics.kpi_scorecard` columns plus ``key``, ``unit`` and ``format``.
    """
    from crmlab.metrics import kpi_scorecard

    t = _timestamp(as_of, "as_of")
    unknown = sorted(set(targets) - set(CHURN_KPIS))
    if unknown:
        raise DataError(f"churn_kpis: unknown KPI key(s) {unknown}; known: {list(CHURN_KPIS)}.")
    actual: dict[str, float] = {}
    if "churn_rate_12m" in targets:
        actual["churn_rate_12m"] = churn_rate(customers, t - pd.DateOffset(months=12), 12).rate
    last = (pd.Period(t, "M") - 1).ordinal
    if "complaints_per_100" in targets and monthly is not None and "complaints" in monthly:
        m = month_ordinals(monthly)
        win = (m > last - int(window_months)) & (m <= last)
        if win.any():
            n_rows = int(pd.to_numeric(monthly.loc[win, "rows"]).sum())
            c = float(pd.to_numeric(monthly.loc[win, "complaints"]).sum())
            actual["complaints_per_100"] = 100 * c / n_rows
    elif "complaints_per_100" in targets and snapshots is not None and "complaints" in snapshots:
        m = month_ordinals(snapshots)
        win = (m > last - int(window_months)) & (m <= last)
        if win.any():
            c = pd.to_numeric(snapshots.loc[win, "complaints"], errors="coerce").fillna(0)
            actual["complaints_per_100"] = 100 * float(c.sum()) / int(win.sum())
    book = open_accounts(customers, t)
    if "products_per_customer" in targets and "products_held" in book and len(book):
        actual["products_per_customer"] = float(
            pd.to_numeric(book["products_held"], errors="coerce").mean()
        )
    if "salary_deposit_share" in targets and "salary_deposit" in book and len(book):
        actual["salary_deposit_share"] = float(
            _yes_no(book["salary_deposit"], "salary_deposit").mean()
        )
    rows = [
        {
            "key": k,
            "kpi": CHURN_KPIS[k][0],
            "actual": v,
            "target": float(targets[k]),
            "higher_is_better": CHURN_KPIS[k][1],
            "unit": CHURN_KPIS[k][2],
            "format": CHURN_KPIS[k][3],
        }
        for k, v in actual.items()
    ]
    if not rows:
        raise DataError("churn_kpis: no KPI could be computed from the tables given.")
    return kpi_scorecard(pd.DataFrame(rows))


def whole_months(start, end) -> int:
    """Calendar months from ``start``'s month through ``end``'s month, both included
    (``whole_months("2026-05-01", "2026-10-31") == 6``)."""
    a, b = pd.Period(_timestamp(start, "start"), "M"), pd.Period(_timestamp(end, "end"), "M")
    if b < a:
        raise DataError(f"end {b} is before start {a}.")
    return int(b.ordinal - a.ordinal + 1)


def pilot_arms(pilot: pd.DataFrame, control: str = "control", group_col: str = "group") -> str:
    """The treated arm's label of a two-arm pilot whose control arm is called ``control``.

    Raises :class:`DataError` unless ``group_col`` holds exactly two values, one of them
    ``control``.
    """
    _require(pilot, [group_col], "pilot_arms")
    groups = sorted(pilot[group_col].dropna().astype("str").unique())
    if len(groups) != 2 or control not in groups:
        raise DataError(
            f"pilot: '{group_col}' must hold exactly two arms, one called '{control}'; found "
            f"{groups}. Rename the arms in the export."
        )
    return next(g for g in groups if g != control)


@dataclass(frozen=True)
class PilotData:
    """A two-arm retention pilot with its outcomes (see :func:`pilot_data`).

    Attributes
    ----------
    outcomes : DataFrame
        The pilot rows with ``churned`` (closed during the follow-up) and ``treated`` (1 = the
        treated arm, 0 = control).
    treated : str
        Label of the treated arm.
    offer_date : pandas.Timestamp
        The (earliest) offer date.
    follow_up_end : pandas.Timestamp
        Last day of the follow-up.
    follow_up_months : int
        Calendar months from the offer month through the follow-up's last month.
    """

    outcomes: pd.DataFrame
    treated: str
    offer_date: pd.Timestamp
    follow_up_end: pd.Timestamp
    follow_up_months: int

    def counts(self) -> tuple[int, int, int, int]:
        """``(churned_treated, n_treated, churned_control, n_control)``."""
        o = self.outcomes
        t, c = o[o["treated"] == 1], o[o["treated"] == 0]
        return int(t["churned"].sum()), len(t), int(c["churned"].sum()), len(c)


def pilot_data(
    pilot: pd.DataFrame, customers: pd.DataFrame, follow_up_end, *, control: str = "control"
) -> PilotData:
    """Outcomes of a two-arm pilot (:func:`pilot_outcomes`) with its arms identified
    (:func:`pilot_arms`) and its follow-up measured (:func:`whole_months`)."""
    treated = pilot_arms(pilot, control=control)
    end = _timestamp(follow_up_end, "follow_up_end")
    outcomes = pilot_outcomes(pilot, customers, end)
    outcomes["treated"] = (outcomes["group"].astype("str") == treated).astype(np.int64)
    offer = _dates(pilot, "offer_date", "pilot_data", allow_missing=False).min()
    return PilotData(outcomes, treated, offer, end, whole_months(offer, end))


# ----------------------------------------------------------------------------------------------
# churn from a flag: one row per customer with `churned` (and `tenure_months`), no dates
# ----------------------------------------------------------------------------------------------
#: Cleaning rules (:mod:`crmlab.quality`) of a finance customer table in the flag shape: the
#: ``churned`` flag is required (rows without it are dropped); dates are not needed (an opening
#: date without closure dates is parsed and kept as an attribute).
FLAG_CUSTOMER_RULES: dict = {
    "key": "customer_id",
    "dates": ["open_date", "closure_date"],
    "booleans": ["churned", "salary_deposit", "relationship_manager", "digital_active"],
    "ranges": {"tenure_months": [0, None], "age": [18, 120], "products_held": [0, None]},
    "categories": {"segment": ["mass", "affluent", "private"]},
    "required": ["customer_id", "churned"],
}


def churn_mode(customers: pd.DataFrame | None) -> str | None:
    """Which churn measure a customer table supports.

    ``"dates"``: it has ``open_date`` and ``closure_date`` (closures are dated - blank: still
    open -: churn over a 12-month period, cohorts, a time split); ``"flag"``: a ``churned`` flag
    without that pair (one row per customer, e.g. a telecom-style extract, or a bank's list with
    opening dates but no closure dates: churn is the share of the extract that left); None
    without a table. Raises :class:`DataError` when the table has neither - with opening dates
    only, nothing says who left.
    """
    if customers is None:
        return None
    cols = set(customers.columns)
    if {"open_date", "closure_date"} <= cols:
        return "dates"
    if "churned" in cols:
        return "flag"
    if "open_date" in cols:
        raise DataError(
            "The customer table has open_date but neither closure_date nor a churned flag, so "
            "nothing says who left: map closure_date (the date all accounts closed, blank = still "
            "open) or churned (a yes/no flag) under columns: customers: in the config."
        )
    raise DataError(
        "The customer table has neither open_date and closure_date (dated accounts) nor a "
        "churned flag; map one of them under columns: customers: in the config."
    )


#: Why a flag extract's monthly snapshots give no behaviour features (02_data says it).
FLAG_SNAPSHOTS_REASON = (
    "A churned flag does not say when a customer left, so there is no prediction date before "
    "which their behaviour could be measured: the snapshots are checked and profiled above, and "
    "stage 3 models the customer table. The rolling 12-month churn rate, cohorts, the time-split "
    "model and the Cox model with monthly covariates need closure dates: map closure_date "
    "(blank = still open) under columns: customers: for them."
)


def no_tenure_reason(customers: pd.DataFrame) -> str:
    """Why a flag extract has no survival analysis (no ``tenure_months``), in words; with
    opening dates, also why they cannot stand in for it."""
    out = "The extract has no tenure_months column."
    if "open_date" in customers.columns:
        out += (
            " Opening dates do not give one: without closure dates it is not known how long the "
            "customers who left had stayed. Map tenure_months (months to leaving or to the "
            "extract), or closure_date for the dated analysis."
        )
    return out


def flag_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """The customer table with ``churned`` as int 0/1 (yes/no, true/false and 1/0 accepted) and
    ``tenure_months`` (if present) as float months. Raises :class:`DataError` naming the rows
    whose flag is missing or not yes/no, or whose tenure is negative."""
    _require(customers, ["customer_id", "churned"], "the churn flag")
    out = customers.copy()
    out["churned"] = _yes_no(out["churned"], "churned")
    if "tenure_months" in out.columns:
        t = pd.to_numeric(out["tenure_months"], errors="coerce").astype(np.float64)
        if (t < 0).any():
            raise DataError(
                f"tenure_months must be >= 0; bad in {describe_rows(out.index[t < 0])}."
            )
        out["tenure_months"] = t
    return out


@dataclass(frozen=True)
class FlagRate:
    """The churn share of a one-row-per-customer extract with its Wilson interval.

    ``rate = n_lost / n`` (share in [0, 1]) where ``n`` counts the customers in the extract and
    ``n_lost`` those flagged as churned. ``period_months`` is the period the flag covers when the
    client states it (0: not stated - then the rate is *the share of the extract that left*, not
    a 12-month rate, and cannot be compared with one).
    """

    rate: float
    ci_low: float
    ci_high: float
    n: int
    n_lost: int
    period_months: int = 0
    alpha: float = 0.05

    @property
    def period(self) -> str:
        """The period in words, for reports."""
        if self.period_months:
            return f"churn within {self.period_months} months (period stated in the config)"
        return "share of the customers in the extract flagged as churned (no period stated)"

    @property
    def metric(self) -> str:
        return f"churn_rate_{self.period_months}m" if self.period_months else "churn_share"


def flag_churn_rate(
    customers: pd.DataFrame, *, alpha: float = 0.05, period_months: int = 0
) -> FlagRate:
    """Churn as the share of churned customers in a flag extract (see :class:`FlagRate`), with a
    ``1 - alpha`` Wilson interval. Raises :class:`DataError` for an empty table."""
    flags = flag_customers(customers)["churned"]
    n, k = len(flags), int(flags.sum())
    if n == 0:
        raise DataError("flag_churn_rate: the customer table has no rows.")
    if int(period_months) < 0:
        raise DataError(f"period_months must be 0 (not stated) or positive, got {period_months}.")
    low, high = _wilson(k, n, alpha)
    return FlagRate(k / n, low, high, n, k, int(period_months), alpha)


def flag_goal_record(
    rate: FlagRate, relative_change: float, deadline_months: int, start: str | None = None
) -> dict:
    """The goal figures of a flag baseline (keys as :meth:`crmlab.goals.SmartGoal.to_record`).

    ``target = rate x (1 + relative_change)``. With ``start`` (the extract's month, ``YYYY-MM``)
    the full SMART goal with its deadline month; without it the figures that need no calendar:
    ``goal.metric``, ``goal.baseline``, ``goal.baseline_low``/``high``, ``goal.target``,
    ``goal.deadline_months``, ``goal.gap_points``, ``goal.relative_change``, ``goal.direction``.
    """
    from crmlab.goals import SmartGoal

    if start:
        goal = SmartGoal.relative(
            rate.metric,
            rate.rate,
            relative_change,
            deadline_months,
            start,
            baseline_ci=(rate.ci_low, rate.ci_high),
        )
        return goal.to_record()
    if relative_change <= -1 or relative_change == 0:
        raise DataError(f"relative_change must be > -1 and not 0, got {relative_change}.")
    target = rate.rate * (1 + relative_change)
    return {
        "goal.metric": rate.metric,
        "goal.baseline": rate.rate,
        "goal.baseline_low": rate.ci_low,
        "goal.baseline_high": rate.ci_high,
        "goal.target": target,
        "goal.deadline_months": int(deadline_months),
        "goal.gap_points": (target - rate.rate) * 100,
        "goal.relative_change": float(relative_change),
        "goal.direction": "decrease" if target < rate.rate else "increase",
    }


_FLAG_SKIP = ("customer_id", "churned", "tenure_months", "open_date", "closure_date")


def _readable(x: float) -> str:
    """A band edge to four significant digits with thousands separators and never in
    scientific notation: 342.3, 13,610, 3,551,000 (not 1.361e+04)."""
    return f"{float(f'{x:.4g}'):,.10g}"


def _quartile_band(s: pd.Series) -> pd.Series:
    """Numbers in quartile bands labelled by their range (``"12 - 30"``), ordered."""
    v = pd.to_numeric(s, errors="coerce")
    cut = pd.qcut(v, 4, duplicates="drop")
    labels = [f"{_readable(iv.left)} - {_readable(iv.right)}" for iv in cut.cat.categories]
    return cut.cat.rename_categories(labels)


def flag_churn_tables(
    customers: pd.DataFrame, *, alpha: float = 0.05, max_levels: int = 8
) -> dict[str, pd.DataFrame]:
    """Churn by group for every usable column of a flag extract (:func:`churn_by` tables).

    Groups: ``tenure_band`` (from ``tenure_months``, :func:`tenure_band_months`) or, without
    it, ``since_opening`` (from ``open_date``: the time from opening to the end of the latest
    opening month, in the same bands - for a churner the age of its opening cohort, not its
    tenure, as its leaving date is unknown); every other
    column with 2 to ``max_levels`` distinct values (text, yes/no or small counts such as
    ``products_held``) as it is; numbers with more levels in quartile bands. Identifiers (by
    name, as :mod:`crmlab.modeling`), dates, the flag itself and text with many values (e.g.
    pseudonyms) are left out. Returns column -> table, ``segment`` and ``products_held`` first.
    """
    from crmlab.modeling import _ID_NAME

    df = flag_customers(customers)
    groups: dict[str, pd.Series] = {}
    if "tenure_months" in df.columns and df["tenure_months"].notna().any():
        groups["tenure_band"] = tenure_band_months(df["tenure_months"])
    elif (
        "open_date" in df.columns and pd.to_datetime(df["open_date"], errors="coerce").notna().any()
    ):
        # no tenure: the time from opening to the extract's last month (a churner's is not
        # its tenure - when it left is not known - but the age of its opening cohort)
        opened = pd.to_datetime(df["open_date"], errors="coerce")
        end = pd.Period(opened.max(), "M").end_time.normalize() + pd.Timedelta(days=1)
        groups["since_opening"] = tenure_band(opened, end)
    first = [c for c in ("segment", "products_held") if c in df.columns]
    for c in [*first, *[c for c in df.columns if c not in first]]:
        s = df[c]
        if c in _FLAG_SKIP or _ID_NAME.search(str(c).lower()):
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        k = s.nunique(dropna=True)
        if 2 <= k <= max_levels:
            groups[str(c)] = s.map({True: "yes", False: "no"}) if s.dtype == "boolean" else s
        elif k > max_levels and pd.api.types.is_numeric_dtype(s) and not s.dtype == "boolean":
            groups[str(c)] = _quartile_band(s)
    out = {}
    for name, g in groups.items():
        frame = pd.DataFrame({name: g, "churned": df["churned"]})
        out[name] = churn_by(frame, name, alpha=alpha)
    return out


def flag_kpis(customers: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """The KPI scorecard of a flag extract (columns as :func:`churn_kpis`).

    ``churn_share``: share flagged as churned (lower is better); ``products_per_customer`` and
    ``salary_deposit_share`` over the customers still there (``churned`` = 0), when those columns
    exist. Keys of ``targets`` without data are left out; ``churn_rate_12m`` is read as
    ``churn_share`` (a flag has no 12-month period unless the config states one).
    """
    from crmlab.metrics import kpi_scorecard

    df = flag_customers(customers)
    stay = df[df["churned"] == 0]
    targets = {("churn_share" if k == "churn_rate_12m" else k): v for k, v in targets.items()}
    actual: dict[str, float] = {"churn_share": float(df["churned"].mean())}
    if "products_held" in stay and len(stay):
        actual["products_per_customer"] = float(
            pd.to_numeric(stay["products_held"], errors="coerce").mean()
        )
    if "salary_deposit" in stay and len(stay):
        actual["salary_deposit_share"] = float(
            _yes_no(stay["salary_deposit"], "salary_deposit").mean()
        )
    labels = {**FLAG_KPIS, **CHURN_KPIS}
    rows = [
        {"key": k, "kpi": labels[k][0], "actual": v, "target": float(targets[k])}
        | dict(zip(("higher_is_better", "unit", "format"), labels[k][1:], strict=True))
        for k, v in actual.items()
        if k in targets
    ]
    if not rows:
        raise DataError("flag_kpis: no KPI with a target could be computed.")
    return kpi_scorecard(pd.DataFrame(rows))


def as_of_date(window: Window | None, extract_month: str = "") -> pd.Timestamp | None:
    """The day the action list's due dates count from: the day after a dated extract's end
    (``window.after``), else the first day after ``extract_month`` (``YYYY-MM``, the month a flag
    extract was taken), else None (a flag extract without a stated month)."""
    if window is not None:
        return window.after
    if extract_month:
        try:
            return (pd.Period(str(extract_month), freq="M") + 1).start_time
        except ValueError:
            raise DataError(
                f"extract_month must be a month like 2025-06, got {extract_month!r}."
            ) from None
    return None
