"""Targeting curve, campaign ROI and the action list against hand-computed examples."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from crmlab import targeting
from crmlab.errors import DataError
from crmlab.privacy import pseudonym

matplotlib.use("Agg")

P = [0.5, 0.2, 0.8, 0.1]
V = [100.0, 1000.0, 10.0, 50.0]
# expected loss p x v = 50, 200, 8, 5 -> contact order: customer 1, 0, 2, 3


def test_targeting_curve_hand_example():
    scores = np.multiply(P, V)
    t = targeting.targeting_curve(
        scores, P, V, [0.25, 0.5, 1.0], success_rate=0.5, contact_cost=1, offer_cost=4,
        churned=[1, 0, 1, 0],
    )  # fmt: skip
    assert t["n_contacted"].tolist() == [1, 2, 4]
    np.testing.assert_allclose(t["expected_churners_reached"], [0.2, 0.7, 1.6])
    np.testing.assert_allclose(t["share_of_expected_churners"], [0.2 / 1.6, 0.7 / 1.6, 1.0])
    np.testing.assert_allclose(t["expected_saved"], [0.1, 0.35, 0.8])
    np.testing.assert_allclose(t["expected_value_saved"], [100.0, 125.0, 131.5])
    np.testing.assert_allclose(t["cost"], [5, 10, 20])
    np.testing.assert_allclose(t["net_value"], [95, 115, 111.5])
    assert t["churners_reached"].tolist() == [0, 1, 2]
    # ranking by risk alone contacts customer 2 (p = 0.8) first
    r = targeting.targeting_curve(P, P, V, [0.25], success_rate=0.5)
    assert r.loc[0, "expected_churners_reached"] == pytest.approx(0.8)


def test_customer_value_hand_example():
    df = pd.DataFrame({"balance_mean": [100_000.0, 0.0], "fees_mean": [10.0, 2.5]})
    v = targeting.customer_value(df, margin_rate=0.02)
    np.testing.assert_allclose(v, [0.02 * 100_000 + 120, 30])
    np.testing.assert_allclose(targeting.customer_value(df, fees_col=None), [1500, 0])
    with pytest.raises(DataError, match="balance_mean"):
        targeting.customer_value(df.assign(balance_mean=-1.0))


def test_customer_value_of_a_churn_set_names_customers_without_snapshots():
    # a churn set (build_churn_dataset's columns) where customer P-...02 is counted as open
    # but has no snapshot month: its closure date was blank or unreadable
    df = pd.DataFrame(
        {
            "customer_id": ["P-000000000001", "P-000000000002"],
            "prediction_date": pd.Timestamp("2025-10-01"),
            "months_observed": [6, 0],
            "balance_mean": [1000.0, np.nan],
            "fees_mean": [1.0, np.nan],
        }
    )
    with pytest.raises(DataError) as err:
        targeting.customer_value(df)
    msg = str(err.value)
    assert "balance_mean is missing for 1 of 2 customers at risk at 2025-10-01" in msg
    assert "P-000000000002" in msg and "P-000000000001" not in msg
    assert "closure_date" in msg and "crmlab lookup" in msg and "positions" not in msg
    # a table that is not a churn set keeps the plain message
    with pytest.raises(DataError, match=r"balance_mean must be finite and >= 0; bad at positions"):
        targeting.customer_value(df.drop(columns="months_observed"))


def test_targeting_curve_rejects_bad_input():
    with pytest.raises(DataError, match="churn_prob"):
        targeting.targeting_curve([1, 2], [0.5, 1.5], [1, 1])
    with pytest.raises(DataError, match="value"):
        targeting.targeting_curve([1, 2], [0.5, 0.5], [1, -1])
    with pytest.raises(DataError, match="contact_shares"):
        targeting.targeting_curve([1, 2], [0.5, 0.5], [1, 1], [0, 0.5])


def test_campaign_roi_hand_example():
    r = targeting.campaign_roi(1000, 50, 2000, offer_cost=30, contact_cost=5).iloc[0]
    assert r["cost"] == 35_000 and r["benefit"] == 100_000 and r["net"] == 65_000
    assert r["roi"] == pytest.approx(65_000 / 35_000)
    assert r["break_even_saved"] == pytest.approx(17.5)
    many = targeting.campaign_roi([100, 200], [10, 12], 500, 20, 5)
    np.testing.assert_allclose(many["net"], [10 * 500 - 100 * 25, 12 * 500 - 200 * 25])
    with pytest.raises(DataError, match="exceed"):
        targeting.campaign_roi(10, 11, 1, 1, 1)


@pytest.fixture
def scored():
    return pd.DataFrame(
        {
            "customer_id": ["F000001", "F000002", "F000003", "F000004"],
            "churn_prob": P,
            "value": V,
            "tier": ["B", "A", "C", "C"],
            "complaints": [0, 0, 2, 0],
        }
    )


def test_action_list_orders_by_expected_loss_and_assigns_actions(scored):
    key = b"test-key"
    out = targeting.action_list(scored, 3, as_of="2026-05-01", key=key)
    assert out["pseudo_id"].tolist() == [
        pseudonym(i, key) for i in ["F000002", "F000001", "F000003"]
    ]
    np.testing.assert_allclose(out["expected_loss"], [200, 50, 8])
    assert out["owner_role"].tolist() == ["relationship_manager", "service_team", "service_manager"]
    # the plan starts 2026-05 (callers trained), wave 1 calls in 2026-06: A 7 days, B 14 days,
    # a complaint 3 days after 2026-06-01
    assert out["due_date"].tolist() == [
        pd.Timestamp("2026-06-08"), pd.Timestamp("2026-06-15"), pd.Timestamp("2026-06-04"),
    ]  # fmt: skip
    text = out.to_csv()
    assert not any(cid in text for cid in scored["customer_id"])


def test_action_list_due_dates_fall_in_the_month_of_wave_1():
    """Wave 1 of the retention plan contacts the list in the plan's second month, after the
    callers' training; each due date is its days into that month and never past its end (tier
    C's 30 days from 2026-11-01 would be 2026-12-01: due 2026-11-30)."""
    plan = targeting.retention_plan("2026-10", 12, ["fee_rises"], 3)
    [wave] = plan.loc[plan["milestone"].str.startswith("Wave 1"), "month"]
    trained = plan.loc[plan["milestone"].str.startswith("Train relationship managers"), "month"]
    assert wave == "2026-11" and trained.tolist() == ["2026-10"]
    df = pd.DataFrame(
        {
            "customer_id": ["P-1", "P-2", "P-3"],
            "churn_prob": [0.5, 0.4, 0.3],
            "value": [30.0, 20.0, 10.0],
            "tier": ["A", "B", "C"],
        }
    )
    out = targeting.action_list(df, 3, as_of="2026-10-01")
    assert out["due_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-11-08",
        "2026-11-15",
        "2026-11-30",
    ]
    assert (out["due_date"].dt.strftime("%Y-%m") == wave).all()
    # a plan starting 2026-12 (plan_start): training in December, calls due in January
    later = targeting.action_list(df, 3, as_of="2026-12-01")
    assert later["due_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2027-01-08",
        "2027-01-15",
        "2027-01-31",
    ]
    same_month = targeting.action_list(df, 1, as_of="2026-10-01", wave_month=0)
    assert same_month["due_date"].tolist() == [pd.Timestamp("2026-10-08")]


def test_action_list_requires_pseudonyms_or_a_key(scored):
    with pytest.raises(DataError, match="pseudonymize"):
        targeting.action_list(scored, 2, as_of="2026-05-01")
    pseudo = scored.assign(customer_id=[f"P-{i:010d}" for i in range(4)])
    out = targeting.action_list(pseudo, 4, as_of="2026-05-01", complaints_col=None)
    assert out["action"].tolist()[-1] == targeting.DEFAULT_TIER_ACTIONS["C"][0]
    with pytest.raises(DataError, match="tier"):
        targeting.action_list(pseudo.assign(tier="Z"), 2, as_of="2026-05-01")


def test_targeting_chart_draws_the_curve():
    from crmlab.charts import churn as charts

    t = targeting.targeting_curve(np.multiply(P, V), P, V, [0.25, 0.5, 1.0], contact_cost=30)
    ax = charts.plot_targeting_curve(t)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0, 0.2 / 1.6, 0.7 / 1.6, 1.0])
    import matplotlib.pyplot as plt

    # a costed campaign's net value on the right axis, in the run's currency, with separators
    t = targeting.targeting_curve(
        np.multiply(P, V), P, V, [0.25, 0.5, 1.0], success_rate=0.5, contact_cost=1, offer_cost=4
    )
    ax = charts.plot_targeting_curve(t)
    right = ax.figure.axes[1]
    assert right.get_ylabel() == "Net value (value saved - cost), CNY"
    assert right.yaxis.get_major_formatter()(12345.6, 0) == "12,346"
    plt.close("all")


def test_campaign_table_shows_whole_customers_and_money_in_cny():
    """The readers' campaign table: expected customers as whole customers (round() of the exact
    value, which the table itself keeps for results.json), money headers naming CNY."""
    from crmlab.narrative import present

    df = pd.DataFrame({"churn_prob": P, "value": V})
    rankings = {"risk x value": np.multiply(P, V), "risk": P}
    options = targeting.campaign_options(
        df, rankings, 1.0, success_rate=0.5, offer_cost=4, contact_cost=1
    )
    row = options.set_index("ranking").loc["risk x value"]
    # exact values kept: 1.6 expected churners reached, 0.8 saved, CNY 131.5 saved, net 111.5
    assert row["expected_churners_reached"] == pytest.approx(1.6)
    assert row["expected_saved"] == pytest.approx(0.8)
    assert row["expected_value_saved"] == pytest.approx(131.5)
    assert row["net_value"] == pytest.approx(111.5)
    cells = present(options).cells
    assert list(cells.columns) == [
        "Ranking",
        "Contacted",
        "Expected churners reached",
        "Share of expected churners",
        "Expected saved",
        "Expected value saved (CNY)",
        "Cost (CNY)",
        "Net value (CNY)",
        "Net return per unit spent",
    ]
    shown = cells.set_index("Ranking").loc["risk x value"]
    assert shown["Expected churners reached"] == "2" == str(round(1.6))
    assert shown["Expected saved"] == "1" == str(round(0.8))
    assert shown["Expected value saved (CNY)"] == "132"  # round(131.5) = 132
    assert shown["Cost (CNY)"] == "20"
    assert shown["Net value (CNY)"] == "112"
    assert shown["Share of expected churners"] == "100.0%"
    # larger numbers keep their thousands separators; negative net values their sign
    big = options.assign(expected_churners_reached=201.7161, net_value=-47_492.8758)
    shown = present(big).cells.iloc[0]
    assert shown["Expected churners reached"] == "202"
    assert shown["Net value (CNY)"] == "-47,493"


def test_action_list_table_names_the_owner_and_the_expected_loss_in_cny(scored):
    from crmlab.narrative import present

    out = targeting.action_list(scored, 3, as_of="2026-05-01", key=b"k")
    cells = present(out, digits=0).cells
    assert "Action owner" in cells.columns and "Owner role" not in cells.columns
    assert "Expected loss (CNY)" in cells.columns
    assert cells["Expected loss (CNY)"].tolist() == ["200", "50", "8"]
