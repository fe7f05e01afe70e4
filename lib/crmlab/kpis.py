"""The KPI dashboard of a case: each KPI's actual value over a recent window against its target.

Definitions (retail):
- CSAT: share of 4-5 ratings (1-5 scale) in the latest survey wave.
- NPS: % promoters (9-10) - % detractors (0-6) in the latest wave, -100..100.
- Repeat-purchase rate: share of customers buying in the window who bought on 2+ days.
- Spend per customer: net spend (returns subtracted) per buying customer in the window, currency.

A *purchase* is a transaction row with amount >= 0, a *return* one with amount < 0 (as in
:mod:`crmlab.features`). A *buying customer* (buyer) of a window made a purchase in it; a day
with only returns is not a purchase day, and a customer with only returns in the window is not a
buyer (the returns still subtract from the window's net spend: it is the spend the shop kept).
- Complaint rate: complaints in the window per 100 customers on file.
- Resolution time: mean days to resolve the complaints resolved in the window.

A KPI that cannot be measured on the data (nobody bought in the window, no resolved complaint) or
whose target cannot be set from it (the spend target needs the same months a year earlier, so
about 18 months of transactions with the default six-month window) is left off the dashboard;
the board's ``attrs["left_out"]`` says why, KPI by KPI, for the reader.

The transaction KPIs need only a tiny *transaction summary* (:func:`transaction_summary`): per
window, the purchases and returns, the buying customers, those who bought on 2+ days and the
net spend. The case computes it where the transactions live
(:func:`crmlab.engine.transaction_summary` in DuckDB or Spark, or this module's pandas function,
the reference) and the dashboard reads the summary, never the rows.
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
YEAR_EARLIER_GRACE_DAYS = 7
"""The transactions cover the year-earlier window of the spend target when they start at most
this many days after its first day (a chain's export may begin on its first day with a sale)."""

SUMMARY_COLUMNS = [
    "window",
    "start",
    "end",
    "n_transactions",
    "n_returns",
    "buyers",
    "repeat_buyers",
    "net_spend",
    "first_date",
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
    """Net spend (all amounts, returns subtracted) per distinct buying customer (one with a
    purchase, amount >= 0, among the rows), in currency units."""
    buyers = transactions.loc[transactions["amount"] >= 0, "customer_id"].nunique()
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
    ``end``, ``n_transactions`` (purchase rows, amount >= 0: the customer features'
    ``n_transactions``), ``n_returns`` (return rows, amount < 0), ``buyers`` (distinct
    customers with a purchase in the window), ``repeat_buyers`` (of them, those with purchases
    on 2+ distinct calendar days; return days do not count), ``net_spend`` (sum of all amounts,
    returns subtracted, currency), ``first_date`` and ``last_date`` (earliest and latest date
    of a purchase or return: how far the data reach; NaT if none).
    :func:`crmlab.engine.transaction_summary` computes the same table in the engine.
    """
    rows = []
    for name, (start, end) in summary_windows(as_of, window_months).items():
        d = transactions["date"]
        keep = d < end if pd.isna(start) else (d >= start) & (d < end)
        t = transactions[keep]
        bought = t[t["amount"] >= 0]
        days = pd.DataFrame({"c": bought["customer_id"], "d": bought["date"].dt.normalize()})
        per_customer = days.drop_duplicates().groupby("c").size()
        rows.append(
            {
                "window": name,
                "start": start,
                "end": end,
                "n_transactions": len(bought),
                "n_returns": int((t["amount"] < 0).sum()),
                "buyers": int(bought["customer_id"].nunique()),
                "repeat_buyers": int((per_customer >= 2).sum()),
                "net_spend": float(t["amount"].sum()),
                "first_date": t["date"].min() if len(t) else pd.NaT,
                "last_date": t["date"].max() if len(t) else pd.NaT,
            }
        )
    return summary_frame(rows)


def summary_frame(rows) -> pd.DataFrame:
    """A transaction summary with the dtypes of :func:`transaction_summary`. ``net_spend`` is
    rounded to 1e-6 currency units: a float sum depends in its last bits on the order the rows
    are added in (file format, engine threads), the rounded figure does not."""
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for c in ("start", "end", "first_date", "last_date"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    for c in ("n_transactions", "n_returns", "buyers", "repeat_buyers"):
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


def _day(ts) -> str:
    return f"{pd.Timestamp(ts):%Y-%m-%d}"


def spend_target(
    summary: pd.DataFrame, spend_growth: float, window_months: int = WINDOW_MONTHS
) -> tuple[float | None, str | None]:
    """The spend-per-customer target from a transaction summary: spend per buying customer in
    the same months a year earlier x (1 + ``spend_growth``) - spend is seasonal (December peak).

    Returns ``(target, None)``, or ``(None, why)`` when the data cannot set it: the
    transactions do not cover those months (they start more than
    :data:`YEAR_EARLIER_GRACE_DAYS` days after the months' first day: fewer months would give
    a lower spend per customer and an easy target), nobody bought in them, or their net spend
    is not above 0. ``why`` is a sentence for the reader with what to do.
    """
    before = _window_row(summary, "year_earlier")
    start, end = pd.Timestamp(before["start"]), pd.Timestamp(before["end"])
    months = (
        f"the same {window_months} months a year earlier ({_day(start)} to "
        f"{_day(end - pd.Timedelta(days=1))})"
    )
    first = _window_row(summary, "all").get("first_date", pd.NaT)
    how = f"Give transactions from {_day(start)} on to set it (the other KPIs do not need them)."
    if not pd.isna(first) and pd.Timestamp(first) > start + pd.Timedelta(
        days=YEAR_EARLIER_GRACE_DAYS
    ):
        return None, (
            f"its target is the spend per customer of {months} plus "
            f"{100 * spend_growth:g}%, and the transactions start only on {_day(first)}. " + how
        )
    if not before["buyers"]:
        return None, (
            f"its target is the spend per customer of {months} plus {100 * spend_growth:g}%, "
            "and nobody bought in those months. " + how
        )
    target = _spend(before) * (1 + spend_growth)
    if not target > 0:
        return None, (
            f"its target would be the spend per customer of {months} plus "
            f"{100 * spend_growth:g}%, and the net spend of those months is not above 0 "
            "(returns outweigh purchases)."
        )
    return target, None


def _unmeasured(kpi: str, summary: pd.DataFrame | None, window_months: int) -> str:
    """Why a KPI has no value (its actual is missing or below 0), for the reader."""
    if kpi in ("Repeat-purchase rate", "Spend per customer") and summary is not None:
        recent, every = _window_row(summary, "recent"), _window_row(summary, "all")
        if not recent["buyers"]:
            last, returns = every["last_date"], int(recent.get("n_returns", 0))
            ends = "" if pd.isna(last) else f": the transactions end on {_day(last)}"
            if returns:  # a return is not a purchase: the window holds returns only
                ends = f": it holds only {returns:,} return(s) (negative amounts)"
            return (
                f"nobody bought in the last {window_months} months ({_day(recent['start'])} to "
                f"{_day(pd.Timestamp(recent['end']) - pd.Timedelta(days=1))}){ends}."
            )
        if kpi == "Spend per customer":
            return (
                f"the net spend of the last {window_months} months is below 0 "
                "(returns outweigh purchases)."
            )
    if kpi == "Days to resolve":
        return f"no complaint received in the last {window_months} months was resolved."
    if kpi in ("CSAT", "NPS"):
        return "the latest survey wave has no valid answer to its question."
    return "it cannot be measured on this data."


def last_purchase_month(summary: pd.DataFrame) -> str | None:
    """Month (``"2026-10"``) of the last transaction in a transaction summary, else None."""
    last = _window_row(summary, "all")["last_date"]
    return None if pd.isna(last) else str(pd.Timestamp(last).to_period("M"))


def measurable_kpis(
    tables: dict, spend_growth: float | None = None, tx_summary: pd.DataFrame | None = None
) -> list[str]:
    """The KPIs :func:`retail_kpis` puts on the dashboard for these ``tables`` (and
    ``tx_summary``) when every target is given: each one the data measure, with "Spend per
    customer" only where its target can be set from last year (``spend_growth``) - what a
    dashboard of these data must show (the workshop's check of exercise 5.1)."""
    given = dict.fromkeys([k for k in KPI_UNITS if k != "Spend per customer"], 1.0)
    board = retail_kpis(tables, given, spend_growth=spend_growth, tx_summary=tx_summary)
    return list(board["kpi"])


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

    A KPI with a target that cannot be measured (no buyer in the window, no resolved complaint,
    a negative net spend) or whose spend target the data cannot set (:func:`spend_target`) is
    left out; ``board.attrs["left_out"]`` maps each such KPI's name to a sentence saying why
    (empty when none is).
    """
    if as_of is None and tx_summary is not None:
        as_of = _window_row(tx_summary, "recent")["end"]
    if as_of is None:
        as_of = data_as_of(tables)
    rows = []
    left_out: dict[str, str] = {}
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
            spend, why = spend_target(tx_summary, spend_growth, window_months)
            if why is None:
                targets = {**targets, "Spend per customer": spend}
            elif recent["buyers"]:
                from crmlab.narrative import currency

                left_out["Spend per customer"] = (
                    f"it was {currency()} {_spend(recent):,.2f} per buying customer in the last "
                    f"{window_months} months, but {why}"
                )
            else:  # nothing to measure either: said as such below
                targets = {**targets, "Spend per customer": float("nan")}
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
    actual = pd.to_numeric(kpis["actual"], errors="coerce")
    for kpi in kpis.loc[~(actual >= 0), "kpi"]:
        left_out[kpi] = _unmeasured(kpi, tx_summary, window_months)
    kpis = kpis[actual >= 0]
    kpis["target"] = kpis["kpi"].map(targets).astype(float)
    board = metrics.kpi_scorecard(kpis[["kpi", "actual", "target", "higher_is_better"]])
    board["unit"] = kpis["unit"].to_numpy()
    board.insert(0, "key", [kpi_key(k) for k in board["kpi"]])
    board.attrs["left_out"] = left_out
    return board


def kpi_key(name: str) -> str:
    """Short identifier of a KPI for results.json: 'Days to resolve' -> 'days_to_resolve'."""
    import re

    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
