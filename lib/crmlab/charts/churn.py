"""Charts of the churn case: cohort retention, Kaplan-Meier curves, ROC, cumulative gains,
calibration, a hazard- or odds-ratio forest plot and the targeting curve.

Each function takes the output of a ``crmlab.churn`` / ``crmlab.survival`` / ``crmlab.targeting``
function and an optional ``ax``, draws one chart and returns the matplotlib Axes. Nothing is shown
or saved here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter

from crmlab.charts._common import axes as _axes
from crmlab.charts._common import need_columns as _need
from crmlab.errors import DataError
from crmlab.narrative import currency, label

__all__ = [
    "plot_calibration",
    "plot_cohort_heatmap",
    "plot_cumulative_gains",
    "plot_hazard_ratios",
    "plot_km_curves",
    "plot_roc_curve",
    "plot_targeting_curve",
]


def plot_cohort_heatmap(
    table: pd.DataFrame,
    ax=None,
    *,
    max_k: int | None = 24,
    annot: bool = False,
    title: str = "Share of each opening cohort still open",
):
    """Heatmap of a cohort retention table (rows = opening cohort, columns = periods since).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`crmlab.churn.cohort_retention` (shares in [0, 1], NaN = not observed).
    max_k : int, optional
        Show periods 0..max_k only (None: all).
    annot : bool
        Write the percentage in each cell (readable for small tables).
    """
    if table.empty:
        raise DataError("plot_cohort_heatmap: the retention table is empty.")
    t = table if max_k is None else table.loc[:, [c for c in table.columns if int(c) <= max_k]]
    ax = _axes(ax, figsize=(11, max(3.0, 0.25 * len(t) + 1.5)))
    sns.heatmap(
        t * 100,
        ax=ax,
        cmap="YlGnBu",
        vmin=0,
        vmax=100,
        annot=annot,
        fmt=".0f",
        cbar_kws={"label": "Still open (%)"},
    )
    ax.set_xlabel(f"{t.columns.name or 'Periods'} since opening")
    ax.set_ylabel("Opening cohort")
    ax.set_title(title)
    return ax


def plot_km_curves(
    curves: pd.DataFrame,
    ax=None,
    *,
    ci: bool = True,
    max_time: float | None = None,
    title: str = "Kaplan-Meier: share of accounts still open",
    xlabel: str = "Tenure (months)",
):
    """Kaplan-Meier step curves per group, with pointwise confidence bands.

    Parameters
    ----------
    curves : DataFrame
        ``KMResult.curves`` of :func:`crmlab.survival.km_by_group` (``group``, ``time``,
        ``survival``, ``ci_low``, ``ci_high``).
    ci : bool
        Draw the pointwise confidence bands.
    max_time : float, optional
        Right end of the time axis (e.g. 120 months); default: the longest time.
    """
    _need(curves, ["group", "time", "survival"], "plot_km_curves")
    ax = _axes(ax)
    for g, d in curves.groupby("group", sort=False):
        line = ax.step(d["time"], d["survival"], where="post", label=str(g))[0]
        if ci and {"ci_low", "ci_high"} <= set(d.columns):
            ax.fill_between(
                d["time"],
                d["ci_low"].fillna(d["survival"]),
                d["ci_high"].fillna(d["survival"]),
                step="post",
                alpha=0.15,
                color=line.get_color(),
                linewidth=0,
            )
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.02)
    if max_time is not None:
        ax.set_xlim(0, max_time)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Still open")
    ax.set_title(title)
    ax.legend(title=None)
    return ax


def plot_roc_curve(
    roc: pd.DataFrame, ax=None, *, auc: float | None = None, title: str = "ROC curve"
):
    """ROC curve (true- vs false-positive rate) with the chance diagonal.

    Parameters
    ----------
    roc : DataFrame
        Output of :func:`crmlab.churn.roc_curve_table` (``fpr``, ``tpr``).
    auc : float, optional
        Shown in the legend (e.g. ``evaluate_scores(y, p)["auc"]``).
    """
    _need(roc, ["fpr", "tpr"], "plot_roc_curve")
    ax = _axes(ax, figsize=(5.5, 5))
    label = "Model" if auc is None else f"Model (AUC = {auc:.3f})"
    ax.plot(roc["fpr"], roc["tpr"], label=label, color="tab:blue")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="Chance (AUC = 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("False-positive rate (non-churners flagged)")
    ax.set_ylabel("True-positive rate (churners flagged)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def plot_cumulative_gains(
    lift: pd.DataFrame,
    ax=None,
    *,
    title: str = "Cumulative gains: churners found by contacting the top",
):
    """Cumulative gains: share of all churners found vs share of customers contacted.

    Parameters
    ----------
    lift : DataFrame
        Output of :func:`crmlab.churn.lift_table` (``cum_share_customers``, ``cum_gain``,
        ``cum_lift``).
    """
    _need(lift, ["cum_share_customers", "cum_gain"], "plot_cumulative_gains")
    ax = _axes(ax, figsize=(6, 5))
    x = np.r_[0.0, lift["cum_share_customers"].to_numpy()]
    y = np.r_[0.0, lift["cum_gain"].to_numpy()]
    ax.plot(x, y, marker="o", label="Model", color="tab:blue")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="Random order")
    if "cum_lift" in lift.columns and len(lift) > 1:
        first = lift.iloc[0]
        ax.annotate(
            f"top {first['cum_share_customers']:.0%}: {first['cum_gain']:.0%} of churners "
            f"(lift {first['cum_lift']:.1f})",
            (first["cum_share_customers"], first["cum_gain"]),
            textcoords="offset points",
            xytext=(10, -15),
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Customers contacted (highest scores first)")
    ax.set_ylabel("Churners reached")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return ax


def plot_calibration(
    calib: pd.DataFrame, ax=None, *, title: str = "Calibration: predicted vs observed churn"
):
    """Observed churn rate (with its confidence interval) against the mean predicted probability.

    Parameters
    ----------
    calib : DataFrame
        Output of :func:`crmlab.churn.calibration_table`.
    """
    _need(calib, ["mean_predicted", "observed_rate"], "plot_calibration")
    ax = _axes(ax, figsize=(5.5, 5))
    x, y = calib["mean_predicted"].to_numpy(), calib["observed_rate"].to_numpy()
    if {"ci_low", "ci_high"} <= set(calib.columns):
        yerr = np.vstack([y - calib["ci_low"].to_numpy(), calib["ci_high"].to_numpy() - y])
        ax.errorbar(x, y, yerr=yerr, fmt="o", capsize=3, label="Observed (95% CI)")
    else:
        ax.plot(x, y, "o", label="Observed")
    top = float(max(np.nanmax(x), np.nanmax(calib.get("ci_high", calib["observed_rate"])))) * 1.05
    top = min(max(top, 0.05), 1.0)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="Perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Mean predicted churn probability")
    ax.set_ylabel("Observed churn rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_hazard_ratios(
    table: pd.DataFrame,
    ax=None,
    *,
    truth: Mapping[str, float] | None = None,
    title: str | None = None,
):
    """Forest plot of hazard ratios (Cox) or odds ratios (logit) with confidence intervals.

    Parameters
    ----------
    table : DataFrame
        ``CoxFit.table`` (``covariate``, ``hazard_ratio``) or ``ChurnLogit.table`` (``feature``,
        ``odds_ratio``), with ``ci_low`` and ``ci_high``.
    truth : mapping, optional
        Planted ratios by name (e.g. ``truth.json["hazard_ratios"]``), drawn as red crosses.
    """
    name = "covariate" if "covariate" in table.columns else "feature"
    ratio = "hazard_ratio" if "hazard_ratio" in table.columns else "odds_ratio"
    _need(table, [name, ratio, "ci_low", "ci_high"], "plot_hazard_ratios")
    ax = _axes(ax, figsize=(7, 0.45 * len(table) + 1.5))
    y = np.arange(len(table))[::-1]
    r = table[ratio].to_numpy()
    ax.errorbar(
        r,
        y,
        xerr=np.vstack([r - table["ci_low"].to_numpy(), table["ci_high"].to_numpy() - r]),
        fmt="o",
        capsize=3,
        color="tab:blue",
        label="Estimate (95% CI)",
    )
    if truth:
        known = [(yi, truth[n]) for yi, n in zip(y, table[name], strict=True) if n in truth]
        if known:
            ax.plot(
                [k[1] for k in known], [k[0] for k in known], "x", color="tab:red", label="Planted"
            )
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    span = np.nanmax(table["ci_high"].to_numpy()) / np.nanmin(table["ci_low"].to_numpy())
    if np.isfinite(span) and span < 10:  # label minor ticks only within about one decade
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis="x", which="minor", labelsize=7)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels([label(n) for n in table[name].astype("str")])  # as the tables read
    kind = "Hazard ratio" if ratio == "hazard_ratio" else "Odds ratio"
    ax.set_xlabel(f"{kind} (log scale; < 1 lowers churn)")
    ax.set_title(title or f"{kind}s of churn")
    ax.legend(loc="best")
    return ax


def plot_targeting_curve(
    curve: pd.DataFrame,
    ax=None,
    *,
    title: str = "Targeting: churners reached and net value by share contacted",
):
    """Share of expected churners reached (left axis) and net value (right axis, if costed)
    against the share of customers contacted.

    Parameters
    ----------
    curve : DataFrame
        Output of :func:`crmlab.targeting.targeting_curve`.
    """
    _need(curve, ["contact_share", "share_of_expected_churners"], "plot_targeting_curve")
    ax = _axes(ax)
    x = np.r_[0.0, curve["contact_share"].to_numpy()]
    ax.plot(
        x,
        np.r_[0.0, curve["share_of_expected_churners"].to_numpy()],
        marker="o",
        color="tab:blue",
        label="Expected churners reached",
    )
    if "share_of_churners_reached" in curve.columns:
        ax.plot(
            x,
            np.r_[0.0, curve["share_of_churners_reached"].to_numpy()],
            marker=".",
            linestyle=":",
            color="tab:green",
            label="Observed churners reached",
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="Random order")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("Customers contacted (ranked)")
    ax.set_ylabel("Share of churners reached")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    handles, labels = ax.get_legend_handles_labels()
    if "net_value" in curve.columns and curve["net_value"].abs().sum() > 0:
        ax2 = ax.twinx()
        ax2.plot(
            x, np.r_[0.0, curve["net_value"].to_numpy()], color="tab:orange", label="Net value"
        )
        best = curve.loc[curve["net_value"].idxmax()]
        ax2.axvline(best["contact_share"], color="tab:orange", linestyle=":", linewidth=1)
        ax2.set_ylabel(f"Net value (value saved - cost), {currency()}")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="lower right")
    ax.set_title(title)
    return ax
