"""Key charts re-drawn from a finished run, for reports in languages other than English.

The stage notebooks draw their charts in English; a PNG cannot be relabelled. For a Chinese report
:mod:`crmlab.report` re-draws the key charts of each stage from the run's artifacts and recorded
figures with the same chart functions, then translates their texts (:func:`crmlab.i18n.
localize_axes`) with the CJK font active (:func:`crmlab.i18n.chart_style`). A case's spec names
the charts per stage (``charts_zh:``); each name is a function here taking a
:class:`crmlab.rundir.Run` and returning the Axes, or ``None`` when the run lacks the inputs (the
report then simply leaves that chart out).

Generic charts (any case recording the same figures): ``kpi_dashboard`` (``kpi.<name>`` =
``{actual, target, met}``) and ``projection`` (``goal.*`` and ``pilot.effect``).
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable

import pandas as pd

from crmlab import i18n
from crmlab.rundir import Run

__all__ = ["CHARTS", "render_png"]


def csat_trend(run: Run):
    """CSAT by survey wave with its interval and the target (survey artifact)."""
    if not run.has_artifact("survey"):
        return None
    from crmlab import metrics
    from crmlab.charts import satisfaction

    history = metrics.by_wave(run.artifact("survey"), metric="csat", alpha=run.param("alpha", 0.05))
    satisfied = metrics.measure_text(metrics.measure_from_results(run.results), "satisfied")
    return satisfaction.plot_csat_trend(history, target=run.param("target"), satisfied=satisfied)


def segment_sizes(run: Run, table: str = "segments", column: str = "customer_class"):
    """Customers per segment (default: the ``segments`` artifact's ``customer_class``); a
    category no customer of the table is in (the finance stage "churned" among today's open
    customers) is left out, as the stage's chart leaves it out."""
    if not run.has_artifact(table):
        return None
    seg = run.artifact(table)
    if column not in seg.columns:
        return None
    from crmlab.charts import customers

    labels = seg[column]
    if isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.cat.remove_unused_categories()
    return customers.plot_segment_sizes(labels)


def pareto_curve(run: Run):
    """Cumulative share of value by share of customers (segments artifact, ``monetary``)."""
    if not run.has_artifact("segments"):
        return None
    seg = run.artifact("segments")
    if "monetary" not in seg.columns:
        return None
    from crmlab.charts import customers

    return customers.plot_pareto_curve(seg["monetary"])


def driver_importance(run: Run):
    """LMG importance of the satisfaction drivers with bootstrap intervals."""
    if not run.has_artifact("driver_importance"):
        return None
    from crmlab.charts import satisfaction

    return satisfaction.plot_driver_importance(run.artifact("driver_importance"))


def pilot_rates(run: Run):
    """Share satisfied by month in pilot and control stores (survey and pilot artifacts)."""
    if not (run.has_artifact("survey") and run.has_artifact("pilot")):
        return None
    from crmlab import metrics, pilot
    from crmlab.charts import satisfaction

    survey = run.artifact("survey")
    design = pilot.design_from_table(run.artifact("pilot"), survey["wave"].unique())
    survey["satisfied"] = metrics.is_satisfied(survey["overall_satisfaction"])
    units = list(design.treated_units) + list(design.control_units)
    in_pilot = survey[survey["store_id"].isin(units)]
    panel = pilot.add_did_indicators(
        in_pilot[in_pilot["wave"].isin(design.pre_periods + design.pilot_periods)],
        list(design.treated_units),
        design.pilot_start,
    )
    rates = pilot.arm_period_rates(panel, alpha=run.param("alpha", 0.05))
    return satisfaction.plot_pilot(rates, pilot_start=design.pilot_start)


def kpi_board(results: dict) -> pd.DataFrame:
    """KPI rows from recorded ``kpi.<name>`` figures (``{actual, target, met}``).

    The direction is not recorded but follows from the definition of ``met``: a higher-is-better
    KPI is met when ``actual >= target``, a lower-is-better one when ``actual <= target``; so a
    met KPI above its target and an unmet one below it are higher-is-better. (A met KPI exactly
    on target is shown as higher-is-better; its attainment is 100% either way.)
    """
    rows = []
    for key, value in results.items():
        if (
            key.startswith("kpi.")
            and isinstance(value, dict)
            and {"actual", "target"} <= set(value)
        ):
            if value["actual"] is None or value["target"] is None:
                continue
            met = bool(value.get("met"))
            higher = (
                value["actual"] >= value["target"] if met else value["actual"] < value["target"]
            )
            rows.append((key[4:], value["actual"], value["target"], bool(higher)))
    board = pd.DataFrame(rows, columns=["kpi", "actual", "target", "higher_is_better"])
    units = _kpi_units()
    board["unit"] = [units.get(k) for k in board["kpi"]]  # missing: unknown unit
    return board


def _kpi_units() -> dict[str, str]:
    """Recorded KPI key (``spend_per_customer``, ``churn_rate_12m``) -> its unit: the retail
    KPIs of :data:`crmlab.kpis.KPI_UNITS` and the churn KPIs of :mod:`crmlab.churn`."""
    from crmlab import churn, kpis

    units = {kpis.kpi_key(name): unit for name, unit in kpis.KPI_UNITS.items()}
    return units | {k: v[2] for k, v in {**churn.CHURN_KPIS, **churn.FLAG_KPIS}.items()}


def kpi_dashboard(run: Run, lang: str = "en"):
    """KPIs against target, from the recorded ``kpi.*`` figures, each labelled in its unit
    (a share as "80.0% / 90.0%", money with the run's currency, in Chinese by its Chinese
    name: "326.63 / 366.82 元")."""
    board = kpi_board(run.results)
    if board.empty:
        return None
    from crmlab import casespec
    from crmlab.charts import satisfaction

    return satisfaction.plot_kpi_dashboard(board, currency=casespec.currency(run.results, lang))


def projection(run: Run):
    """The projected path the run recorded - from the goal's baseline to ``plan.projected_end``
    (retail: the pilot's effect; finance: the campaign's expected saves), phased in linearly
    over the deadline as stage 5 projects it - against the straight goal path."""
    r = run.results
    need = ("goal.baseline", "goal.target", "goal.start", "goal.deadline_months")
    if any(r.get(k) is None for k in (*need, "plan.projected_end")):
        return None
    from crmlab import plans
    from crmlab.charts import satisfaction

    months = int(r["goal.deadline_months"])
    effect = r["plan.projected_end"] - r["goal.baseline"]
    path = plans.projected_path(r["goal.baseline"], effect, r["goal.start"], months)
    step = (r["goal.target"] - r["goal.baseline"]) / months
    path["goal_path"] = r["goal.baseline"] + step * path["months_from_start"]
    return satisfaction.plot_projection(path)


#: Chart name (as used in a case spec's ``charts_zh:``) -> function of a Run.
CHARTS: dict[str, Callable] = {
    "csat_trend": csat_trend,
    "segment_sizes": segment_sizes,
    "pareto_curve": pareto_curve,
    "driver_importance": driver_importance,
    "pilot_rates": pilot_rates,
    "kpi_dashboard": kpi_dashboard,
    "projection": projection,
}


def render_png(
    run: Run, name: str, lang: str = "zh", dpi: int = 100, **options
) -> tuple[bytes, str] | None:
    """Draw chart ``name`` of ``run`` with its texts in ``lang``; returns ``(png, title)`` or
    ``None`` when the run lacks its inputs. ``options`` go to the chart function (a spec may
    write ``{segment_sizes: {table: scored, column: stage}}``). Unknown names raise
    ``KeyError`` listing the known ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if name not in CHARTS:
        raise KeyError(f"Unknown report chart '{name}'; known: {', '.join(CHARTS)}.")
    with i18n.chart_style(lang):
        draw = CHARTS[name]
        if "lang" in inspect.signature(draw).parameters:  # texts it writes itself (units)
            options = {"lang": lang, **options}
        ax = draw(run, **options)
        if ax is None:
            return None
        try:
            i18n.localize_axes(ax, lang)
            fig = ax.figure
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
            return buf.getvalue(), ax.get_title()
        finally:
            plt.close(ax.figure)
