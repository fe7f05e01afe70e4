"""Survey metrics (CSAT, NPS) with confidence intervals, and the KPI helpers of the dashboard.

Definitions (the method of the reference articles, see a workshop kit's REFERENCES.md):

- **CSAT**: share of responses at or above the "satisfied" threshold. On a 1-5 scale the threshold
  is 4 ("top-two-box": 4 or 5). On any other scale the threshold must be given explicitly
  (e.g. ``scale=(1, 10), satisfied_at=7``). Unit: share in [0, 1].
- **NPS**: on the 0-10 "how likely are you to recommend" question, promoters answer 9-10, passives
  7-8 and detractors 0-6. NPS = 100 x (promoters - detractors) / all valid answers, so passives count
  in the denominator. Unit: points from -100 to 100.

Missing answers (NaN / NA) are ignored; every ``*_with_ci`` estimate reports how many were dropped in
``n_dropped``. Values outside the scale, non-integer ratings or text raise
:class:`crmlab.errors.DataError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from crmlab.errors import DataError, ParameterError, describe_rows

__all__ = [
    "NPS_SCALE",
    "NpsEstimate",
    "RateEstimate",
    "by_group",
    "by_wave",
    "churn_rate",
    "clean_scores",
    "complaint_rate",
    "csat",
    "csat_by_segment",
    "recent_waves",
    "csat_with_ci",
    "growth_rate",
    "is_satisfied",
    "kpi_scorecard",
    "measure_from_results",
    "measure_record",
    "measure_text",
    "nps",
    "nps_category",
    "nps_with_ci",
    "proportion_ci",
    "repeat_purchase_rate",
    "satisfaction_measure",
    "satisfied_threshold",
    "scorecard_view",
    "store_labels",
]

CSAT_TABLE: dict = {"percent": ["rate", "low", "high"], "labels": {"rate": "CSAT"}}
"""How :func:`crmlab.narrative.present` shows a CSAT table of :func:`by_wave` or
:func:`by_group`: ``rate`` and its interval as percentages, ``rate`` headed "CSAT"."""

UNIT_FORMATS: dict[str, str] = {
    "share": "{:.1%}",
    "score": "{:.1f}",
    "currency": "{:,.2f}",
    "per 100": "{:.2f}",
    "days": "{:.1f}",
    "count": "{:.2f}",
}
"""How a KPI's value is shown by its ``unit`` (:func:`scorecard_view`); other units: 2 decimals."""

NPS_SCALE: tuple[int, int] = (0, 10)
"""The 0-10 scale of the "how likely are you to recommend" question."""

_CI_METHODS = ("wilson", "normal", "agresti_coull", "beta", "jeffreys", "binom_test")


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateEstimate:
    """A share with its confidence interval.

    Attributes
    ----------
    rate : float
        Point estimate, ``successes / n`` (share in [0, 1]).
    low, high : float
        Confidence interval bounds (same unit as ``rate``).
    n : int
        Number of valid (non-missing) responses used.
    successes : int
        Number of responses counted as a success (e.g. satisfied).
    n_dropped : int
        Number of missing responses ignored.
    alpha : float
        1 - confidence level.
    method : str
        Interval method passed to ``statsmodels.stats.proportion.proportion_confint``.
    """

    rate: float
    low: float
    high: float
    n: int
    successes: int
    n_dropped: int = 0
    alpha: float = 0.05
    method: str = "wilson"

    def to_series(self) -> pd.Series:
        """Return the fields as a pandas Series (index = field names)."""
        return pd.Series(asdict(self), dtype=object)


@dataclass(frozen=True)
class NpsEstimate:
    """Net Promoter Score with a confidence interval.

    Attributes
    ----------
    nps : float
        Net Promoter Score in points (-100..100).
    low, high : float
        Wald confidence interval in points, clipped to [-100, 100].
    n : int
        Valid responses (promoters + passives + detractors).
    promoters, passives, detractors : float
        Shares of ``n`` (each in [0, 1], summing to 1).
    n_dropped : int
        Missing responses ignored.
    alpha : float
        1 - confidence level.
    """

    nps: float
    low: float
    high: float
    n: int
    promoters: float
    passives: float
    detractors: float
    n_dropped: int = 0
    alpha: float = 0.05

    def to_series(self) -> pd.Series:
        """Return the fields as a pandas Series (index = field names)."""
        return pd.Series(asdict(self), dtype=object)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def _name(scores) -> str:
    name = getattr(scores, "name", None)
    return f"column '{name}'" if name is not None else "scores"


def clean_scores(scores, scale: tuple[float, float], integer: bool = True) -> tuple[pd.Series, int]:
    """Validate ratings and drop missing ones.

    Parameters
    ----------
    scores : array-like or pandas Series
        Ratings; NaN / NA / None mean "no answer".
    scale : (low, high)
        Inclusive range of valid ratings, e.g. ``(1, 5)``.
    integer : bool
        Require whole-number ratings (default True).

    Returns
    -------
    (pandas.Series of float, int)
        The valid ratings (missing removed, original index kept) and the number dropped.

    Raises
    ------
    DataError
        Text that is not a number, values outside ``scale`` or non-integer ratings (names the rows).
    """
    lo, hi = scale
    if not lo < hi:
        raise ParameterError(f"scale must be (low, high) with low < high, got {scale!r}")
    s = scores if isinstance(scores, pd.Series) else pd.Series(scores)
    what = _name(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        raise DataError(f"{what} holds booleans, not ratings on the scale {lo}-{hi}")
    numeric = pd.to_numeric(s, errors="coerce")
    bad_text = numeric.isna() & s.notna()
    if bad_text.any():
        examples = ", ".join(repr(v) for v in s[bad_text].unique()[:3])
        raise DataError(
            f"{what}: {describe_rows(s.index[bad_text])} are not numbers ({examples}); "
            "recode them to ratings or to missing"
        )
    values = numeric.astype("float64")
    missing = values.isna()
    valid = values[~missing]
    out = (valid < lo) | (valid > hi)
    if out.any():
        raise DataError(
            f"{what}: {describe_rows(valid.index[out])} are outside the scale {lo}-{hi} "
            f"(e.g. {valid[out].iloc[0]:g}); check the scale argument or clean the data"
        )
    if integer:
        frac = valid != np.round(valid)
        if frac.any():
            raise DataError(
                f"{what}: {describe_rows(valid.index[frac])} are not whole-number ratings "
                f"(e.g. {valid[frac].iloc[0]:g}); ratings must be integers"
            )
    return valid, int(missing.sum())


def satisfied_threshold(scale: tuple[float, float], satisfied_at: float | None) -> float:
    """The lowest rating counted as satisfied on ``scale``: ``satisfied_at``, or 4 on the 1-5
    scale (top-two-box) when it is None; a clear error for a threshold outside the scale."""
    if satisfied_at is None:
        if tuple(scale) == (1, 5):
            return 4.0
        raise ParameterError(
            f"satisfied_at must be given for the scale {scale[0]}-{scale[1]} "
            "(the top-two-box default applies to the 1-5 scale only), e.g. satisfied_at=7 on 1-10"
        )
    if not scale[0] < satisfied_at <= scale[1]:
        raise ParameterError(
            f"satisfied_at={satisfied_at} must lie above the bottom of the scale and within "
            f"{scale[0]}-{scale[1]}"
        )
    return float(satisfied_at)


# --------------------------------------------------------------------------------------------
# CSAT
# --------------------------------------------------------------------------------------------
def is_satisfied(
    scores, scale: tuple[float, float] = (1, 5), satisfied_at: float | None = None
) -> pd.Series:
    """Flag satisfied responses: 1.0 if the rating is at or above ``satisfied_at``, else 0.0.

    Missing ratings stay NaN (float64 Series, same index as ``scores``), so the result can be used
    directly as the outcome of :func:`crmlab.pilot.did_estimate` or a regression.

    Parameters
    ----------
    scores : array-like or Series
        Ratings on ``scale``.
    scale : (low, high)
        Inclusive rating range; default 1-5.
    satisfied_at : float, optional
        Threshold; default 4 on the 1-5 scale (top-two-box), required on any other scale.
    """
    thr = satisfied_threshold(scale, satisfied_at)
    s = scores if isinstance(scores, pd.Series) else pd.Series(scores)
    clean_scores(s, scale)
    values = pd.to_numeric(s).astype("float64")
    return (values >= thr).astype("float64").where(values.notna())


def csat(scores, scale: tuple[float, float] = (1, 5), satisfied_at: float | None = None) -> float:
    """CSAT: share of valid responses at or above ``satisfied_at`` (4-5 on a 1-5 scale).

    Missing answers are ignored (use :func:`csat_with_ci` to see how many). Unit: share in [0, 1].

    Raises
    ------
    DataError
        If there is no valid response, or ratings fall outside ``scale``.
    """
    return csat_with_ci(scores, scale=scale, satisfied_at=satisfied_at).rate


def proportion_ci(
    successes: int, n: int, alpha: float = 0.05, method: str = "wilson"
) -> tuple[float, float]:
    """Confidence interval for a binomial share ``successes / n``.

    Thin wrapper over ``statsmodels.stats.proportion.proportion_confint``; the default Wilson score
    interval behaves well near 0 and 1 and for small ``n`` (Newcombe 1998).

    Returns
    -------
    (low, high) : tuple of float
    """
    if method not in _CI_METHODS:
        raise ParameterError(f"method must be one of {_CI_METHODS}, got {method!r}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if n <= 0 or successes < 0 or successes > n:
        raise DataError(f"need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    low, high = proportion_confint(successes, n, alpha=alpha, method=method)
    return float(low), float(high)


def csat_with_ci(
    scores,
    scale: tuple[float, float] = (1, 5),
    satisfied_at: float | None = None,
    alpha: float = 0.05,
    method: str = "wilson",
) -> RateEstimate:
    """CSAT with a confidence interval (see :func:`csat` and :func:`proportion_ci`).

    Returns
    -------
    RateEstimate
        ``rate, low, high, n, successes, n_dropped, alpha, method``.
    """
    thr = satisfied_threshold(scale, satisfied_at)
    valid, dropped = clean_scores(scores, scale)
    n = len(valid)
    if n == 0:
        raise DataError(
            f"{_name(scores)} has no valid rating ({dropped} missing); cannot compute CSAT"
        )
    k = int((valid >= thr).sum())
    low, high = proportion_ci(k, n, alpha=alpha, method=method)
    return RateEstimate(k / n, low, high, n, k, dropped, alpha, method)


# --------------------------------------------------------------------------------------------
# NPS
# --------------------------------------------------------------------------------------------
def nps_category(scores) -> pd.Series:
    """Classify 0-10 answers as "promoter" (9-10), "passive" (7-8) or "detractor" (0-6).

    Missing answers stay missing. Returns a string Series with the index of ``scores``.
    """
    s = scores if isinstance(scores, pd.Series) else pd.Series(scores)
    clean_scores(s, NPS_SCALE)
    values = pd.to_numeric(s).astype("float64")
    cat = np.where(values >= 9, "promoter", np.where(values >= 7, "passive", "detractor"))
    return pd.Series(cat, index=s.index, name=s.name, dtype="str").where(values.notna())


def nps(scores) -> float:
    """Net Promoter Score: 100 x (share of 9-10 - share of 0-6); passives (7-8) stay in the base.

    Unit: points in [-100, 100]. Missing answers are ignored.
    """
    return nps_with_ci(scores).nps


def nps_with_ci(scores, alpha: float = 0.05) -> NpsEstimate:
    """NPS with a Wald confidence interval.

    Each answer scores +1 (promoter), 0 (passive) or -1 (detractor); NPS/100 is the mean score. With
    shares ``pP`` and ``pD`` its sampling variance is ``(pP + pD - (pP - pD)**2) / n`` (the variance
    of the multinomial difference pP - pD). The interval is ``NPS +/- z * 100 * sqrt(var)``, clipped
    to [-100, 100]; like any Wald interval it is rough for small ``n`` or extreme scores.

    Returns
    -------
    NpsEstimate
    """
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    valid, dropped = clean_scores(scores, NPS_SCALE)
    n = len(valid)
    if n == 0:
        raise DataError(
            f"{_name(scores)} has no valid 0-10 answer ({dropped} missing); cannot compute NPS"
        )
    p_pro = float((valid >= 9).sum()) / n
    p_det = float((valid <= 6).sum()) / n
    p_pas = float(((valid >= 7) & (valid <= 8)).sum()) / n
    diff = p_pro - p_det
    var = max(p_pro + p_det - diff**2, 0.0) / n
    z = float(stats.norm.ppf(1 - alpha / 2))
    half = z * math.sqrt(var) * 100
    value = 100 * diff
    return NpsEstimate(
        nps=value,
        low=max(value - half, -100.0),
        high=min(value + half, 100.0),
        n=n,
        promoters=p_pro,
        passives=p_pas,
        detractors=p_det,
        n_dropped=dropped,
        alpha=alpha,
    )


# --------------------------------------------------------------------------------------------
# By wave / group
# --------------------------------------------------------------------------------------------
_DEFAULT_COLUMN = {"csat": "overall_satisfaction", "nps": "recommend"}


def store_labels(store_ids: pd.Series, stores: pd.DataFrame | None) -> pd.Series:
    """Stores as a reader knows them: "Willow Park (S01)" - the ``store_name`` of the stores
    table with the id in brackets (the id alone where the table, its name column or the store
    is missing). Returns text aligned with ``store_ids``."""
    ids = store_ids.astype("str")
    if stores is None or not {"store_id", "store_name"} <= set(stores.columns):
        return ids
    names = stores.dropna(subset=["store_name"]).drop_duplicates("store_id")
    names = names.set_index(names["store_id"].astype("str"))["store_name"].astype("str")
    named = ids.map(names)
    return (named + " (" + ids + ")").where(named.notna(), ids)


def by_group(
    df: pd.DataFrame,
    group_cols: str | Sequence[str],
    metric: str = "csat",
    column: str | None = None,
    scale: tuple[float, float] = (1, 5),
    satisfied_at: float | None = None,
    alpha: float = 0.05,
    method: str = "wilson",
) -> pd.DataFrame:
    """CSAT or NPS with confidence intervals for each group.

    Parameters
    ----------
    df : DataFrame
        One row per response.
    group_cols : str or list of str
        Column(s) to group by (e.g. ``"store_id"`` or ``["arm", "wave"]``). Rows with a missing
        group are excluded.
    metric : {"csat", "nps"}
        ``"csat"``: share satisfied (see :func:`csat_with_ci`); ``"nps"``: see :func:`nps_with_ci`.
    column : str, optional
        Rating column; default ``"overall_satisfaction"`` for CSAT, ``"recommend"`` for NPS.
    scale, satisfied_at, alpha, method
        Passed to :func:`csat_with_ci` (``scale``/``satisfied_at``/``method`` ignored for NPS).

    Returns
    -------
    DataFrame
        One row per group, sorted by group, with the group column(s) followed by
        ``rate, low, high, n, successes, n_dropped`` for CSAT, or
        ``nps, low, high, n, promoters, passives, detractors, n_dropped`` for NPS. A group
        without any valid answer gets NaN estimates and ``n = 0``.
    """
    if metric not in _DEFAULT_COLUMN:
        raise ParameterError(f"metric must be 'csat' or 'nps', got {metric!r}")
    col = column or _DEFAULT_COLUMN[metric]
    keys = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    missing = [c for c in [*keys, col] if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} not found; available: {list(df.columns)}")
    # validate the whole column once so that errors name the original rows
    clean_scores(df[col], NPS_SCALE if metric == "nps" else scale)
    rows = []
    for key, part in df.groupby(keys, sort=True, dropna=True):
        key = key if isinstance(key, tuple) else (key,)
        n_valid = int(part[col].notna().sum())
        if n_valid == 0:  # a group without any answer: keep the row, with no estimate
            empty = ["rate", "low", "high"] if metric == "csat" else ["nps", "low", "high"]
            vals = dict.fromkeys(empty, np.nan) | {"n": 0, "n_dropped": len(part)}
            if metric == "csat":
                vals["successes"] = 0
        elif metric == "csat":
            est = csat_with_ci(
                part[col], scale=scale, satisfied_at=satisfied_at, alpha=alpha, method=method
            )
            vals = {
                "rate": est.rate,
                "low": est.low,
                "high": est.high,
                "n": est.n,
                "successes": est.successes,
                "n_dropped": est.n_dropped,
            }
        else:
            e = nps_with_ci(part[col], alpha=alpha)
            vals = {
                "nps": e.nps,
                "low": e.low,
                "high": e.high,
                "n": e.n,
                "promoters": e.promoters,
                "passives": e.passives,
                "detractors": e.detractors,
                "n_dropped": e.n_dropped,
            }
        rows.append({**dict(zip(keys, key, strict=True)), **vals})
    if not rows:
        raise DataError(f"no rows with a non-missing group in {keys}")
    return pd.DataFrame(rows)


def by_wave(
    df: pd.DataFrame, metric: str = "csat", wave_col: str = "wave", **kwargs
) -> pd.DataFrame:
    """CSAT or NPS per survey wave, in wave order (see :func:`by_group` for columns and kwargs).

    Waves are labels such as ``"2024-03"`` that sort chronologically as text.
    """
    return by_group(df, wave_col, metric=metric, **kwargs)


def recent_waves(survey: pd.DataFrame, waves: int = 3, wave_col: str = "wave") -> pd.DataFrame:
    """The answers of the last ``waves`` survey waves (distinct wave labels, which sort
    chronologically as text)."""
    if wave_col not in survey.columns:
        raise DataError(f"column {wave_col!r} not found; available: {list(survey.columns)}")
    last = sorted(survey[wave_col].dropna().unique())[-int(waves) :]
    return survey[survey[wave_col].isin(last)]


def csat_by_segment(
    survey: pd.DataFrame,
    labels: pd.Series,
    waves: int = 3,
    wave_col: str = "wave",
    id_col: str = "customer_id",
    **kwargs,
) -> pd.DataFrame:
    """CSAT per customer segment over the last ``waves`` survey waves.

    Each answer of those waves (:func:`recent_waves`) gets its customer's segment label
    (``labels``: a Series indexed by customer id, e.g. ``feats["customer_class"]``); answers of
    customers without a label (unknown customers, or a missing label) are left out. CSAT per
    segment is the share of its answers that are satisfied (see :func:`by_group`, which gets
    ``kwargs``); ``n`` counts answers, not customers (a customer answering in two of the waves
    counts twice, as in the CSAT by store). Segments keep the label's category order when it
    is categorical (empty ones left out).

    Returns
    -------
    DataFrame
        :func:`by_group` columns with the segment column named as ``labels`` (default
        ``"segment"``): ``rate, low, high, n, successes, n_dropped``.
        ``attrs["answers_in_waves"]``: all answers of those waves (with or without a label).
    """
    name = labels.name or "segment"
    if id_col not in survey.columns:
        raise DataError(f"column {id_col!r} not found; available: {list(survey.columns)}")
    recent = recent_waves(survey, waves, wave_col)
    seg = recent[id_col].map(labels)
    if isinstance(labels.dtype, pd.CategoricalDtype):
        seg = pd.Categorical(seg, categories=labels.cat.categories, ordered=labels.cat.ordered)
    data = recent.assign(**{name: seg})
    data = data[pd.Series(seg, index=recent.index).notna()]
    if data.empty:
        raise DataError(
            f"csat_by_segment: no answer of the last {waves} wave(s) is from a customer with a "
            f"{name} (check that the survey's {id_col} values are the customers' ids)."
        )
    if isinstance(data[name].dtype, pd.CategoricalDtype):
        data = data.assign(**{name: data[name].cat.remove_unused_categories()})
    out = by_group(data, name, **kwargs).reset_index(drop=True)
    out.attrs["answers_in_waves"] = len(recent)  # every answer of those waves, for the reader
    return out


# --------------------------------------------------------------------------------------------
# KPI helpers
# --------------------------------------------------------------------------------------------
def _check_count(value, name: str, positive: bool = False) -> float:
    if value is None or not np.isfinite(value) or value < 0 or (positive and value == 0):
        need = "a positive number" if positive else "a non-negative number"
        raise DataError(f"{name} must be {need}, got {value!r}")
    return float(value)


def repeat_purchase_rate(
    transactions: pd.DataFrame,
    customer_col: str = "customer_id",
    date_col: str = "date",
    start=None,
    end=None,
    amount_col: str = "amount",
) -> float:
    """Repeat-purchase rate: share of buying customers with purchases on 2+ distinct days.

    Only transactions dated within ``[start, end]`` (inclusive, either bound optional) count. A
    customer with two baskets on the same day is *not* a repeat buyer. A return (a negative
    ``amount_col``, when the column exists) is no purchase: a day with only returns is no
    purchase day and a customer with only returns no buyer - as the stage-5 KPI counts them
    (:func:`crmlab.kpis.transaction_summary`). Unit: share in [0, 1].

    Raises
    ------
    DataError
        Missing columns, missing customer ids or unparseable dates, or no purchase in the period.
    """
    for c in (customer_col, date_col):
        if c not in transactions.columns:
            raise DataError(
                f"column '{c}' not found in transactions; available: {list(transactions.columns)}"
            )
    cust = transactions[customer_col]
    if cust.isna().any():
        raise DataError(
            f"column '{customer_col}' is missing in {describe_rows(transactions.index[cust.isna()])}; "
            "drop or fill these rows"
        )
    raw = transactions[date_col]
    dates = pd.to_datetime(raw, errors="coerce")
    if (dates.isna() & raw.notna()).any():  # e.g. dates with and without a time of day
        dates = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        raise DataError(
            f"column '{date_col}' has missing or unparseable dates in "
            f"{describe_rows(transactions.index[bad])}"
        )
    keep = pd.Series(True, index=transactions.index)
    if amount_col in transactions.columns:
        keep &= ~(pd.to_numeric(transactions[amount_col], errors="coerce") < 0)
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    if end is not None:
        keep &= dates <= pd.Timestamp(end)
    days = pd.DataFrame({"c": cust[keep], "d": dates[keep].dt.normalize()})
    if days.empty:
        raise DataError(f"no purchases between {start} and {end}")
    per_customer = days.drop_duplicates().groupby("c").size()
    return float((per_customer >= 2).mean())


def complaint_rate(n_complaints: float, n_customers: float, per: float = 1.0) -> float:
    """Complaints per customer (or per ``per`` customers, e.g. ``per=1000``).

    ``complaint_rate(30, 12_000, per=1000) == 2.5`` complaints per 1,000 customers.
    """
    c = _check_count(n_complaints, "n_complaints")
    n = _check_count(n_customers, "n_customers", positive=True)
    return c / n * per


def churn_rate(n_lost: float, n_at_start: float) -> float:
    """Churn rate: customers lost in a period / customers at risk at the start of that period.

    Unit: share in [0, 1].
    """
    lost = _check_count(n_lost, "n_lost")
    base = _check_count(n_at_start, "n_at_start", positive=True)
    if lost > base:
        raise DataError(f"n_lost={n_lost} exceeds n_at_start={n_at_start}")
    return lost / base


def growth_rate(current: float, previous: float) -> float:
    """Relative growth ``current / previous - 1`` (0.2 = +20%); ``previous`` must be positive."""
    prev = _check_count(previous, "previous", positive=True)
    if current is None or not np.isfinite(current):
        raise DataError(f"current must be a finite number, got {current!r}")
    return float(current) / prev - 1.0


def kpi_scorecard(kpis: pd.DataFrame) -> pd.DataFrame:
    """Add attainment and status to a KPI table.

    Parameters
    ----------
    kpis : DataFrame
        Columns ``kpi`` (name), ``actual``, ``target`` and optionally ``higher_is_better``
        (bool, default True; False for churn or complaint rates).

    Returns
    -------
    DataFrame
        A copy with ``higher_is_better`` filled and three added columns: ``gap`` = target - actual
        (in the KPI's own unit), ``attainment`` = actual / target (higher-is-better) or
        target / actual (lower-is-better), so 1.0 means exactly on target, and ``met`` (bool).
    """
    need = {"kpi", "actual", "target"}
    missing = sorted(need - set(kpis.columns))
    if missing:
        raise DataError(f"KPI table lacks columns {missing}; it needs kpi, actual, target")
    out = kpis.copy()
    if "higher_is_better" not in out.columns:
        out["higher_is_better"] = True
    out["higher_is_better"] = out["higher_is_better"].fillna(True).astype(bool)
    actual = pd.to_numeric(out["actual"], errors="coerce").astype("float64")
    target = pd.to_numeric(out["target"], errors="coerce").astype("float64")
    bad = actual.isna() | target.isna() | (target <= 0) | (actual < 0)
    if bad.any():
        problems = []
        for i in out.index[bad][:5]:
            what = [
                text
                for failed, text in [
                    (pd.isna(actual[i]), "no actual value"),
                    (actual[i] < 0, f"an actual below 0 ({actual[i]:g})"),
                    (pd.isna(target[i]), "no target"),
                    (target[i] <= 0, f"a target not above 0 ({target[i]:g})"),
                ]
                if failed
            ]
            problems.append(f"{out.at[i, 'kpi']!r} has {' and '.join(what)}")
        more = int(bad.sum()) - len(problems)
        raise DataError(
            "KPI table: "
            + "; ".join(problems)
            + (f" (+{more} more)" if more > 0 else "")
            + ". Each KPI needs a numeric actual >= 0 and a target > 0: give it a target, or "
            "leave a KPI that cannot be measured on the data out of the table."
        )
    hib = out["higher_is_better"]
    out["gap"] = target - actual
    with np.errstate(divide="ignore"):
        out["attainment"] = np.where(hib, actual / target, target / actual)
    out["met"] = np.where(hib, actual >= target, actual <= target)
    return out


def scorecard_view(board: pd.DataFrame) -> pd.DataFrame:
    """A KPI scorecard (:func:`kpi_scorecard` with a ``unit`` column) for readers: ``kpi``,
    ``actual`` and ``target`` as text in each KPI's own unit (a share as "80.0%", a score as
    "35.2", see :data:`UNIT_FORMATS`; a ``format`` column, as in
    :func:`crmlab.churn.churn_kpis`, wins; money, unit ``"currency"``, with the currency
    before it: "CNY 326.63", :func:`crmlab.narrative.currency`), ``attainment`` (actual /
    target, or target / actual where lower is better; a share) and ``met``.
    """
    from crmlab.narrative import currency

    units = board["unit"] if "unit" in board else pd.Series([None] * len(board))
    given = board["format"] if "format" in board else pd.Series([None] * len(board))
    formats = [
        fmt if isinstance(fmt, str) and fmt else UNIT_FORMATS.get(unit, "{:.2f}")
        for fmt, unit in zip(given, units, strict=True)
    ]
    formats = [
        f"{currency()} {fmt}" if unit == "currency" else fmt
        for fmt, unit in zip(formats, units, strict=True)
    ]

    def shown(values) -> list[str]:
        return [f.format(float(v)) for v, f in zip(values, formats, strict=True)]

    return pd.DataFrame(
        {
            "kpi": board["kpi"].to_numpy(),
            "actual": shown(board["actual"]),
            "target": shown(board["target"]),
            "attainment": board["attainment"].to_numpy(dtype="float64"),
            "met": board["met"].to_numpy(dtype=bool),
        }
    )


# --------------------------------------------------------------------------------------------
# the run's satisfaction measure, in words
# --------------------------------------------------------------------------------------------
CANONICAL_MEASURE: dict = {"scale": [1, 5], "satisfied_at": 4, "questions": []}
"""The measure of the shipped data: the 1-5 overall-satisfaction question, 4 or 5 satisfied."""


def satisfaction_measure(data_dir) -> dict:
    """The satisfaction measure of a run's input: ``scale`` ([low, high] of the client's
    question), ``satisfied_at`` (lowest satisfied rating on that scale) and ``questions`` (the
    client's column(s), averaged when several; empty: the canonical overall-satisfaction
    question). A config run's import records them (``ingest_report.json``, key ``survey``;
    the ratings themselves are then on 1-5 with 4-5 exactly the satisfied ones, see
    :func:`crmlab.ingest.satisfaction_to_five`); a plain data folder has the canonical
    measure :data:`CANONICAL_MEASURE`."""
    from crmlab.sources import ingest_report

    report = ingest_report(data_dir) or {}
    survey = report.get("survey") or {}
    if not survey.get("scale"):
        return dict(CANONICAL_MEASURE)
    cols = (report.get("sources") or {}).get("survey", {}).get("columns", {})
    questions = cols.get("overall_satisfaction") or survey.get("columns") or []
    if isinstance(questions, str):  # one column, recorded as its name
        questions = [questions]
    return _measure(survey["scale"], survey.get("satisfied_at"), questions)


def _measure(scale, satisfied_at, questions) -> dict:
    lo, hi = (float(x) for x in scale)
    t = 4.0 if satisfied_at is None and (lo, hi) == (1.0, 5.0) else satisfied_at
    num = lambda x: int(x) if float(x).is_integer() else float(x)  # noqa: E731
    out = {"scale": [num(lo), num(hi)], "satisfied_at": num(t), "questions": list(questions)}
    if out["scale"] == [1, 5] and out["satisfied_at"] == 4 and len(questions) <= 1:
        out["questions"] = []  # one 1-5 question, top-two-box: the canonical measure
    return out


def measure_record(measure: dict) -> dict[str, object]:
    """The figures that record a measure in ``results.json``: ``satisfaction.scale``,
    ``satisfaction.satisfied_at`` and ``satisfaction.questions``."""
    return {f"satisfaction.{k}": measure[k] for k in ("scale", "satisfied_at", "questions")}


def measure_from_results(results: dict) -> dict:
    """The measure a run recorded (:func:`measure_record`); the canonical one for a run
    that recorded none (runs before the measure was recorded used the 1-5 question)."""
    scale = results.get("satisfaction.scale")
    if not scale:
        return dict(CANONICAL_MEASURE)
    return _measure(
        scale, results.get("satisfaction.satisfied_at"), results.get("satisfaction.questions") or []
    )


def _g(x) -> str:
    return f"{float(x):g}"


def measure_text(measure: dict, what: str, lang: str = "en") -> str:
    """The measure in words, for the report's sentences, axis labels and plan texts.

    ``what``: ``"who"`` (the satisfied customers: "rating overall satisfaction 4 or 5 on a 1-5
    scale"), ``"definition"`` (the CSAT definition of the methods appendix), ``"question"``
    (what the survey asks: "Overall satisfaction (1-5)"), ``"satisfied"`` (the satisfied
    ratings: "4-5"; on another scale "7+ on 1-10"), ``"note"`` (the stage-1 sentence that says
    which measure the run uses). ``lang``: "en" or "zh". The canonical measure
    (:data:`CANONICAL_MEASURE`) gives the texts of the 1-5 question; another one names the
    client's question(s), scale and threshold (e.g. "the average of 总体满意度 and 再次光临意愿",
    1-10, 7 or more)."""
    if lang not in ("en", "zh"):
        raise ParameterError(f"Unknown language {lang!r}: use en or zh.")
    m = _measure(measure["scale"], measure["satisfied_at"], measure.get("questions") or [])
    lo, hi, t, qs = _g(m["scale"][0]), _g(m["scale"][1]), _g(m["satisfied_at"]), m["questions"]
    canonical = not qs and (lo, hi, t) == ("1", "5", "4")
    top = float(m["satisfied_at"]) + 1 == float(m["scale"][1])  # "9 or 10", not "9 or more"
    if lang == "en":
        if not qs:
            qname = "overall satisfaction"
        elif len(qs) == 1:
            qname = qs[0]
        else:
            qname = "the average of " + ", ".join(qs[:-1]) + " and " + qs[-1]
        ratings = f"{t} or {hi}" if top else f"{t} or more"
        texts = {
            "who": f"rating {qname} {ratings} on a {lo}-{hi} scale",
            "definition": (
                "Share of survey answers of 4 or 5 on the 1-5 overall-satisfaction question "
                "(top-two-box)."
                if canonical
                else f"Share of survey answers rating {qname} {ratings} on the client's "
                f"{lo}-{hi} scale (the config's satisfied_at)."
            ),
            "question": (
                "Overall satisfaction (1-5)"
                if canonical
                else " and ".join(qs or ["Overall satisfaction"])
                + f" ({lo}-{hi}{', averaged' if len(qs) > 1 else ''}; {t}+ satisfied)"
            ),
            "satisfied": "4-5" if canonical else f"{t}+ on {lo}-{hi}",
        }
        texts["note"] = f"**Satisfied** means {texts['who']}" + (
            " (top-two-box)."
            if canonical
            else f" (the config's satisfied_at); the answers are read on 1-5 with {t}+ as "
            "4-5, so CSAT is the same."
        )
    else:
        if not qs:
            qname = "总体满意度"
        elif len(qs) == 1:
            qname = qs[0]
        else:
            qname = "、".join(qs[:-1]) + "与" + qs[-1] + "的平均分"
        texts = {
            "who": (
                "总体满意度 1-5 分中评 4 分或 5 分的客户占比"
                if canonical
                else f"{qname}（{lo}-{hi} 分）达到 {t} 分及以上的客户占比"
            ),
            "definition": (
                "总体满意度问题（1-5 分）中评 4 分或 5 分的答卷占比（top-two-box）。"
                if canonical
                else f"{qname}（客户的 {lo}-{hi} 分制）达到 {t} 分及以上的答卷占比"
                "（配置中的 satisfied_at）。"
            ),
            "question": (
                "总体满意度（1-5 分）"
                if canonical
                else "与".join(qs or ["总体满意度"])
                + f"（{lo}-{hi} 分{'，取平均' if len(qs) > 1 else ''}；{t} 分及以上为满意）"
            ),
            "satisfied": "评 4-5 分" if canonical else f"{lo}-{hi} 分中达到 {t} 分及以上",
        }
        texts["note"] = (
            "**满意**指" + texts["who"].removesuffix("的客户占比") + "（top-two-box）。"
            if canonical
            else f"**满意**指{qname}（{lo}-{hi} 分）达到 {t} 分及以上（配置中的 satisfied_at）；"
            f"答卷按 1-5 分读取，{t} 分及以上对应 4-5 分，因此满意度（CSAT）不变。"
        )
    if what not in texts:
        raise ParameterError(f"measure_text: what must be one of {sorted(texts)}, got {what!r}.")
    return texts[what]
