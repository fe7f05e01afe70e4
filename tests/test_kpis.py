"""KPI dashboard on a hand-made shop: every actual value is counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlab import kpis
from crmlab.errors import DataError


@pytest.fixture
def shop():
    d = pd.to_datetime
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "c", "a"],
            "date": d(
                [
                    "2026-05-03",
                    "2026-06-10",
                    "2026-06-11",
                    "2026-07-01",
                    "2026-07-01",
                    "2026-09-30",
                    "2025-04-03",  # a year earlier: only in the spend baseline (the data
                    # start 2 days into those months: they count as covered)
                ]
            ),
            "amount": [100.0, 50.0, 30.0, 20.0, -10.0, 40.0, 60.0],
        }
    )
    survey = pd.DataFrame(
        {
            "wave": ["2026-08"] * 2 + ["2026-09"] * 5,
            "overall_satisfaction": [1, 1, 5, 4, 3, 2, 5],
            "recommend": [0, 0, 10, 9, 8, 3, 6],
            "date": d(["2026-08-15"] * 2 + ["2026-09-15"] * 5),
        }
    )
    complaints = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "date": d(["2026-06-01", "2026-07-01", "2025-01-01"]),
            "resolved": [True, False, True],
            "days_to_resolve": [4.0, None, 10.0],
        }
    )
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"]})
    return {
        "transactions": transactions,
        "survey": survey,
        "complaints": complaints,
        "customers": customers,
    }


TARGETS = {
    "CSAT": 0.9,
    "NPS": 20.0,
    "Repeat-purchase rate": 0.5,
    "Complaints per 100 customers": 30.0,
    "Days to resolve": 3.0,
}


def test_retail_kpis_by_hand(shop):
    board = kpis.retail_kpis(shop, TARGETS, window_months=6, spend_growth=0.1).set_index("key")
    # as_of = 2026-10-01 (day after the last date); window 2026-04-01 .. 2026-09-30
    assert board.loc["csat", "actual"] == pytest.approx(3 / 5)  # latest wave: 5, 4 of 5 answers
    assert board.loc["nps", "actual"] == pytest.approx(100 * (2 - 2) / 5)  # 10, 9 vs 3, 6
    # buyers a (2 days), b (1 day), c (2 days: 07-01 and 09-30) -> 2 of 3
    assert board.loc["repeat_purchase_rate", "actual"] == pytest.approx(2 / 3)
    # net spend 100+50+30+20-10+40 = 230 over 3 buyers
    assert board.loc["spend_per_customer", "actual"] == pytest.approx(230 / 3)
    # a year earlier (2025-04-01 .. 2025-09-30): 60 by one buyer -> target 66
    assert board.loc["spend_per_customer", "target"] == pytest.approx(66.0)
    # complaints in window: 2 per 4 customers = 50 per 100; resolved: one, 4 days
    assert board.loc["complaints_per_100_customers", "actual"] == pytest.approx(50.0)
    assert board.loc["days_to_resolve", "actual"] == pytest.approx(4.0)
    assert not board.loc["complaints_per_100_customers", "met"]  # lower is better, 50 > 30
    assert not board.loc["csat", "met"] and not board.loc["nps", "met"]


def test_missing_sources_drop_their_kpis(shop):
    board = kpis.retail_kpis({"survey": shop["survey"]}, TARGETS)
    assert list(board["key"]) == ["csat", "nps"]


def test_kpi_key():
    assert kpis.kpi_key("Complaints per 100 customers") == "complaints_per_100_customers"


def test_transaction_summary_by_hand(shop):
    s = kpis.transaction_summary(shop["transactions"], pd.Timestamp("2026-10-01"))
    s = s.set_index("window")
    assert s.loc["recent", "start"] == pd.Timestamp("2026-04-01")
    assert s.loc["year_earlier", "end"] == pd.Timestamp("2025-10-01")
    # recent: 6 rows of a, b, c; a and c bought on 2+ days; 100+50+30+20-10+40
    assert s.loc["recent", ["n_transactions", "buyers", "repeat_buyers"]].tolist() == [6, 3, 2]
    assert s.loc["recent", "net_spend"] == pytest.approx(230.0)
    assert s.loc["year_earlier", ["n_transactions", "buyers", "repeat_buyers"]].tolist() == [
        1,
        1,
        0,
    ]
    assert s.loc["all", ["n_transactions", "buyers", "net_spend"]].tolist() == [7, 3, 290.0]
    assert s.loc["all", "last_date"] == pd.Timestamp("2026-09-30")
    assert s.loc["all", "first_date"] == pd.Timestamp("2025-04-03")
    assert s.loc["recent", "first_date"] == pd.Timestamp("2026-05-03")
    assert kpis.last_purchase_month(s.reset_index()) == "2026-09"


@pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option")
def test_engine_summary_equals_the_pandas_reference(shop):
    import ibis

    from crmlab import engine

    tx = shop["transactions"]
    con = engine.connect("duckdb")
    lazy = con.create_table("tx", ibis.memtable(tx.assign(date=tx["date"].dt.date)))
    for as_of, months in [("2026-10-01", 6), ("2026-07-01", 3), ("2025-06-02", 6)]:
        ref = kpis.transaction_summary(tx, pd.Timestamp(as_of), months)
        got = engine.transaction_summary(lazy, pd.Timestamp(as_of), months)
        pd.testing.assert_frame_equal(got, ref)
    # 2025-06-02: only the year-old purchase is in the recent window, nothing a year before it
    assert got["buyers"].tolist() == [1, 0, 1] and pd.isna(got["last_date"].iloc[1])


def test_kpis_from_a_summary_equal_those_from_the_rows(shop):
    as_of = pd.Timestamp("2026-10-01")
    summary = kpis.transaction_summary(shop["transactions"], as_of)
    rest = {k: v for k, v in shop.items() if k != "transactions"}
    ref = kpis.retail_kpis(shop, TARGETS, spend_growth=0.1)
    got = kpis.retail_kpis(rest, TARGETS, spend_growth=0.1, tx_summary=summary)
    pd.testing.assert_frame_equal(got, ref)
    # a summary for another window is refused, not silently used
    with pytest.raises(DataError, match="transaction summary covers"):
        kpis.retail_kpis(rest, TARGETS, window_months=3, tx_summary=summary)


def test_nps_and_resolution_time_need_their_columns(shop):
    survey = shop["survey"].drop(columns="recommend")
    complaints = shop["complaints"].drop(columns="days_to_resolve")
    tables = {**shop, "survey": survey, "complaints": complaints}
    board = kpis.retail_kpis(tables, TARGETS).set_index("key")
    assert "nps" not in board.index and "days_to_resolve" not in board.index
    assert board.loc["csat", "actual"] == pytest.approx(3 / 5)
    assert board.loc["complaints_per_100_customers", "actual"] == pytest.approx(50.0)
    no_flag = {**shop, "complaints": shop["complaints"].drop(columns="resolved")}
    keys = kpis.retail_kpis(no_flag, TARGETS)["key"].tolist()
    assert "days_to_resolve" not in keys and "nps" in keys


def test_one_year_of_transactions_leaves_the_spend_kpi_out_and_says_why(shop):
    # the year-earlier purchase dropped: transactions 2026-05-03 .. 2026-09-30 only
    one_year = {**shop, "transactions": shop["transactions"].iloc[:6]}
    board = kpis.retail_kpis(one_year, TARGETS, spend_growth=0.05)
    assert "spend_per_customer" not in set(board["key"])
    # every other KPI as on the full data
    full = kpis.retail_kpis(shop, TARGETS, spend_growth=0.05)
    rest = full[full["key"] != "spend_per_customer"]
    pd.testing.assert_frame_equal(board.reset_index(drop=True), rest.reset_index(drop=True))
    why = board.attrs["left_out"]["Spend per customer"]
    assert "CNY 76.67 per buying customer in the last 6 months" in why  # 230 / 3
    assert "same 6 months a year earlier (2025-04-01 to 2025-09-30) plus 5%" in why
    assert "start only on 2026-05-03" in why and "from 2025-04-01 on" in why
    assert full.attrs["left_out"] == {}


@pytest.mark.parametrize(
    ("first", "target"),
    [("2025-04-08", 60.0 * 1.1), ("2025-04-09", None), ("2025-06-01", None)],
)
def test_spend_target_needs_data_covering_the_year_earlier_months(shop, first, target):
    # the year-earlier months are 2025-04-01 .. 2025-09-30; the data start on `first`
    tx = shop["transactions"].copy()
    tx.loc[6, "date"] = pd.Timestamp(first)
    summary = kpis.transaction_summary(tx, pd.Timestamp("2026-10-01"))
    got, why = kpis.spend_target(summary, 0.1)
    if target is None:  # more than 7 days in: part of those months is missing
        assert got is None and f"start only on {first}" in why
    else:  # 60 by one buyer, + 10%
        assert got == pytest.approx(target) and why is None


def test_kpis_without_anything_to_measure_are_left_out_with_the_reason(shop):
    # six months after the last purchase: nobody bought in the window, no complaint either
    board = kpis.retail_kpis(
        shop, TARGETS, as_of=pd.Timestamp("2027-04-01"), spend_growth=0.1
    ).set_index("key")
    assert list(board.index) == ["csat", "nps", "complaints_per_100_customers"]
    assert board.loc["complaints_per_100_customers", "actual"] == 0.0
    left = board.attrs["left_out"]
    nobody = "nobody bought in the last 6 months (2026-10-01 to 2027-03-31): the transactions end on 2026-09-30."
    assert left["Repeat-purchase rate"] == nobody and left["Spend per customer"] == nobody
    assert left["Days to resolve"] == "no complaint received in the last 6 months was resolved."


def test_the_kpis_a_dashboard_of_the_data_must_show():
    """Survey answers alone measure CSAT and NPS, nothing else (exercise 5.1's check asks a
    student's dashboard for exactly these)."""
    import numpy as np

    from crmlab.kpis import measurable_kpis

    survey = pd.DataFrame(
        {
            "wave": ["2024-01"] * 3 + ["2024-02"] * 3,
            "date": pd.to_datetime(["2024-01-05"] * 3 + ["2024-02-05"] * 3),
            "overall_satisfaction": [5, 4, 3, 5, 2, np.nan],
            "recommend": [10, 9, 3, 10, 6, np.nan],
        }
    )
    assert measurable_kpis({"survey": survey}, spend_growth=0.05) == ["CSAT", "NPS"]
    assert measurable_kpis({"survey": survey.drop(columns="recommend")}) == ["CSAT"]
