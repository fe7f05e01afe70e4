"""KPI dashboard on a hand-made shop: every actual value is counted by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlab import kpis


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
                    "2025-06-01",  # a year earlier: only in the spend baseline
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
