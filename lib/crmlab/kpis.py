"""The KPI dashboard of a case: each KPI's actual value over a recent window against its target.

Definitions (retail):
- CSAT: share of 4-5 ratings (1-5 scale) in the latest survey wave.
- NPS: % promoters (9-10) - % detractors (0-6) in the latest wave, -100..100.
- Repeat-purchase rate: share of customers buying in the window who bought on 2+ days.
- Spend per customer: net spend (returns subtracted) per buying customer in the window, currency.
- Complaint rate: complaints in the window per 100 customers on file.
- Resolution time: mean days to resolve the complaints resolved in the window.
"""

from __future__ import annotations

import pandas as pd

from crmlab import metrics

KPI_COLUMNS = ["kpi", "actual", "target", "higher_is_better", "unit"]


def window(
    df: pd.DataFrame, end: pd.Timestamp, months: int, date_col: str = "date"
) -> pd.DataFrame:
    """Rows with ``date`` in the ``months`` months before ``end`` (exclusive)."""
    start = end - pd.DateOffset(months=months)
    d = df[date_col]
    return df[(d >= start) & (d < end)]


def spend_per_customer(transactions: pd.DataFrame) -> float:
    """Net spend (returns subtracted) per distinct buying customer, in currency units."""
    buyers = transactions["customer_id"].nunique()
    return float(transactions["amount"].sum() / buyers) if buyers else float("nan")


def retail_kpis(
    tables: dict,
    targets: dict,
    window_months: int = 6,
    as_of: pd.Timestamp | None = None,
    spend_growth: float | None = None,
) -> pd.DataFrame:
    """The retail KPI scorecard from whichever sources are present.

    ``tables``: cleaned tables (survey, transactions, complaints, customers; each optional).
    ``targets``: KPI name -> target; KPIs without a target are left out. ``as_of`` defaults to the
    day after the latest date in the data. ``spend_growth`` (e.g. 0.05) sets the spend target to
    spend per customer in the same months a year earlier x (1 + growth) when no absolute target is given.
    Returns :func:`crmlab.metrics.kpi_scorecard` columns
    plus ``key`` (identifier) and ``unit``.
    """
    dated = [t["date"].max() for t in tables.values() if "date" in t.columns and len(t)]
    if as_of is None:
        as_of = max(dated) + pd.Timedelta(days=1)
    rows = []
    survey = tables.get("survey")
    if survey is not None:
        latest = survey[survey["wave"] == survey["wave"].max()]
        rows.append(("CSAT", metrics.csat(latest["overall_satisfaction"]), True, "share"))
        rows.append(("NPS", metrics.nps(latest["recommend"]), True, "score"))
    tx = tables.get("transactions")
    if tx is not None:
        recent = window(tx, as_of, window_months)
        rows.append(("Repeat-purchase rate", metrics.repeat_purchase_rate(recent), True, "share"))
        rows.append(("Spend per customer", spend_per_customer(recent), True, "currency"))
        if spend_growth is not None and "Spend per customer" not in targets:
            # same months a year earlier: spend is seasonal (December peak)
            before = window(tx, as_of - pd.DateOffset(years=1), window_months)
            targets = {
                **targets,
                "Spend per customer": spend_per_customer(before) * (1 + spend_growth),
            }
    complaints = tables.get("complaints")
    customers = tables.get("customers")
    if complaints is not None and customers is not None:
        recent_c = window(complaints, as_of, window_months)
        rate = metrics.complaint_rate(len(recent_c), len(customers), per=100)
        rows.append(("Complaints per 100 customers", rate, False, "per 100"))
        resolved = recent_c[recent_c["resolved"].fillna(False).astype(bool)]
        rows.append(("Days to resolve", float(resolved["days_to_resolve"].mean()), False, "days"))
    kpis = pd.DataFrame(rows, columns=["kpi", "actual", "higher_is_better", "unit"])
    kpis = kpis[kpis["kpi"].isin(targets)].copy()
    kpis["target"] = kpis["kpi"].map(targets).astype(float)
    board = metrics.kpi_scorecard(kpis[["kpi", "actual", "target", "higher_is_better"]])
    board["unit"] = kpis["unit"].to_numpy()
    board.insert(0, "key", [kpi_key(k) for k in board["kpi"]])
    return board


def kpi_key(name: str) -> str:
    """Short identifier of a KPI for results.json: 'Days to resolve' -> 'days_to_resolve'."""
    import re

    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
