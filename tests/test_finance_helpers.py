"""Helpers of the finance churn case (churn, survival, targeting, quality.FINANCE_RULES), checked
against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crmlab import churn, quality, targeting
from crmlab import survival as sv
from crmlab.errors import DataError


def _book():
    """Six accounts; the data run from 2024-01 to 2024-12."""
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "open_date": pd.to_datetime(
                ["2020-05-01", "2023-12-15", "2024-01-01", "2024-03-10", "2021-01-01", "2024-06-01"]
            ),
            "closure_date": pd.to_datetime(
                [None, "2024-02-10", "2024-12-31", None, "2024-03-31", None]
            ),
            "segment": ["mass", "mass", "affluent", "mass", "private", "mass"],
            "products_held": [1, 2, 3, 1, 4, 2],
            "salary_deposit": ["yes", "no", "yes", "no", "no", "yes"],
            "relationship_manager": ["no", "no", "yes", "no", "yes", "no"],
            "digital_active": ["yes", "yes", "no", "no", "yes", "no"],
        }
    )


# ----------------------------------------------------------------------------------------------
# churn helpers
# ----------------------------------------------------------------------------------------------
def test_observation_window_from_snapshots_and_without():
    c = _book()
    snaps = pd.DataFrame({"customer_id": ["a", "a"], "month": ["2024-01", "2024-11"]})
    w = churn.observation_window(c, snaps)
    # the latest date is the closure on 2024-12-31 (month 2024-12); snapshots start in 2024-01
    assert (w.start, w.end) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31"))
    assert w.after == pd.Timestamp("2025-01-01")
    assert w.last_period_start(12) == pd.Timestamp("2024-01-01")
    # without snapshots: the month of the earliest closure (2024-02)
    assert churn.observation_window(c).start == pd.Timestamp("2024-02-01")


def test_open_accounts_and_rolling_churn_by_hand():
    c = _book()
    assert churn.open_accounts(c, "2025-01-01")["customer_id"].tolist() == ["a", "d", "f"]
    # opened before 2024-03-10 and not closed before it: a, c (b closed 02-10, e open on 03-31)
    assert churn.open_accounts(c, "2024-03-10")["customer_id"].tolist() == ["a", "c", "e"]
    h = churn.rolling_churn(c, 3, first_start="2024-01-01", data_end="2024-04-30")
    assert h["start"].tolist() == ["2024-01", "2024-02"]
    assert h["end"].tolist() == ["2024-03", "2024-04"]
    # Jan-Mar: at risk a, b, e (opened before Jan 1, open); lost b (02-10) and e (03-31)
    # Feb-Apr: at risk a, b, c, e; lost b and e
    assert h["n_at_risk"].tolist() == [3, 4] and h["n_lost"].tolist() == [2, 2]
    assert h["churn_rate"].tolist() == pytest.approx([2 / 3, 0.5])
    low, high = stats.binomtest(2, 4).proportion_ci(method="wilson")
    assert (h.loc[1, "low"], h.loc[1, "high"]) == pytest.approx((low, high))
    with pytest.raises(DataError, match="no complete 12-month period"):
        churn.rolling_churn(c, 12, first_start="2024-06-01", data_end="2024-12-31")


def test_tenure_bands_include_their_lower_edge():
    opened = pd.Series(pd.to_datetime(["2024-12-31", "2023-12-31", "2022-01-01", "2010-01-01"]))
    band = churn.tenure_band(opened, "2025-01-01")
    # tenures: 1 day, 12.03 months (one year and a day), 36 months, 180 months
    assert band.astype("str").tolist() == ["< 1 year", "1-2 years", "2-5 years", "10+ years"]
    assert list(band.cat.categories) == [
        "< 1 year", "1-2 years", "2-5 years", "5-10 years", "10+ years",
    ]  # fmt: skip


def test_whole_months_and_pilot_arms():
    assert churn.whole_months("2026-05-01", "2026-10-31") == 6
    assert churn.whole_months("2025-12-01", "2026-01-31") == 2
    assert churn.pilot_arms(pd.DataFrame({"group": ["offer", "control", "offer"]})) == "offer"
    with pytest.raises(DataError, match="exactly two arms"):
        churn.pilot_arms(pd.DataFrame({"group": ["a", "b"]}))


def test_pilot_data_counts_the_arms_by_hand():
    c = _book()
    pilot = pd.DataFrame(
        {
            "customer_id": ["a", "c", "d", "f"],
            "group": ["retain", "control", "retain", "control"],
            "offer_date": pd.to_datetime(["2024-07-01"] * 4),
        }
    )
    trial = churn.pilot_data(pilot, c, "2024-12-31")
    assert trial.treated == "retain" and trial.follow_up_months == 6
    # c closed on 2024-12-31 (inside the follow-up); a, d, f are open
    assert trial.counts() == (0, 2, 1, 2)
    assert trial.outcomes["treated"].tolist() == [1, 0, 1, 0]
    assert churn.pilot_data(pilot, c, "2024-12-30").counts() == (0, 2, 0, 2)


def test_score_dataset_uses_only_open_accounts_and_months_before_the_date():
    c = _book()
    months = ["2024-10", "2024-11", "2024-12"]
    snaps = pd.DataFrame(
        {
            "customer_id": np.repeat(["a", "d", "f"], 3),
            "month": months * 3,
            "balance": [100.0, 100.0, 50.0, 10.0, 10.0, 10.0, 5.0, 6.0, 7.0],
            "n_transactions": 1,
            "logins": 1,
            "fee_rise": 0,
            "complaints": [0, 0, 2, 0, 0, 0, 0, 1, 0],
            "service_contacts": 0,
        }
    )
    sc = churn.score_dataset(c, snaps, "2025-01-01", lookback_months=2)
    assert sc["customer_id"].tolist() == ["a", "d", "f"] and "churned" not in sc
    assert sc["last_data_month"].unique().tolist() == ["2024-12"]
    a = sc.set_index("customer_id").loc["a"]
    assert a["balance_change"] == pytest.approx(50 / 100 - 1)  # Nov -> Dec, lookback of 2 months
    assert a["complaints"] == 2
    # on 2024-12-01 the December snapshot is not used
    early = churn.score_dataset(c, snaps, "2024-12-01", lookback_months=2).set_index("customer_id")
    assert early.loc["a", "complaints"] == 0 and early.loc["a", "balance_change"] == 0


def test_churn_kpis_by_hand():
    c = _book()
    snaps = pd.DataFrame(
        {
            "customer_id": ["a", "a", "d", "f", "a"],
            "month": ["2024-11", "2024-12", "2024-12", "2024-12", "2024-05"],
            "complaints": [1, 0, 1, 0, 5],
        }
    )
    targets = {"churn_rate_12m": 0.3, "complaints_per_100": 50.0, "products_per_customer": 2.0,
               "salary_deposit_share": 0.5}  # fmt: skip
    board = churn.churn_kpis(c, snaps, "2025-01-01", targets, window_months=2).set_index("key")
    # 2024: at risk a, b, e (opened before 2024-01-01); b and e closed -> 2/3
    assert board.loc["churn_rate_12m", "actual"] == pytest.approx(2 / 3)
    assert not board.loc["churn_rate_12m", "met"]
    # Nov-Dec 2024: 2 complaints over 4 customer-months -> 50 per 100 a month (May is outside)
    assert board.loc["complaints_per_100", "actual"] == pytest.approx(50.0)
    assert board.loc["complaints_per_100", "met"]
    # open on 2025-01-01: a (1 product, yes), d (1, no), f (2, yes)
    assert board.loc["products_per_customer", "actual"] == pytest.approx(4 / 3)
    assert board.loc["salary_deposit_share", "actual"] == pytest.approx(2 / 3)
    with pytest.raises(DataError, match="unknown KPI"):
        churn.churn_kpis(c, snaps, "2025-01-01", {"nps": 1.0})


def test_churn_by_keeps_the_category_order():
    df = pd.DataFrame(
        {"band": pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a", "z"]), "churned": [1, 0, 0, 1]}
    )  # fmt: skip
    t = churn.churn_by(df, "band")
    assert t["band"].astype("str").tolist() == ["c", "b", "a"]  # empty 'z' left out
    assert t["churn_rate"].tolist() == [1.0, 0.5, 0.0]


# ----------------------------------------------------------------------------------------------
# survival helpers
# ----------------------------------------------------------------------------------------------
def test_offer_indicator_switches_on_from_the_offer_month():
    frame = pd.DataFrame(
        {"customer_id": ["x", "x", "x", "y", "y", "z"], "month": ["2026-04", "2026-05", "2026-06"] * 2}
    )  # fmt: skip
    pilot = pd.DataFrame(
        {
            "customer_id": ["x", "y"],
            "group": ["offer", "control"],
            "offer_date": pd.to_datetime(["2026-05-01", "2026-05-01"]),
        }
    )
    out = sv.add_offer_indicator(frame, pilot, "offer")
    assert out["offer"].tolist() == [0, 1, 1, 0, 0, 0]


def test_static_cox_frame_has_numeric_covariates():
    sf = sv.static_cox_frame(_book(), "2024-12-31", observation_start="2024-01-01")
    assert sf[churn.STATIC_FEATURES].dtypes.map(pd.api.types.is_numeric_dtype).all()
    assert sf["salary_deposit"].tolist() == [1, 0, 1, 0, 0, 1]
    assert sf["event"].tolist() == [0, 1, 1, 0, 1, 0]


def test_attributable_fraction_by_hand():
    fit = sv.CoxFit(
        table=pd.DataFrame({"covariate": ["fee", "n"], "coef": [math.log(2.0), math.log(1.5)]}),
        result=None,
        covariates=["fee", "n"],
    )
    frame = pd.DataFrame({"event": [1, 1, 1, 1, 0], "fee": [1, 1, 0, 0, 1], "n": [0, 1, 2, 0, 9]})
    # 0/1 covariate: Miettinen p_c (HR - 1) / HR with half the events exposed and HR 2
    assert sv.attributable_fraction(fit, frame, "fee") == pytest.approx(0.5 * (2 - 1) / 2)
    # a count: 1 - mean(1.5 ** -x) over the events (x = 0, 1, 2, 0)
    expected = 1 - np.mean([1, 1 / 1.5, 1 / 2.25, 1])
    assert sv.attributable_fraction(fit, frame, "n") == pytest.approx(expected)
    with pytest.raises(DataError, match="not in the model"):
        sv.attributable_fraction(fit, frame, "other")


# ----------------------------------------------------------------------------------------------
# targeting helpers
# ----------------------------------------------------------------------------------------------
def test_retention_need_by_hand():
    period = pd.DataFrame(
        {"churned": [1, 1, 0, 0], "balance_mean": [100.0, 300.0, 5000.0, 1.0], "value": [10.0, 30.0, 99.0, 1.0]}
    )  # fmt: skip
    need = targeting.retention_need(period, 1000, 0.25, 0.20)
    assert need["expected_lost_baseline"] == pytest.approx(250)
    assert need["customers_to_retain"] == pytest.approx(50)
    assert need["mean_balance_churner"] == 200
    assert need["balances_to_retain"] == pytest.approx(10_000)
    assert need["value_at_stake"] == pytest.approx(250 * 20) and need["value_to_retain"] == 1000
    bare = targeting.retention_need(period[["churned"]], 1000, 0.25, 0.20)
    assert bare["balances_to_retain"] is None and bare["value_at_stake"] is None


def test_relative_reduction_matches_the_adjusted_log_interval_by_hand():
    r, low, high = targeting.relative_reduction(10, 100, 20, 100)
    assert r == pytest.approx(0.5)
    # Fagerland et al. (2015): add 1/2 to counts and sizes, Wald interval on the log ratio
    ratio = (10.5 / 100.5) / (20.5 / 100.5)
    se = math.sqrt(1 / 10.5 - 1 / 100.5 + 1 / 20.5 - 1 / 100.5)
    z = stats.norm.ppf(0.975)
    expected = (1 - ratio * math.exp(z * se), 1 - ratio * math.exp(-z * se))
    assert (low, high) == pytest.approx(expected)
    with pytest.raises(DataError, match="no churn in the control"):
        targeting.relative_reduction(1, 10, 0, 10)


def test_cost_per_saved_by_hand():
    out = targeting.cost_per_saved(-0.05, 170.0, (-0.10, 0.01))
    assert out == pytest.approx({"cost_per_saved": 3400.0, "low": 1700.0, "high": math.inf})
    assert targeting.cost_per_saved(0.02, 170.0)["cost_per_saved"] == math.inf


def test_group_churn_share_and_rollout_by_hand():
    period = pd.DataFrame({"customer_id": list("abcdef"), "churned": [1, 1, 0, 1, 0, 0]})
    # group a, b, c: 2 of the 3 churners
    assert targeting.group_churn_share(period, ["a", "b", "c"]) == pytest.approx(2 / 3)
    # counted at a control rate of 0.5: 1.5 group churners against 1 outside
    share = targeting.group_churn_share(period, ["a", "b", "c"], group_rate=0.5)
    assert share == pytest.approx(0.6)
    proj = targeting.rollout_from_pilot(0.25, 0.20, 0.2, 0.5, reduction_ci=(0.0, 0.4))
    assert proj.effect == pytest.approx(-0.025) and proj.projected == pytest.approx(0.225)
    assert (proj.projected_low, proj.projected_high) == pytest.approx((0.2, 0.25))
    assert not proj.reaches_target


def test_backtest_rankings_by_hand():
    df = pd.DataFrame(
        {"churned": [1, 0, 1, 0, 0, 1, 0, 0, 0, 0], "value": [1.0, 50, 2, 1, 1, 100, 1, 1, 1, 1]}
    )
    risk = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    out = targeting.backtest_rankings(df, {"risk": risk}, [0.2, 0.5]).set_index("contact_share")
    # top 2: rows 0, 1 -> 1 churner of 3, lift (1/2)/(3/10); value lost reached 1 of 103
    assert out.loc[0.2, "churners_reached"] == 1
    assert out.loc[0.2, "lift"] == pytest.approx(0.5 / 0.3)
    assert out.loc[0.2, "share_of_value_lost"] == pytest.approx(1 / 103)
    # top 5: rows 0-4 -> churners 0 and 2
    assert out.loc[0.5, "share_of_churners"] == pytest.approx(2 / 3)
    assert out.loc[0.5, "value_lost_reached"] == 3


def test_campaign_options_match_the_targeting_curve():
    df = pd.DataFrame({"churn_prob": [0.5, 0.1, 0.4, 0.2], "value": [10.0, 1000.0, 20.0, 5.0]})
    opts = targeting.campaign_options(
        df, {"risk": df["churn_prob"]}, 0.5, success_rate=0.5, offer_cost=2.0, contact_cost=1.0
    ).iloc[0]
    # top 2 by risk: p 0.5 and 0.4 -> reached 0.9, saved 0.45, value saved 0.5 x (5 + 8)
    assert opts["expected_churners_reached"] == pytest.approx(0.9)
    assert opts["expected_saved"] == pytest.approx(0.45)
    assert opts["expected_value_saved"] == pytest.approx(6.5)
    assert opts["cost"] == 6.0 and opts["roi"] == pytest.approx(0.5 / 6)


def test_plans_have_their_milestones_and_rules():
    plan = targeting.retention_plan("2026-10", 12, ["fee_rises"], 500)
    assert plan["month"].iloc[0] == "2026-10" and plan["month"].iloc[-1] == "2027-10"
    assert plan["milestone"].str.contains("fee rises").any()
    assert plan["milestone"].str.contains("500 customers").any()
    mon = targeting.monitoring_plan(0.2, model_auc=0.66, cost_per_saved_customer=3400.0)
    assert {"metric", "definition", "frequency", "owner", "act_when"} == set(mon.columns)
    text = " ".join(mon["act_when"])
    assert "20.0%" in text and "0.61" in text and "3,400" in text


# ----------------------------------------------------------------------------------------------
# cleaning rules
# ----------------------------------------------------------------------------------------------
def test_finance_rules_clean_a_faulty_export():
    customers = pd.DataFrame(
        {
            "customer_id": ["1", "2", "2", "3", "4"],
            "open_date": ["2020-01-01", "2021-02-03", "2021-02-03", "not a date", "2022-01-01"],
            "closure_date": ["", "2024-01-31", "2024-01-31", "", ""],
            "age": [40, 17, 17, 60, 50],
            "segment": ["mass", "affluent", "affluent", "private", "vip"],
            "products_held": [1, 2, 2, 3, 1],
            "salary_deposit": ["yes", "是", "是", "no", "maybe"],
            "relationship_manager": ["no", "no", "no", "yes", "no"],
            "digital_active": ["yes", "否", "否", "yes", "no"],
        }
    )
    pilot = pd.DataFrame(
        {"customer_id": ["1", "9"], "group": ["offer", "control"], "offer_date": ["2024-05-01"] * 2}
    )
    tables = {"customers": customers, "pilot": pilot}
    report = quality.quality_report(tables, quality.FINANCE_RULES)
    found = set(zip(report["column"], report["check"], strict=True))
    assert {("age", "out_of_range"), ("segment", "invalid_category"), ("customer_id", "orphan_key"),
            ("salary_deposit", "invalid_category"), ("open_date", "unparseable_date")} <= found  # fmt: skip
    clean, notes = quality.clean_tables(tables, quality.FINANCE_RULES)
    c = clean["customers"].set_index("customer_id")
    # the copy of 2 is dropped; 3 has no valid open date and 4 no valid segment: both required
    assert c.index.tolist() == ["1", "2"]
    assert pd.isna(c.loc["2", "age"])  # 17 is outside 18-120
    assert c["salary_deposit"].tolist() == [True, True]
    assert c["digital_active"].tolist() == [True, False]
    assert c["closure_date"].isna().tolist() == [True, False]  # blank closure date = still open
    assert clean["pilot"]["customer_id"].tolist() == ["1"]  # orphan dropped
    joined = " ".join(notes)
    assert "exact duplicate" in joined and "not in customers" in joined
