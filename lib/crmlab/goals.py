"""SMART goals: a baseline, a target, a deadline - and a check of the target against history.

A goal is *specific* (one metric), *measurable* (baseline with its confidence interval),
*time-bound* (deadline in months from the baseline month). Two ways to state the target:

- **relative** - "cut churn 20%": ``target = baseline * (1 + relative_change)`` with
  ``relative_change=-0.2`` (25% -> 20%);
- **absolute** - "raise satisfaction to 90%": ``target = 0.90``;
- **points** - "raise satisfaction by 9 points": ``target = baseline + 9 / scale``.

Metric units: shares in [0, 1] with ``scale=100`` (one percentage point = 0.01), or metrics already
in points such as NPS with ``scale=1``. "Points" below always means ``value * scale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.errors import DataError, ParameterError, describe_rows

__all__ = ["RealismCheck", "SmartGoal", "month_label", "month_ordinals", "realism_check"]


def month_label(value) -> str:
    """Normalize a month (``"2024-03"``, a date, Timestamp or Period) to the text ``"YYYY-MM"``."""
    try:
        return str(pd.Period(value, freq="M"))
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"cannot read {value!r} as a month; use 'YYYY-MM'") from exc


def month_ordinals(periods: pd.Series) -> np.ndarray:
    """Months as integers (year * 12 + month - 1) so that differences count months.

    Accepts ``"YYYY-MM"`` text, dates, Timestamps or a Period column. Raises DataError on values that
    are missing or cannot be read as a month (naming the rows).
    """
    s = periods if isinstance(periods, pd.Series) else pd.Series(periods)
    if isinstance(s.dtype, pd.PeriodDtype):
        p = s.dt.asfreq("M")
        bad = p.isna()
        year, month = p.dt.year, p.dt.month
    else:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            ts = s
        else:
            text = s.astype("str").where(s.notna())
            ts = pd.to_datetime(text, errors="coerce", format="%Y-%m")
            if (ts.isna() & s.notna()).any():  # not all "YYYY-MM": try dates and other forms
                ts = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = ts.isna()
        year, month = ts.dt.year, ts.dt.month
    if bad.any():
        raise DataError(
            f"period column '{s.name}': {describe_rows(s.index[bad])} are missing or not months "
            "(expected 'YYYY-MM')"
        )
    return (year * 12 + month - 1).to_numpy(dtype=int)


def _ordinal_to_label(o: int) -> str:
    return f"{o // 12:04d}-{o % 12 + 1:02d}"


@dataclass(frozen=True)
class SmartGoal:
    """A specific, measurable, time-bound goal on one metric.

    Parameters
    ----------
    metric : str
        Name of the metric, e.g. ``"csat"`` or ``"churn_rate"``.
    baseline : float
        Value at the start (metric units, e.g. 0.81 for 81%).
    target : float
        Value to reach by the deadline (same units).
    deadline_months : int
        Months from ``start`` to the deadline (>= 1).
    start : str
        Baseline month, ``"YYYY-MM"`` (dates and Periods are normalized to this form).
    baseline_ci : (low, high), optional
        Confidence interval of the baseline (same units).
    scale : float
        Multiplier from metric units to points: 100 for shares (default), 1 for NPS.
    description : str
        The goal in words, e.g. "Raise CSAT to 90%+ within six months".
    """

    metric: str
    baseline: float
    target: float
    deadline_months: int
    start: str
    baseline_ci: tuple[float, float] | None = None
    scale: float = 100.0
    description: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", month_label(self.start))
        for name in ("baseline", "target"):
            v = getattr(self, name)
            if v is None or not math.isfinite(v):
                raise ParameterError(f"goal {name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if int(self.deadline_months) != self.deadline_months or self.deadline_months < 1:
            raise ParameterError(
                f"deadline_months must be a whole number of months >= 1, got {self.deadline_months}"
            )
        object.__setattr__(self, "deadline_months", int(self.deadline_months))
        if self.scale == 100.0:
            for name in ("baseline", "target"):
                v = getattr(self, name)
                if not 0.0 <= v <= 1.0:
                    raise ParameterError(
                        f"goal {name}={v} is not a share in [0, 1]: give a share such as 0.9 "
                        "for 90% (with `crmlab run`: -p target=0.9). In code, a goal on a metric "
                        "already in points, such as NPS, takes scale=1."
                    )
        if self.target == self.baseline:
            raise ParameterError("goal target equals the baseline; a goal needs a change")
        if self.baseline_ci is not None:
            low, high = self.baseline_ci
            if not low <= self.baseline <= high:
                raise ParameterError(
                    f"baseline_ci {self.baseline_ci} does not contain the baseline {self.baseline}"
                )
            object.__setattr__(self, "baseline_ci", (float(low), float(high)))

    # ---- constructors ---------------------------------------------------------------------
    @classmethod
    def relative(
        cls,
        metric: str,
        baseline: float,
        relative_change: float,
        deadline_months: int,
        start,
        **kwargs,
    ) -> SmartGoal:
        """Goal as a relative change: ``target = baseline * (1 + relative_change)``.

        "Cut churn 20%" is ``relative_change=-0.2``: 0.25 -> 0.20.
        """
        if relative_change <= -1:
            raise ParameterError(f"relative_change must be > -1 (-100%), got {relative_change}")
        return cls(
            metric, baseline, baseline * (1 + relative_change), deadline_months, start, **kwargs
        )

    @classmethod
    def absolute(
        cls, metric: str, baseline: float, target: float, deadline_months: int, start, **kwargs
    ) -> SmartGoal:
        """Goal as an absolute target level, e.g. ``target=0.90`` for "satisfaction to 90%"."""
        return cls(metric, baseline, target, deadline_months, start, **kwargs)

    @classmethod
    def points(
        cls,
        metric: str,
        baseline: float,
        change_points: float,
        deadline_months: int,
        start,
        scale: float = 100.0,
        **kwargs,
    ) -> SmartGoal:
        """Goal as a change in points: ``target = baseline + change_points / scale``."""
        return cls(
            metric,
            baseline,
            baseline + change_points / scale,
            deadline_months,
            start,
            scale=scale,
            **kwargs,
        )

    # ---- derived figures --------------------------------------------------------------------
    @property
    def direction(self) -> str:
        """``"increase"`` or ``"decrease"``."""
        return "increase" if self.target > self.baseline else "decrease"

    @property
    def gap_points(self) -> float:
        """``(target - baseline) * scale``: signed change needed, in points (9.0 for 81% -> 90%)."""
        return (self.target - self.baseline) * self.scale

    @property
    def relative_change(self) -> float:
        """``target / baseline - 1`` (nan when the baseline is 0)."""
        return self.target / self.baseline - 1 if self.baseline != 0 else float("nan")

    @property
    def required_monthly_points(self) -> float:
        """Signed change per month needed on a straight line: ``gap_points / deadline_months``."""
        return self.gap_points / self.deadline_months

    @property
    def deadline(self) -> str:
        """Deadline month ``"YYYY-MM"`` = start + deadline_months."""
        return str(pd.Period(self.start, freq="M") + self.deadline_months)

    def monthly_path(self) -> pd.DataFrame:
        """The straight-line path from baseline (month 0) to target (month ``deadline_months``).

        Returns
        -------
        DataFrame
            ``deadline_months + 1`` rows: ``month`` ("YYYY-MM"), ``months_from_start`` (0..D) and
            ``target_value`` = baseline + (target - baseline) * months_from_start / D.
        """
        k = np.arange(self.deadline_months + 1)
        start = pd.Period(self.start, freq="M")
        return pd.DataFrame(
            {
                "month": pd.Series([str(start + int(i)) for i in k], dtype="str"),
                "months_from_start": k,
                "target_value": self.baseline
                + (self.target - self.baseline) * k / self.deadline_months,
            }
        )

    def to_record(self, prefix: str = "goal") -> dict:
        """Flat figures for ``crmlab.record``: ``{"goal.metric": ..., "goal.baseline": ...}``.

        Keys: metric, baseline, baseline_low, baseline_high (None without a CI), target,
        deadline_months, start, deadline, gap_points, relative_change, required_monthly_points,
        direction.
        """
        low, high = self.baseline_ci if self.baseline_ci is not None else (None, None)
        rel = self.relative_change
        figures = {
            "metric": self.metric,
            "baseline": self.baseline,
            "baseline_low": low,
            "baseline_high": high,
            "target": self.target,
            "deadline_months": self.deadline_months,
            "start": self.start,
            "deadline": self.deadline,
            "gap_points": self.gap_points,
            "relative_change": None if math.isnan(rel) else rel,
            "required_monthly_points": self.required_monthly_points,
            "direction": self.direction,
        }
        return {f"{prefix}.{k}": v for k, v in figures.items()}


@dataclass(frozen=True)
class RealismCheck:
    """Required pace of a goal against the best pace seen in history.

    Attributes
    ----------
    required_monthly_points : float
        Signed points per month the goal needs (``goal.required_monthly_points``).
    best_monthly_points : float
        Signed points per month of history's best run of ``window_months`` (best in the goal's
        direction; negative for a decrease goal that history did achieve).
    window_months : int
        Length of the runs compared (the goal's deadline, or the history's span if shorter).
    best_run_start, best_run_end : str
        Months ("YYYY-MM") where the best run starts and ends.
    ratio : float
        required / best pace (both in the goal's direction); inf when history never moved that way.
    verdict : str
        "comfortable" (ratio <= 0.5), "realistic" (<= 1), "ambitious, needs intervention" (<= 2),
        "stretch, well beyond history" (> 2) or "no precedent, needs intervention".
    message : str
        One sentence for a report.
    """

    required_monthly_points: float
    best_monthly_points: float
    window_months: int
    best_run_start: str
    best_run_end: str
    ratio: float
    verdict: str
    message: str

    def to_record(self, prefix: str = "goal.realism") -> dict:
        """Flat figures for ``crmlab.record`` (ratio is None when infinite)."""
        d = {
            "required_monthly_points": self.required_monthly_points,
            "best_monthly_points": self.best_monthly_points,
            "window_months": self.window_months,
            "best_run_start": self.best_run_start,
            "best_run_end": self.best_run_end,
            "ratio": self.ratio if math.isfinite(self.ratio) else None,
            "verdict": self.verdict,
            "message": self.message,
        }
        return {f"{prefix}.{k}": v for k, v in d.items()}


def realism_check(
    history: pd.DataFrame,
    goal: SmartGoal,
    period_col: str = "wave",
    value_col: str = "rate",
    window_months: int | None = None,
) -> RealismCheck:
    """Compare the pace a goal needs with the best pace in the metric's history.

    For every observed month ``i`` the run ends at the first observed month at least ``w`` months
    later (``w`` = ``window_months``, default the goal's deadline, capped at the history's span); the
    pace of a run is its change in points divided by its length in months. The best run is the one
    moving fastest in the goal's direction. Note that on noisy survey waves the best run overstates
    the sustainable pace, so "realistic" is an upper-bound judgement.

    Parameters
    ----------
    history : DataFrame
        One row per period with ``period_col`` (month: "YYYY-MM", date or Period) and ``value_col``
        (metric units, same as the goal) - e.g. the output of :func:`crmlab.metrics.by_wave`.
    goal : SmartGoal
    period_col, value_col : str
    window_months : int, optional

    Returns
    -------
    RealismCheck
    """
    for c in (period_col, value_col):
        if c not in history.columns:
            raise DataError(f"history lacks column '{c}'; available: {list(history.columns)}")
    h = history[[period_col, value_col]]
    h = h[h[value_col].notna()]
    months = month_ordinals(h[period_col])
    if len(np.unique(months)) != len(months):
        raise DataError(f"history has repeated months in '{period_col}'; give one row per month")
    order = np.argsort(months)
    m = months[order]
    v = h[value_col].to_numpy(dtype="float64")[order]
    if len(m) < 2:
        raise DataError("history needs at least two months with a value to measure a pace")
    w = int(window_months or goal.deadline_months)
    if w < 1:
        raise ParameterError(f"window_months must be >= 1, got {window_months}")
    w = min(w, int(m[-1] - m[0]))
    sign = 1.0 if goal.direction == "increase" else -1.0
    best, best_pair = -math.inf, (0, 1)
    for i in range(len(m) - 1):
        later = np.nonzero(m - m[i] >= w)[0]
        if len(later) == 0:
            break
        j = int(later[0])
        pace = sign * (v[j] - v[i]) / (m[j] - m[i]) * goal.scale
        if pace > best:
            best, best_pair = pace, (i, j)
    required = goal.required_monthly_points
    req_dir = abs(required)
    if best <= 0:
        ratio, verdict = math.inf, "no precedent, needs intervention"
    else:
        ratio = req_dir / best
        if ratio <= 0.5:
            verdict = "comfortable"
        elif ratio <= 1:
            verdict = "realistic"
        elif ratio <= 2:
            verdict = "ambitious, needs intervention"
        else:
            verdict = "stretch, well beyond history"
    best_signed = sign * best
    i, j = best_pair
    a, b = _ordinal_to_label(int(m[i])), _ordinal_to_label(int(m[j]))
    moved = "gained" if best_signed >= 0 else "lost"
    message = (
        f"needs {required:+.1f} pts/month for {goal.deadline_months} months; history's best "
        f"{w}-month run ({a} to {b}) {moved} {abs(best_signed):.1f} pts/month: {verdict}"
    )
    return RealismCheck(required, best_signed, w, a, b, ratio, verdict, message)
