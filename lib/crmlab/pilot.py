"""Pilot evaluation: two-proportion test, difference-in-differences and a roll-out projection.

- :func:`two_proportion_test` - treated vs control share after the pilot: pooled z-test
  (``statsmodels.stats.proportion.proportions_ztest``), a CI for the difference
  (``confint_proportions_2indep``) and Cohen's h (``proportion_effectsize``).
- :func:`did_estimate` - difference-in-differences of a 0/1 outcome:
  ``(treated post - treated pre) - (control post - control pre)``, estimated as the interaction of
  a linear probability model ``y ~ treated + post + treated:post`` (statsmodels OLS) with
  cluster-robust standard errors by store. Equal to the difference of the four cell means.
- :func:`rollout_projection` - does baseline + (coverage x effect) reach the goal's target?
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from crmlab.errors import DataError, ParameterError, describe_rows
from crmlab.goals import month_ordinals

__all__ = [
    "DidResult",
    "ProportionTest",
    "RolloutProjection",
    "add_did_indicators",
    "arm_period_rates",
    "compare_arms",
    "did_estimate",
    "rollout_projection",
    "two_proportion_test",
]

MIN_CLUSTERS_PER_ARM = 5
"""Below this many clusters (stores) in an arm, cluster-robust standard errors are unreliable."""


@dataclass(frozen=True)
class ProportionTest:
    """Treated vs control share.

    Attributes
    ----------
    rate_t, rate_c : float
        Shares in the treated and control arms.
    effect : float
        ``rate_t - rate_c`` (share units; 0.05 = 5 points).
    ci_low, ci_high : float
        Two-sided ``1 - alpha`` interval for the effect (method ``ci_method``).
    z, p_value : float
        Pooled two-proportion z statistic and its p-value (``alternative``).
    cohens_h : float
        ``2 asin(sqrt(rate_t)) - 2 asin(sqrt(rate_c))``.
    n_t, n_c : int
    alpha : float
    alternative : str
    ci_method : str
    """

    rate_t: float
    rate_c: float
    effect: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    cohens_h: float
    n_t: int
    n_c: int
    alpha: float
    alternative: str
    ci_method: str

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)

    def to_record(self, prefix: str = "pilot.test") -> dict:
        """Flat figures for ``crmlab.record``."""
        return {f"{prefix}.{k}": v for k, v in asdict(self).items()}


def two_proportion_test(
    success_t: int,
    n_t: int,
    success_c: int,
    n_c: int,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    ci_method: str = "newcomb",
) -> ProportionTest:
    """Compare the share of successes in a treated and a control arm.

    Parameters
    ----------
    success_t, n_t : int
        Successes and units in the treated arm.
    success_c, n_c : int
        Successes and units in the control arm.
    alpha : float
        1 - confidence level of the interval.
    alternative : {"two-sided", "larger", "smaller"}
        For the z-test: "larger" tests treated > control.
    ci_method : str
        ``confint_proportions_2indep`` method for the difference: "newcomb" (Wilson-based, default),
        "wald", "agresti-caffo", "score".

    Returns
    -------
    ProportionTest
    """
    for s, n, arm in ((success_t, n_t, "treated"), (success_c, n_c, "control")):
        if not (n > 0 and 0 <= s <= n):
            raise DataError(f"{arm} arm: need 0 <= successes <= n and n > 0, got {s} of {n}")
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ParameterError(
            f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}"
        )
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    rt, rc = success_t / n_t, success_c / n_c
    z, p = proportions_ztest([success_t, success_c], [n_t, n_c], alternative=alternative)
    low, high = confint_proportions_2indep(
        success_t, n_t, success_c, n_c, method=ci_method, compare="diff", alpha=alpha
    )
    return ProportionTest(
        rate_t=rt,
        rate_c=rc,
        effect=rt - rc,
        ci_low=float(low),
        ci_high=float(high),
        z=float(z),
        p_value=float(p),
        cohens_h=float(proportion_effectsize(rt, rc)),
        n_t=int(n_t),
        n_c=int(n_c),
        alpha=alpha,
        alternative=alternative,
        ci_method=ci_method,
    )


def _binary(s: pd.Series, what: str) -> pd.Series:
    """0/1 float Series (NaN kept) from a 0/1 or boolean column; DataError otherwise."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    v = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = (v.notna() & ~v.isin([0.0, 1.0])) | (v.isna() & s.notna())
    if bad.any():
        raise DataError(
            f"{what} '{s.name}' must hold 0/1 (or True/False); {describe_rows(s.index[bad])} do not "
            f"(e.g. {s[bad].iloc[0]!r}). Build it first, e.g. df['treated'] = df['arm'] == 'pilot'"
        )
    return v


def _need_columns(df: pd.DataFrame, cols) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} not found; available: {list(df.columns)}")


def compare_arms(
    df: pd.DataFrame,
    outcome: str = "satisfied",
    group_col: str = "treated",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    ci_method: str = "newcomb",
) -> ProportionTest:
    """:func:`two_proportion_test` on a response-level frame.

    ``outcome`` and ``group_col`` are 0/1 (or boolean) columns; rows with a missing outcome are
    dropped. Use it on the post-pilot rows only.
    """
    _need_columns(df, [outcome, group_col])
    y = _binary(df[outcome], "outcome")
    g = _binary(df[group_col], "group column")
    keep = y.notna() & g.notna()
    y, g = y[keep], g[keep]
    t, c = y[g == 1], y[g == 0]
    if len(t) == 0 or len(c) == 0:
        raise DataError(
            f"'{group_col}' needs both treated (1) and control (0) rows with an outcome"
        )
    return two_proportion_test(
        int(t.sum()),
        len(t),
        int(c.sum()),
        len(c),
        alpha=alpha,
        alternative=alternative,
        ci_method=ci_method,
    )


def add_did_indicators(
    df: pd.DataFrame,
    treated_units,
    pilot_start,
    unit_col: str = "store_id",
    period_col: str = "wave",
    treated_col: str = "treated",
    post_col: str = "post",
) -> pd.DataFrame:
    """Return a copy of ``df`` with 0/1 columns ``treated`` (unit in the pilot) and ``post``.

    ``post`` is 1 for periods at or after ``pilot_start`` (a month, "YYYY-MM"; periods are read
    as months, see :func:`crmlab.goals.month_ordinals`).
    """
    _need_columns(df, [unit_col, period_col])
    units = [treated_units] if isinstance(treated_units, str | int) else list(treated_units)
    unknown = sorted(set(units) - set(df[unit_col].dropna().unique()), key=str)
    if unknown:
        raise DataError(f"treated units {unknown} do not occur in column '{unit_col}'")
    start = month_ordinals(pd.Series([pilot_start], name="pilot_start"))[0]
    out = df.copy()
    out[treated_col] = df[unit_col].isin(units).astype("int64")
    out[post_col] = (month_ordinals(df[period_col]) >= start).astype("int64")
    return out


@dataclass(frozen=True)
class DidResult:
    """Difference-in-differences estimate of a pilot effect on a 0/1 outcome.

    Attributes
    ----------
    effect : float
        (treated post - pre) - (control post - pre), share units.
    ci_low, ci_high : float
        ``1 - alpha`` interval (t distribution with clusters - 1 degrees of freedom when clustered).
    se, p_value : float
    n : int
        Rows used.
    n_dropped : int
        Rows dropped for a missing outcome, group, period or cluster.
    n_clusters : int
    clusters_treated, clusters_control : int
    cov_type : str
        "cluster" or a heteroskedasticity-robust type ("HC1").
    cell_means : DataFrame
        2 x 2 table of outcome means: index ``group`` (control, treated), columns ``pre``, ``post``.
    note : str
        Caveats (e.g. too few clusters); empty when none.
    model : statsmodels results
        The fitted OLS results (excluded from ``to_record``).
    """

    effect: float
    ci_low: float
    ci_high: float
    se: float
    p_value: float
    n: int
    n_dropped: int
    n_clusters: int
    clusters_treated: int
    clusters_control: int
    cov_type: str
    alpha: float
    cell_means: pd.DataFrame = field(repr=False)
    note: str = ""
    model: object = field(default=None, repr=False)

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return (self.ci_low, self.ci_high)

    def to_record(self, prefix: str = "pilot.did") -> dict:
        """Flat figures for ``crmlab.record`` (without the cell table and the model)."""
        keys = (
            "effect",
            "ci_low",
            "ci_high",
            "se",
            "p_value",
            "n",
            "n_clusters",
            "cov_type",
            "note",
        )
        return {f"{prefix}.{k}": getattr(self, k) for k in keys}


def did_estimate(
    df: pd.DataFrame,
    outcome: str = "satisfied",
    group_col: str = "treated",
    period_col: str = "post",
    cluster_col: str | None = "store_id",
    alpha: float = 0.05,
    cov_type: str = "cluster",
) -> DidResult:
    """Difference-in-differences of a 0/1 outcome by a linear probability model.

    Fits ``outcome ~ 1 + treated + post + treated:post`` by OLS; the interaction coefficient is the
    DiD effect, identical to ``(mean[T,post] - mean[T,pre]) - (mean[C,post] - mean[C,pre])``. It
    estimates the pilot's effect under the parallel-trends assumption.

    Parameters
    ----------
    df : DataFrame
        One row per response.
    outcome : str
        0/1 (or boolean) column, e.g. ``crmlab.metrics.is_satisfied(df["overall_satisfaction"])``.
    group_col, period_col : str
        0/1 columns: treated unit, and post-pilot period (see :func:`add_did_indicators`).
    cluster_col : str or None
        Cluster for the standard errors (responses within a store are correlated).
    alpha : float
    cov_type : {"cluster", "HC1", "HC0", "HC2", "HC3", "nonrobust"}
        "cluster" (default) needs ``cluster_col``; it uses a t reference with G - 1 degrees of
        freedom. With fewer than 5 stores in an arm the clustered errors are unreliable: a warning
        is issued and the caveat is stored in ``note``.

    Returns
    -------
    DidResult
    """
    if cov_type == "cluster" and cluster_col is None:
        raise ParameterError("cov_type='cluster' needs cluster_col (e.g. 'store_id')")
    cols = [outcome, group_col, period_col] + ([cluster_col] if cluster_col else [])
    _need_columns(df, cols)
    y = _binary(df[outcome], "outcome")
    g = _binary(df[group_col], "group column")
    t = _binary(df[period_col], "period column")
    keep = y.notna() & g.notna() & t.notna()
    if cluster_col:
        keep &= df[cluster_col].notna()
    n_dropped = int((~keep).sum())
    y, g, t = y[keep].to_numpy(), g[keep].to_numpy(), t[keep].to_numpy()
    cells = pd.crosstab(g, t)
    if cells.shape != (2, 2) or (cells.to_numpy() == 0).any():
        raise DataError(
            f"DiD needs responses in all four cells of {group_col} x {period_col} "
            f"(control/treated x pre/post); counts are:\n{cells}"
        )
    X = np.column_stack([np.ones_like(y), g, t, g * t])
    ols = sm.OLS(y, X)
    note = ""
    n_clusters = clusters_t = clusters_c = 0
    if cov_type == "cluster":
        clusters = df.loc[keep, cluster_col]
        codes, uniques = pd.factorize(clusters)
        n_clusters = len(uniques)
        clusters_t = int(clusters[g == 1].nunique())
        clusters_c = int(clusters[g == 0].nunique())
        if min(clusters_t, clusters_c) < MIN_CLUSTERS_PER_ARM:
            note = (
                f"only {clusters_t} treated and {clusters_c} control clusters: cluster-robust "
                "standard errors are unreliable with fewer than "
                f"{MIN_CLUSTERS_PER_ARM} per arm; treat the interval as indicative"
            )
            warnings.warn(note, UserWarning, stacklevel=2)
        res = ols.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    else:
        res = ols.fit(cov_type=cov_type)
    low, high = res.conf_int(alpha=alpha)[3]
    cell_means = (
        pd.DataFrame({"g": g, "t": t, "y": y})
        .groupby(["g", "t"])["y"]
        .mean()
        .unstack("t")
        .rename(index={0.0: "control", 1.0: "treated"}, columns={0.0: "pre", 1.0: "post"})
    )
    cell_means.index.name = "group"
    cell_means.columns.name = None
    return DidResult(
        effect=float(res.params[3]),
        ci_low=float(low),
        ci_high=float(high),
        se=float(res.bse[3]),
        p_value=float(res.pvalues[3]),
        n=int(len(y)),
        n_dropped=n_dropped,
        n_clusters=n_clusters,
        clusters_treated=clusters_t,
        clusters_control=clusters_c,
        cov_type=cov_type,
        alpha=alpha,
        cell_means=cell_means,
        note=note,
        model=res,
    )


def arm_period_rates(
    df: pd.DataFrame,
    outcome: str = "satisfied",
    group_col: str = "treated",
    period_col: str = "wave",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of ``outcome`` per arm and period with Wilson intervals (the data of ``plot_pilot``).

    Returns
    -------
    DataFrame
        Columns ``group_col``, ``period_col``, ``rate``, ``low``, ``high``, ``n``; sorted by group then
        period. Rows with a missing outcome are ignored.
    """
    _need_columns(df, [outcome, group_col, period_col])
    y = _binary(df[outcome], "outcome")
    d = pd.DataFrame({group_col: df[group_col], period_col: df[period_col], "y": y}).dropna()
    rows = []
    for (grp, per), part in d.groupby([group_col, period_col], sort=True):
        k, n = int(part["y"].sum()), len(part)
        low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
        rows.append(
            {group_col: grp, period_col: per, "rate": k / n, "low": low, "high": high, "n": n}
        )
    if not rows:
        raise DataError(f"no rows with a non-missing '{outcome}'")
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RolloutProjection:
    """Where the metric lands if the pilot effect is rolled out.

    Attributes
    ----------
    projected : float
        ``baseline + coverage * effect``.
    projected_low, projected_high : float
        Same with the effect's CI bounds (equal to ``projected`` without a CI).
    reaches_target : bool
        Point projection reaches the target (in the goal's direction).
    reaches_target_pessimistic : bool
        Even the CI bound least favourable to the goal reaches it.
    shortfall_points : float
        Points still missing at the point projection (``<= 0`` means reached); ``x scale``.
    verdict : str
        Plain-words conclusion.
    """

    baseline: float
    effect: float
    coverage: float
    target: float
    projected: float
    projected_low: float
    projected_high: float
    reaches_target: bool
    reaches_target_pessimistic: bool
    shortfall_points: float
    verdict: str

    def to_record(self, prefix: str = "pilot.rollout") -> dict:
        """Flat figures for ``crmlab.record``."""
        return {f"{prefix}.{k}": v for k, v in asdict(self).items()}


def rollout_projection(
    baseline: float,
    effect: float,
    target: float,
    effect_ci: tuple[float, float] | None = None,
    coverage: float = 1.0,
    scale: float = 100.0,
) -> RolloutProjection:
    """Project the metric after a roll-out and say whether it reaches the target.

    Parameters
    ----------
    baseline : float
        Current level of the metric (e.g. 0.81).
    effect : float
        Pilot effect on the metric (e.g. the DiD ``effect``; negative for churn cuts).
    target : float
        Goal target (e.g. ``goal.target``); its side of the baseline sets the goal's direction.
    effect_ci : (low, high), optional
        Interval of the effect; gives the pessimistic/optimistic projections.
    coverage : float
        Share of customers/stores the roll-out reaches (0-1]; the effect is diluted linearly.
    scale : float
        Points per metric unit (100 for shares).

    Returns
    -------
    RolloutProjection
    """
    for name, v in (("baseline", baseline), ("effect", effect), ("target", target)):
        if v is None or not math.isfinite(v):
            raise ParameterError(f"{name} must be a finite number, got {v!r}")
    if not 0 < coverage <= 1:
        raise ParameterError(f"coverage must be in (0, 1], got {coverage}")
    if target == baseline:
        raise ParameterError("target equals baseline; nothing to project towards")
    sign = 1.0 if target > baseline else -1.0
    lo_e, hi_e = effect_ci if effect_ci is not None else (effect, effect)
    if lo_e > hi_e:
        raise ParameterError(f"effect_ci must be (low, high), got {effect_ci}")
    projected = baseline + coverage * effect
    p_low, p_high = baseline + coverage * lo_e, baseline + coverage * hi_e
    pessimistic, optimistic = (p_low, p_high) if sign > 0 else (p_high, p_low)
    reaches = sign * (projected - target) >= 0
    reaches_pess = sign * (pessimistic - target) >= 0
    reaches_opt = sign * (optimistic - target) >= 0
    if reaches_pess:
        verdict = "reaches the target even at the pessimistic end of the effect's interval"
    elif reaches:
        verdict = (
            "reaches the target on the point estimate but not at the pessimistic end of the "
            "interval: roll out with monitoring"
        )
    elif reaches_opt:
        verdict = (
            "falls short on the point estimate; only the optimistic end of the interval reaches "
            "the target: add interventions"
        )
    else:
        verdict = (
            "falls short even at the optimistic end of the interval: needs further interventions"
        )
    return RolloutProjection(
        baseline=float(baseline),
        effect=float(effect),
        coverage=float(coverage),
        target=float(target),
        projected=projected,
        projected_low=p_low,
        projected_high=p_high,
        reaches_target=bool(reaches),
        reaches_target_pessimistic=bool(reaches_pess),
        shortfall_points=sign * (target - projected) * scale,
        verdict=verdict,
    )


@dataclass(frozen=True)
class PilotDesign:
    """Who was treated and when: read from a pilot table (one row per unit)."""

    treated_units: tuple[str, ...]
    control_units: tuple[str, ...]
    pilot_periods: tuple[str, ...]
    pre_periods: tuple[str, ...]
    intervention: str

    @property
    def pilot_start(self) -> str:
        return self.pilot_periods[0]


def design_from_table(
    pilot: pd.DataFrame,
    periods,
    unit_col: str = "store_id",
    group_col: str = "group",
    treated_label: str = "treatment",
    start_col: str = "start_date",
    end_col: str = "end_date",
) -> PilotDesign:
    """Read a pilot design from a table of units with their arm and pilot dates.

    The pilot periods are the observed months (``periods``, "YYYY-MM") from the earliest start to
    the latest end; the pre-periods are as many months immediately before the start (fewer if the
    history is shorter). Raises :class:`DataError` if an arm is empty or no period falls in the
    pilot window.
    """
    _need_columns(pilot, [unit_col, group_col, start_col, end_col])
    arm = pilot[group_col].astype(str).str.strip().str.lower()
    treated = tuple(sorted(pilot.loc[arm == treated_label, unit_col].astype(str)))
    control = tuple(sorted(pilot.loc[arm != treated_label, unit_col].astype(str)))
    if not treated or not control:
        raise DataError(
            f"The pilot table needs units in both arms ('{treated_label}' and another value in "
            f"'{group_col}'); found {len(treated)} treated and {len(control)} control."
        )
    start = pd.to_datetime(pilot[start_col]).min().strftime("%Y-%m")
    end = pd.to_datetime(pilot[end_col]).max().strftime("%Y-%m")
    observed = sorted({str(p) for p in periods})
    during = tuple(p for p in observed if start <= p <= end)
    if not during:
        raise DataError(
            f"No survey period falls in the pilot window {start} to {end} "
            f"(survey covers {observed[0]} to {observed[-1]})."
        )
    before = tuple(p for p in observed if p < start)[-len(during) :]
    label = "intervention"
    intervention = str(pilot[label].iloc[0]) if label in pilot.columns else "the intervention"
    return PilotDesign(treated, control, during, before, intervention)
