"""Charts of the retail satisfaction case: trend, goal path, drivers, priority matrix, pilot, KPIs.

Each function takes data (the output of a ``crmlab`` function) and an optional ``ax``, draws one
chart and returns the matplotlib Axes. Nothing is shown or saved here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from crmlab.charts._common import axes as _axes
from crmlab.charts._common import need_columns as _need
from crmlab.goals import month_ordinals

__all__ = [
    "plot_csat_trend",
    "plot_driver_importance",
    "plot_goal_path",
    "plot_kpi_dashboard",
    "plot_pilot",
    "plot_priority_matrix",
    "plot_projection",
]

_TARGET_COLOR = "tab:red"


def _month_axis(ax, ordinals: np.ndarray, max_ticks: int = 12) -> None:
    ticks = np.unique(ordinals)
    step = max(1, int(np.ceil(len(ticks) / max_ticks)))
    ticks = ticks[::step]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{o // 12:04d}-{o % 12 + 1:02d}" for o in ticks], rotation=45, ha="right")


def plot_csat_trend(
    by_wave_df: pd.DataFrame,
    target: float | None = None,
    ax=None,
    wave_col: str = "wave",
    value_col: str = "rate",
    title: str = "CSAT by survey wave",
    satisfied: str = "4-5",
):
    """CSAT per wave with its confidence band and an optional target line.

    Parameters
    ----------
    by_wave_df : DataFrame
        Output of :func:`crmlab.metrics.by_wave` (``wave``, ``rate``, ``low``, ``high``).
    target : float, optional
        Goal level, drawn as a dashed horizontal line.
    satisfied : str
        The satisfied ratings, as the legend names them: "4-5" on the 1-5 question, the run's
        measure otherwise (``crmlab.metrics.measure_text(measure, "satisfied")``: "7+ on 1-10").

    Returns
    -------
    matplotlib Axes
        One line for the rate (plus one for the target), one band for the interval.
    """
    _need(by_wave_df, [wave_col, value_col, "low", "high"], "plot_csat_trend")
    ax = _axes(ax)
    d = by_wave_df.sort_values(wave_col)
    x = np.arange(len(d))
    ax.fill_between(x, d["low"], d["high"], alpha=0.25, label="95% interval")
    ax.plot(x, d[value_col], marker="o", label=f"CSAT (share rating {satisfied})")
    if target is not None:
        ax.axhline(target, color=_TARGET_COLOR, linestyle="--", label=f"target {target:.0%}")
    step = max(1, int(np.ceil(len(x) / 12)))
    ax.set_xticks(x[::step])
    ax.set_xticklabels(d[wave_col].astype(str).to_numpy()[::step], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("Survey wave")
    ax.set_ylabel("Satisfied customers")
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


def plot_goal_path(
    history: pd.DataFrame,
    path: pd.DataFrame,
    ax=None,
    period_col: str = "wave",
    value_col: str = "rate",
    percent: bool = True,
    title: str = "Goal path against history",
):
    """History of the metric and the straight-line path from baseline to target.

    Parameters
    ----------
    history : DataFrame
        Period and value columns (e.g. :func:`crmlab.metrics.by_wave`).
    path : DataFrame
        :meth:`crmlab.goals.SmartGoal.monthly_path` (``month``, ``target_value``).
    percent : bool
        Format the y axis as a percentage (for shares; False for NPS points).

    Returns
    -------
    matplotlib Axes
        Two lines: history and goal path.
    """
    _need(history, [period_col, value_col], "plot_goal_path history")
    _need(path, ["month", "target_value"], "plot_goal_path path")
    ax = _axes(ax)
    h = history.assign(_x=month_ordinals(history[period_col])).sort_values("_x")
    p = path.assign(_x=month_ordinals(path["month"])).sort_values("_x")
    ax.plot(h["_x"], h[value_col], marker="o", label="actual")
    ax.plot(
        p["_x"],
        p["target_value"],
        linestyle="--",
        color=_TARGET_COLOR,
        marker=".",
        label="goal path",
    )
    _month_axis(ax, np.concatenate([h["_x"].to_numpy(), p["_x"].to_numpy()]))
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("Month")
    ax.set_ylabel(str(value_col).replace("_", " "))
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


def plot_driver_importance(
    importance_with_ci, ax=None, value_col: str = "lmg", title: str = "Key drivers of satisfaction"
):
    """Horizontal bars of driver importance, with interval whiskers when available.

    Parameters
    ----------
    importance_with_ci : DataFrame or Series
        :func:`crmlab.drivers.lmg_bootstrap` (``lmg``, ``low``, ``high``) or a Series from
        :func:`crmlab.drivers.lmg_importance`. Index = driver.

    Returns
    -------
    matplotlib Axes
        One bar per driver, most important on top.
    """
    d = importance_with_ci
    if isinstance(d, pd.Series):
        d = d.to_frame(value_col)
    _need(d, [value_col], "plot_driver_importance")
    ax = _axes(ax)
    d = d.sort_values(value_col)
    y = np.arange(len(d))
    xerr = None
    if {"low", "high"} <= set(d.columns):
        xerr = np.vstack([d[value_col] - d["low"], d["high"] - d[value_col]]).clip(min=0)
    ax.barh(y, d[value_col], xerr=xerr, capsize=3, color="tab:blue")
    ax.set_yticks(y)
    ax.set_yticklabels([str(i).replace("_", " ") for i in d.index])
    ax.set_xlabel("Share of R-squared (LMG)")
    ax.set_title(title)
    return ax


def plot_priority_matrix(matrix: pd.DataFrame, ax=None, title: str = "Driver priority matrix"):
    """Importance (x) against performance (y), split at the cuts into four quadrants.

    Parameters
    ----------
    matrix : DataFrame
        :func:`crmlab.drivers.priority_matrix` (``importance``, ``performance``, ``quadrant``;
        cuts in ``attrs``, medians otherwise).

    Returns
    -------
    matplotlib Axes
        One point per driver, labelled; dotted lines at the cuts.
    """
    _need(matrix, ["importance", "performance"], "plot_priority_matrix")
    ax = _axes(ax)
    i_cut = matrix.attrs.get("importance_cut", float(matrix["importance"].median()))
    p_cut = matrix.attrs.get("performance_cut", float(matrix["performance"].median()))
    colors = {
        "fix first": "tab:red",
        "keep up": "tab:green",
        "low priority": "tab:gray",
        "possible overkill": "tab:orange",
    }
    c = [colors.get(q, "tab:blue") for q in matrix.get("quadrant", pd.Series(index=matrix.index))]
    ax.scatter(matrix["importance"], matrix["performance"], c=c, s=60, zorder=3)
    labels = [
        ax.annotate(
            str(name).replace("_", " "),
            (row["importance"], row["performance"]),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
        )
        for name, row in matrix.iterrows()
    ]
    ax.margins(0.2)
    if matrix["performance"].between(0, 1).all():
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.axvline(i_cut, color="black", linestyle=":", linewidth=1)
    ax.axhline(p_cut, color="black", linestyle=":", linewidth=1)
    corners = [
        (0.98, 0.02, "fix first", "right", "bottom"),
        (0.98, 0.98, "keep up", "right", "top"),
        (0.02, 0.02, "low priority", "left", "bottom"),
        (0.02, 0.98, "possible overkill", "left", "top"),
    ]
    for x, y, label, ha, va in corners:
        ax.text(x, y, label, transform=ax.transAxes, ha=ha, va=va, color=colors[label], fontsize=9)
    ax.set_xlabel("Importance")
    ax.set_ylabel("Performance")
    ax.set_title(title)
    _separate_labels(ax, labels)
    return ax


def _separate_labels(ax, labels, gap: float = 1.0, rounds: int = 50) -> None:
    """Move point labels (annotations in offset points) apart vertically until no two overlap:
    each label that overlaps one above it goes down by the overlap (in points) plus ``gap``, in
    the order of their points' heights, so two drivers with nearly the same importance and
    performance ("checkout speed", "price value") stay readable. Positions are measured with the
    figure's renderer (each label placed anew, without drawing the whole figure every round)."""
    fig = ax.figure
    to_points = 72.0 / fig.dpi
    fig.canvas.draw()  # once: the axes' limits and layout are final
    renderer = fig.canvas.get_renderer()
    for _ in range(rounds):
        boxes = [t.get_window_extent(renderer) for t in labels]
        order = sorted(range(len(labels)), key=lambda i: -boxes[i].y1)
        moved = False
        for a_pos, a in enumerate(order):
            for b in order[a_pos + 1 :]:
                if boxes[a].overlaps(boxes[b]):
                    shift = (boxes[b].y1 - boxes[a].y0) * to_points + gap
                    x, y = labels[b].xyann
                    labels[b].xyann = (x, y - shift)
                    moved = True
        if not moved:
            return


def plot_pilot(
    rates: pd.DataFrame,
    ax=None,
    group_col: str = "treated",
    period_col: str = "wave",
    value_col: str = "rate",
    pilot_start: str | None = None,
    labels: dict | None = None,
    title: str = "Pilot: treated vs control",
):
    """Share satisfied by period, one line per arm, with a marker at the pilot start.

    Parameters
    ----------
    rates : DataFrame
        :func:`crmlab.pilot.arm_period_rates` (group, period, ``rate``, optional ``low``/``high``).
    pilot_start : str, optional
        First pilot month ("YYYY-MM"), drawn as a vertical line.
    labels : dict, optional
        Group value -> legend label; default {0: "control", 1: "treated"}.

    Returns
    -------
    matplotlib Axes
        One line per arm (plus the pilot-start line).
    """
    _need(rates, [group_col, period_col, value_col], "plot_pilot")
    labels = labels or {0: "control", 1: "treated"}
    ax = _axes(ax)
    d = rates.assign(_x=month_ordinals(rates[period_col]))
    for grp, part in d.groupby(group_col, sort=True):
        part = part.sort_values("_x")
        line = ax.plot(part["_x"], part[value_col], marker="o", label=labels.get(grp, str(grp)))[0]
        if {"low", "high"} <= set(part.columns):
            ax.fill_between(
                part["_x"], part["low"], part["high"], alpha=0.15, color=line.get_color()
            )
    if pilot_start is not None:
        x0 = month_ordinals(pd.Series([pilot_start], name="pilot_start"))[0]
        ax.axvline(x0 - 0.5, color="black", linestyle="--", linewidth=1, label="pilot start")
    _month_axis(ax, d["_x"].to_numpy())
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("Month")
    ax.set_ylabel("Satisfied customers")
    ax.set_title(title)
    ax.legend(loc="best")
    return ax


def plot_kpi_dashboard(
    kpis: pd.DataFrame, ax=None, title: str = "KPIs against target", currency: str | None = None
):
    """Bullet-style bars: attainment of each KPI, where 100% means exactly on target.

    Parameters
    ----------
    kpis : DataFrame
        ``kpi``, ``actual``, ``target``, optional ``higher_is_better`` (see
        :func:`crmlab.metrics.kpi_scorecard`) and optional ``format`` (a Python format string per
        row, e.g. ``"{:.1%}"``) or ``unit`` (formatted by :data:`crmlab.metrics.UNIT_FORMATS`,
        as the scorecard table shows it; else ``"{:.3g}"``) for the "actual / target" labels;
        money (unit ``"currency"``) is followed by the currency ("326.63 / 366.82 CNY").
    currency : str, optional
        The currency named after money (default :func:`crmlab.narrative.currency`).

    Returns
    -------
    matplotlib Axes
        One bar per KPI (green when met, orange otherwise) and a line at 100%.
    """
    from crmlab.metrics import kpi_scorecard

    card = kpi_scorecard(kpis)
    ax = _axes(ax)
    y = np.arange(len(card))[::-1]
    colors = np.where(card["met"], "tab:green", "tab:orange")
    ax.barh(y, card["attainment"], color=colors, height=0.5)
    ax.axvline(1.0, color="black", linewidth=1.5)
    from crmlab.metrics import UNIT_FORMATS
    from crmlab.narrative import currency as default_currency

    fmts = card["format"] if "format" in card.columns else pd.Series(None, index=card.index)
    units = card["unit"] if "unit" in card.columns else pd.Series(None, index=card.index)
    for yi, (_, row), fmt, unit in zip(y, card.iterrows(), fmts, units, strict=True):
        fmt = fmt if isinstance(fmt, str) else UNIT_FORMATS.get(unit, "{:.3g}")
        money = f" {currency or default_currency()}" if unit == "currency" else ""
        ax.text(
            row["attainment"],
            yi,
            f"  {fmt.format(row['actual'])} / {fmt.format(row['target'])}{money}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y)
    ax.set_yticklabels(card["kpi"].astype(str))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlim(0, max(1.25, float(card["attainment"].max()) * 1.3))
    ax.set_xlabel("Attainment of target (100% = on target; lower-is-better KPIs inverted)")
    ax.set_title(title)
    return ax


def plot_projection(
    projection: pd.DataFrame,
    ax=None,
    percent: bool = True,
    title: str = "Projected path against the goal path",
):
    """The projected metric (:func:`crmlab.plans.projected_path`) against the goal's monthly path.

    Parameters
    ----------
    projection : DataFrame
        Columns ``month``, ``projected`` and ``goal_path``.

    Returns
    -------
    matplotlib Axes
        Two lines: projected and goal path.
    """
    _need(projection, ["month", "projected", "goal_path"], "plot_projection")
    ax = _axes(ax)
    x = month_ordinals(projection["month"])
    ax.plot(x, projection["projected"], marker="o", label="projected")
    ax.plot(x, projection["goal_path"], linestyle="--", color=_TARGET_COLOR, label="goal path")
    _month_axis(ax, x)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("Month")
    ax.set_title(title)
    ax.legend(loc="best")
    return ax
