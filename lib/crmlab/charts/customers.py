"""Charts of customer-level work: segment sizes, RFM grid, Pareto curve, satisfaction, data quality.

Each function takes data (the output of a ``crmlab`` function) and an optional ``ax``, draws one
chart and returns the matplotlib Axes. Nothing is shown or saved here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from crmlab.charts._common import axes as _axes
from crmlab.charts._common import need_columns as _need
from crmlab.errors import DataError
from crmlab.narrative import value_label
from crmlab.segments import pareto_table

__all__ = [
    "plot_csat_by_segment",
    "plot_pareto_curve",
    "plot_quality_findings",
    "plot_rfm_heatmap",
    "plot_satisfaction_by_segment",
    "plot_segment_sizes",
]

_SEVERITY_COLORS = {"error": "tab:red", "warning": "tab:orange", "info": "tab:blue"}


def plot_segment_sizes(segments: pd.Series, ax=None, title: str = "Customers per segment"):
    """Horizontal bars: number of customers per segment label, with their share.

    Parameters
    ----------
    segments : Series
        One label per customer (e.g. from :func:`crmlab.segments.classify_customers`); missing
        labels are shown as ``"(none)"``. Categorical order is kept; otherwise sorted by size.
    """
    s = pd.Series(segments)
    if isinstance(s.dtype, pd.CategoricalDtype):
        counts = s.value_counts(sort=False, dropna=True)
    else:
        counts = s.astype("str").value_counts(dropna=True)
    n_missing = int(s.isna().sum())
    if n_missing:
        counts = pd.concat([counts, pd.Series({"(none)": n_missing})])
    total = counts.sum()
    ax = _axes(ax)
    y = np.arange(len(counts))
    ax.barh(y, counts.to_numpy(), color="tab:blue")
    ax.set_yticks(y)
    ax.set_yticklabels([value_label(i) for i in counts.index])  # "at_risk" -> "at risk"
    ax.invert_yaxis()
    for yi, n in zip(y, counts.to_numpy(), strict=True):
        ax.annotate(f" {n:,} ({n / total:.0%})" if total else f" {n}", (n, yi), va="center")
    ax.set_xlabel("Customers")
    ax.set_title(title)
    ax.margins(x=0.15)
    return ax


def plot_rfm_heatmap(scores: pd.DataFrame, ax=None, title: str = "Customers by R and F score"):
    """Heatmap of customer counts by recency score (rows, 5 at top) and frequency score (columns).

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`crmlab.rfm.rfm_scores` (columns ``R`` and ``F``); unscored customers are
        left out.
    """
    _need(scores, ["R", "F"], "plot_rfm_heatmap")
    d = scores[["R", "F"]].dropna().astype("int64")
    levels = range(1, int(max(d.max().max(), 5)) + 1) if len(d) else range(1, 6)
    table = pd.crosstab(d["R"], d["F"]).reindex(index=levels, columns=levels, fill_value=0)
    table = table.sort_index(ascending=False)
    ax = _axes(ax, figsize=(6, 5))
    sns.heatmap(table, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "Customers"}, ax=ax)
    ax.set_xlabel("Frequency score (5 = most purchase days)")
    ax.set_ylabel("Recency score (5 = most recent)")
    ax.set_title(title)
    return ax


def plot_pareto_curve(
    values: pd.Series,
    cutoffs=(0.8, 0.95),
    ax=None,
    title: str = "Cumulative share of value (Pareto curve)",
):
    """Cumulative share of value against cumulative share of customers, with A/B/C cut lines.

    Parameters
    ----------
    values : Series
        Value per customer (e.g. net spend); zero/negative values count as tier C.
    cutoffs : tuple
        Cumulative value shares ending tiers A and B (see :func:`crmlab.segments.value_tiers`).
    """
    t = pareto_table(values, cutoffs)
    ax = _axes(ax)
    x = np.concatenate([[0.0], t["cum_customer_share"].to_numpy()])
    y = np.concatenate([[0.0], t["cum_share"].to_numpy()])
    ax.plot(x, y, color="tab:blue", label="cumulative value")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="equal value")
    for tier, cut, color in (("A", cutoffs[0], "tab:red"), ("B", cutoffs[1], "tab:orange")):
        in_tier = t["tier"] <= tier
        share_customers = float(in_tier.mean()) if len(t) else 0.0
        ax.axhline(cut, color=color, linestyle="--", linewidth=1)
        ax.axvline(
            share_customers,
            color=color,
            linestyle="--",
            linewidth=1,
            label=f"tiers up to {tier}: {share_customers:.0%} of customers",
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Share of customers (highest value first)")
    ax.set_ylabel("Cumulative share of value")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def plot_csat_by_segment(
    table: pd.DataFrame,
    segment_col: str,
    satisfied: str = "4-5",
    waves: int = 3,
    ax=None,
    title: str | None = None,
):
    """CSAT per segment (share of satisfied answers) with its 95% interval and answer counts.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`crmlab.metrics.csat_by_segment` (``segment_col``, ``rate``, ``low``,
        ``high``, ``n``), in the order to draw.
    satisfied : str
        The satisfied ratings as the axis names them: "4-5" on the 1-5 question, the run's
        measure otherwise (``crmlab.metrics.measure_text(measure, "satisfied")``).
    waves : int
        How many of the last survey waves the table covers (for the title).

    Returns
    -------
    matplotlib Axes
        One bar per segment (height = CSAT), error bars from ``low`` to ``high``, tick labels
        with ``n`` = answers.
    """
    _need(table, [segment_col, "rate", "low", "high", "n"], "plot_csat_by_segment")
    d = table[table["n"] > 0]
    if d.empty:
        raise DataError("plot_csat_by_segment: no segment has an answer.")
    ax = _axes(ax)
    x = np.arange(len(d))
    rate = d["rate"].to_numpy(dtype=float)
    err = np.vstack([rate - d["low"].to_numpy(dtype=float), d["high"].to_numpy(dtype=float) - rate])
    ax.bar(x, rate, color="tab:blue")
    ax.errorbar(x, rate, yerr=err, fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels(
        [f"{value_label(s)}\n(n={int(n):,})" for s, n in zip(d[segment_col], d["n"], strict=True)],
        rotation=30,
        ha="right",
    )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("")
    ax.set_ylabel(f"CSAT (share rating {satisfied})")
    ax.set_title(title or f"CSAT by {value_label(segment_col)}, last {waves} survey waves")
    return ax


def plot_satisfaction_by_segment(
    features: pd.DataFrame,
    segment_col: str,
    satisfaction_col: str = "overall_satisfaction",
    ax=None,
    title: str = "Mean satisfaction by segment",
):
    """Mean satisfaction (1-5) per segment with 95% confidence intervals and respondent counts.

    Parameters
    ----------
    features : DataFrame
        Per-customer table with the segment label column and the rating column.
    """
    _need(features, [segment_col, satisfaction_col], "plot_satisfaction_by_segment")
    d = features[[segment_col, satisfaction_col]].dropna()
    if d.empty:
        raise DataError(
            f"plot_satisfaction_by_segment: no customer has both {segment_col} and "
            f"{satisfaction_col}."
        )
    ax = _axes(ax)
    order = (
        [c for c in d[segment_col].cat.categories if (d[segment_col] == c).any()]
        if isinstance(d[segment_col].dtype, pd.CategoricalDtype)
        else d[segment_col].value_counts().index.tolist()
    )
    d = d.assign(**{segment_col: d[segment_col].astype("str")})
    order = [str(o) for o in order]
    sns.barplot(
        data=d,
        x=segment_col,
        y=satisfaction_col,
        order=order,
        errorbar=("ci", 95),
        color="tab:blue",
        ax=ax,
    )
    counts = d[segment_col].value_counts()
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(
        [f"{value_label(o)}\n(n={counts.get(o, 0)})" for o in order], rotation=30, ha="right"
    )
    ax.set_ylim(1, 5)
    ax.set_xlabel("")
    ax.set_ylabel("Mean overall satisfaction (1-5)")
    ax.set_title(title)
    return ax


def plot_quality_findings(report: pd.DataFrame, ax=None, title: str = "Data-quality findings"):
    """Horizontal bars: rows affected per finding (table.column: check), colored by severity.

    Parameters
    ----------
    report : DataFrame
        Output of :func:`crmlab.quality.quality_report`.
    """
    _need(report, ["source", "column", "check", "severity", "n_rows"], "plot_quality_findings")
    ax = _axes(ax, figsize=(8, max(2.5, 0.35 * len(report) + 1)))
    if report.empty:
        ax.text(0.5, 0.5, "No findings", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return ax
    # "survey: overall satisfaction - out of range", as the findings table reads
    labels = [
        f"{source}: {value_label(column)} - {value_label(check)}"
        for source, column, check in zip(
            report["source"], report["column"], report["check"], strict=True
        )
    ]
    colors = [_SEVERITY_COLORS.get(s, "grey") for s in report["severity"]]
    y = np.arange(len(report))
    ax.barh(y, report["n_rows"].to_numpy(), color=colors)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=10)
    for sev, color in _SEVERITY_COLORS.items():
        if (report["severity"] == sev).any():
            ax.barh([np.nan], [np.nan], color=color, label=sev)
    ax.legend(title="Severity", loc="lower right")
    ax.set_xlabel("Rows affected (symmetric log scale)")
    ax.set_title(title)
    return ax
