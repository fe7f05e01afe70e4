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


@pytest.fixture
def returns_shop():
    """Returns planted where the old count took them for purchases (as_of 2026-10-01, windows
    recent 2026-04-01 .. 2026-09-30 and year earlier 2025-04-01 .. 2025-09-30)."""
    rows = [
        ("w", "2025-04-02", 60.0),  # year earlier: the data start 1 day in (covered)
        ("u", "2025-05-01", 100.0),
        ("u", "2025-06-01", -20.0),  # u's second day in those months is a return
        ("v", "2025-07-01", -40.0),  # v only returns in those months: not a buyer
        ("s", "2026-03-10", 60.0),  # before the recent window
        ("p", "2026-05-01", 50.0),
        ("q", "2026-05-02", 40.0),
        ("q", "2026-05-20", -15.0),  # q's only second day is a return: not a repeat buyer
        ("p", "2026-06-01", 30.0),  # p: purchases on two days, the one repeat buyer
        ("s", "2026-06-15", -30.0),  # a day with a return and no purchase: s is no buyer
        ("r", "2026-07-01", 20.0),
        ("r", "2026-07-01", 25.0),  # two baskets on one day: one purchase day
        ("r", "2026-08-01", -5.0),  # the last row is a return
    ]
    tx = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    return tx.assign(date=pd.to_datetime(tx["date"]))


RETURNS_AS_OF = pd.Timestamp("2026-10-01")


def test_returns_are_not_purchases_in_the_summary(returns_shop):
    s = kpis.transaction_summary(returns_shop, RETURNS_AS_OF).set_index("window")
    cols = ["n_transactions", "n_returns", "buyers", "repeat_buyers"]
    # recent: purchases p 50, 30; q 40; r 20, 25 - returns q -15, s -30, r -5
    # buyers p, q, r (s only returned); repeat: p alone (counting returns: p, q, r of 4)
    assert s.loc["recent", cols].tolist() == [5, 3, 3, 1]
    assert s.loc["recent", "net_spend"] == pytest.approx(50 + 30 + 40 + 20 + 25 - 15 - 30 - 5)
    # year earlier: purchases w 60, u 100 - returns u -20, v -40; buyers w, u; no repeat
    assert s.loc["year_earlier", cols].tolist() == [2, 2, 2, 0]
    assert s.loc["year_earlier", "net_spend"] == pytest.approx(100.0)
    # all: 8 purchases, 5 returns; buyers w, u, s, p, q, r (not v); repeat: p
    assert s.loc["all", cols].tolist() == [8, 5, 6, 1]
    # the dates say how far the data reach, returns included
    assert s.loc["all", "first_date"] == pd.Timestamp("2025-04-02")
    assert s.loc["all", "last_date"] == pd.Timestamp("2026-08-01")


def test_repeat_rate_and_spend_count_buyers_not_returners(returns_shop):
    targets = {"Repeat-purchase rate": 0.5}
    board = kpis.retail_kpis(
        {"transactions": returns_shop}, targets, as_of=RETURNS_AS_OF, spend_growth=0.1
    ).set_index("key")
    # 1 repeat buyer (p) of 3 buyers; with returns as purchase days it was 3 of 4
    assert board.loc["repeat_purchase_rate", "actual"] == pytest.approx(1 / 3)
    # net spend 115 (returns subtracted) over the 3 buyers; with s as a buyer it was 115 / 4
    assert board.loc["spend_per_customer", "actual"] == pytest.approx(115 / 3)
    # a year earlier: net 100 over buyers w, u -> 50, + 10%; with v as a buyer it was 36.67
    assert board.loc["spend_per_customer", "target"] == pytest.approx(55.0)
    # the row-level helper agrees
    recent = kpis.window(returns_shop, RETURNS_AS_OF, 6)
    assert kpis.spend_per_customer(recent) == pytest.approx(115 / 3)


def test_summary_counts_purchases_and_returns_as_the_customer_features_do(returns_shop):
    """Both tables' ``n_transactions`` ("Transactions") are purchase rows, ``n_returns`` return
    rows: over all the data the summary's counts are the features' column sums."""
    from crmlab import features

    customers = pd.DataFrame({"customer_id": sorted(returns_shop["customer_id"].unique())})
    feats = features.customer_features(customers, returns_shop, as_of=RETURNS_AS_OF)
    every = kpis.transaction_summary(returns_shop, RETURNS_AS_OF).set_index("window").loc["all"]
    assert (int(feats["n_transactions"].sum()), int(feats["n_returns"].sum())) == (8, 5)
    assert (every["n_transactions"], every["n_returns"]) == (8, 5)
    # buyers are the customers with a purchase day (v only returned); repeat buyers 2+ days
    assert every["buyers"] == int((feats["frequency"] > 0).sum()) == 6
    assert every["repeat_buyers"] == int((feats["frequency"] >= 2).sum()) == 1


def test_a_window_with_returns_only_has_no_buyer_and_says_so(returns_shop):
    only_s = returns_shop[returns_shop["customer_id"] == "s"]  # bought in March, returned in June
    targets = {"Repeat-purchase rate": 0.5, "Spend per customer": 10.0}
    board = kpis.retail_kpis({"transactions": only_s}, targets, as_of=RETURNS_AS_OF)
    assert board.empty
    why = (
        "nobody bought in the last 6 months (2026-04-01 to 2026-09-30): it holds only 1 "
        "return(s) (negative amounts)."
    )
    assert board.attrs["left_out"] == {"Repeat-purchase rate": why, "Spend per customer": why}


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
    # recent: 5 purchases and 1 return of a, b, c; a and c bought on 2+ days; 100+50+30+20-10+40
    cols = ["n_transactions", "n_returns", "buyers", "repeat_buyers"]
    assert s.loc["recent", cols].tolist() == [5, 1, 3, 2]
    assert s.loc["recent", "net_spend"] == pytest.approx(230.0)
    assert s.loc["year_earlier", ["n_transactions", "buyers", "repeat_buyers"]].tolist() == [
        1,
        1,
        0,
    ]
    assert s.loc["all", ["n_transactions", "n_returns", "buyers", "net_spend"]].tolist() == [
        6,
        1,
        3,
        290.0,
    ]
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


@pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option")
def test_the_engine_does_not_count_returns_as_purchases(returns_shop):
    import ibis

    from crmlab import engine

    tx = returns_shop
    con = engine.connect("duckdb")
    lazy = con.create_table("tx_returns", ibis.memtable(tx.assign(date=tx["date"].dt.date)))
    got = engine.transaction_summary(lazy, RETURNS_AS_OF, 6)
    pd.testing.assert_frame_equal(got, kpis.transaction_summary(tx, RETURNS_AS_OF, 6))
    cols = ["n_transactions", "n_returns", "buyers", "repeat_buyers"]
    # by hand (test_returns_are_not_purchases_in_the_summary): recent, year earlier, all
    assert got[cols].to_numpy().tolist() == [[5, 3, 3, 1], [2, 2, 2, 0], [8, 5, 6, 1]]


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
