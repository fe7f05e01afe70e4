"""The KPI dashboard of a case: each KPI's actual value over a recent window against its target.

Definitions (retail):
- CSAT: share of 4-5 ratings (1-5 scale) in the latest survey wave.
- NPS: % promoters (9-10) - % detractors (0-6) in the latest wave, -100..100.
- Repeat-purchase rate: share of customers buying in the window who bought on 2+ days.
- Spend per customer: net spend (returns subtracted) per buying customer in the window, currency.
- Complaint rate: complaints in the window per 100 customers on file.
- Resolution time: mean days to resolve the complaints resolved in the window.

The transaction KPIs need only a tiny *transaction summary* (:func:`transaction_summary`): per
window, the buying customers, those who bought on 2+ days and the net spend. The case computes it
where the transactions live (:func:`crmlab.engine.transaction_summary` in DuckDB or Spark, or this
module's pandas function, the reference) and the dashboard reads the summary, never the rows.
"""

from __future__ import annotations

import pandas as pd

from crmlab import metrics

KPI_COLUMNS = ["kpi", "actual", "target", "higher_is_better", "unit"]
KPI_UNITS: dict[str, str] = {
    "CSAT": "share",
    "NPS": "score",
    "Repeat-purchase rate": "share",
    "Spend per customer": "currency",
    "Complaints per 100 customers": "per 100",
    "Days to resolve": "days",
}
"""The unit of each retail KPI of :func:`retail_kpis` (see :data:`crmlab.metrics.UNIT_FORMATS`;
``currency``: money in the run's currency)."""
WINDOW_MONTHS = 6
"""Default KPI window: the six months before the analysis date."""

SUMMARY_COLUMNS = [
    "window",
    "start",
    "end",
    "n_transactions",
    "buyers",
    "repeat_buyers",
    "net_spend",
    "last_date",
]
"""Columns of :func:`transaction_summary`."""


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


def summary_windows(as_of, window_months: int = WINDOW_MONTHS) -> dict[str, tuple]:
    """The summary's windows ``name -> (start, end)`` (start inclusive, end exclusive).

    ``recent``: the ``window_months`` months before ``as_of``; ``year_earlier``: the same months
    a year before (spend is seasonal); ``all``: every transaction before ``as_of`` (start
    ``NaT``).
    """
    end = pd.Timestamp(as_of)
    year = end - pd.DateOffset(years=1)
    return {
        "recent": (end - pd.DateOffset(months=window_months), end),
        "year_earlier": (year - pd.DateOffset(months=window_months), year),
        "all": (pd.NaT, end),
    }


def transaction_summary(
    transactions: pd.DataFrame, as_of, window_months: int = WINDOW_MONTHS
) -> pd.DataFrame:
    """The transaction summary behind the dashboard (pandas; the reference implementation).

    ``transactions``: cleaned rows with ``customer_id``, ``date`` (datetime) and ``amount``
    (returns negative). One row per window of :func:`summary_windows`: ``window``, ``start``,
    ``end``, ``n_transactions`` (rows, returns included), ``buyers`` (distinct customers with a
    row in the window), ``repeat_buyers`` (of them, those with rows on 2+ distinct calendar
    days), ``net_spend`` (sum of amounts, currency) and ``last_date`` (latest row date, NaT if
    none). :func:`crmlab.engine.transaction_summary` computes the same table in the engine.
    """
    rows = []
    for name, (start, end) in summary_windows(as_of, window_months).items():
        d = transactions["date"]
        keep = d < end if pd.isna(start) else (d >= start) & (d < end)
        t = transactions[keep]
        days = pd.DataFrame({"c": t["customer_id"], "d": t["date"].dt.normalize()})
        per_customer = days.drop_duplicates().groupby("c").size()
        rows.append(
            {
                "window": name,
                "start": start,
                "end": end,
                "n_transactions": len(t),
                "buyers": int(t["customer_id"].nunique()),
                "repeat_buyers": int((per_customer >= 2).sum()),
                "net_spend": float(t["amount"].sum()),
                "last_date": t["date"].max() if len(t) else pd.NaT,
            }
        )
    return summary_frame(rows)


def summary_frame(rows) -> pd.DataFrame:
    """A transaction summary with the dtypes of :func:`transaction_summary`. ``net_spend`` is
    rounded to 1e-6 currency units: a float sum depends in its last bits on the order the rows
    are added in (file format, engine threads), the rounded figure does not."""
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for c in ("start", "end", "last_date"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in ("n_transactions", "buyers", "repeat_buyers"):
        out[c] = out[c].astype("int64")
    out["net_spend"] = out["net_spend"].astype("float64").round(6)
    return out


def data_as_of(tables: dict, extra_dates=()) -> pd.Timestamp:
    """The dashboard's default analysis date: the day after the latest ``date`` in the tables
    (and in ``extra_dates``, e.g. the last transaction date computed in the engine)."""
    dated = [t["date"].max() for t in tables.values() if "date" in t.columns and len(t)]
    dated += [pd.Timestamp(d) for d in extra_dates if d is not None and not pd.isna(d)]
    dated = [d for d in dated if not pd.isna(d)]
    if not dated:
        from crmlab.errors import DataError

        raise DataError("No dated rows in survey, transactions or complaints: pass as_of.")
    return max(dated) + pd.Timedelta(days=1)


def _window_row(summary: pd.DataFrame, name: str) -> pd.Series:
    rows = summary[summary["window"] == name]
    if len(rows) != 1:
        from crmlab.errors import DataError

        raise DataError(
            f"The transaction summary has no '{name}' window (see transaction_summary)."
        )
    return rows.iloc[0]


def _spend(row: pd.Series) -> float:
    return float(row["net_spend"] / row["buyers"]) if row["buyers"] else float("nan")


def last_purchase_month(summary: pd.DataFrame) -> str | None:
    """Month (``"2026-10"``) of the last transaction in a transaction summary, else None."""
    last = _window_row(summary, "all")["last_date"]
    return None if pd.isna(last) else str(pd.Timestamp(last).to_period("M"))


def retail_kpis(
    tables: dict,
    targets: dict,
    window_months: int = WINDOW_MONTHS,
    as_of: pd.Timestamp | None = None,
    spend_growth: float | None = None,
    tx_summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The retail KPI scorecard from whichever sources are present.

    ``tables``: cleaned tables (survey, transactions, complaints, customers; each optional).
    ``tx_summary``: a :func:`transaction_summary` (from pandas or the engine) used instead of a
    transactions table; its ``recent`` window end is then the default ``as_of``.
    ``targets``: KPI name -> target; KPIs without a target are left out. ``as_of`` defaults to the
    day after the latest date in the data. ``spend_growth`` (e.g. 0.05) sets the spend target to
    spend per customer in the same months a year earlier x (1 + growth) when no absolute target
    is given. NPS needs a ``recommend`` column in the survey and the resolution time needs
    ``resolved`` and ``days_to_resolve`` in complaints; without them those KPIs are left out.
    Returns :func:`crmlab.metrics.kpi_scorecard` columns plus ``key`` (identifier) and ``unit``.
    """
    if as_of is None and tx_summary is not None:
        as_of = _window_row(tx_summary, "recent")["end"]
    if as_of is None:
        as_of = data_as_of(tables)
    rows = []
    survey = tables.get("survey")
    if survey is not None:
        latest = survey[survey["wave"] == survey["wave"].max()]
        rows.append(("CSAT", metrics.csat(latest["overall_satisfaction"]), True))
        if "recommend" in latest.columns:
            rows.append(("NPS", metrics.nps(latest["recommend"]), True))
    tx = tables.get("transactions")
    if tx_summary is None and tx is not None:
        tx_summary = transaction_summary(tx, as_of, window_months)
    if tx_summary is not None:
        recent = _window_row(tx_summary, "recent")
        if pd.Timestamp(recent["end"]) != pd.Timestamp(as_of) or pd.Timestamp(
            recent["start"]
        ) != pd.Timestamp(as_of) - pd.DateOffset(months=window_months):
            from crmlab.errors import DataError

            raise DataError(
                f"The transaction summary covers {recent['start']:%Y-%m-%d} to {recent['end']:%Y-%m-%d}, "
                f"not the {window_months} months before {pd.Timestamp(as_of):%Y-%m-%d}: "
                "compute it with the same as_of and window."
            )
        repeat = recent["repeat_buyers"] / recent["buyers"] if recent["buyers"] else float("nan")
        rows.append(("Repeat-purchase rate", float(repeat), True))
        rows.append(("Spend per customer", _spend(recent), True))
        if spend_growth is not None and "Spend per customer" not in targets:
            # same months a year earlier: spend is seasonal (December peak)
            before = _window_row(tx_summary, "year_earlier")
            targets = {**targets, "Spend per customer": _spend(before) * (1 + spend_growth)}
    complaints = tables.get("complaints")
    customers = tables.get("customers")
    if complaints is not None and customers is not None:
        recent_c = window(complaints, as_of, window_months)
        rate = metrics.complaint_rate(len(recent_c), len(customers), per=100)
        rows.append(("Complaints per 100 customers", rate, False))
        if {"resolved", "days_to_resolve"} <= set(recent_c.columns):
            resolved = recent_c[recent_c["resolved"].fillna(False).astype(bool)]
            days = float(resolved["days_to_resolve"].mean())
            rows.append(("Days to resolve", days, False))
    kpis = pd.DataFrame(rows, columns=["kpi", "actual", "higher_is_better"])
    kpis["unit"] = kpis["kpi"].map(KPI_UNITS)
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
