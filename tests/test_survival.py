"""Survival analysis: Kaplan-Meier, log-rank and Cox against textbook values (Freireich's 6-MP
leukaemia trial, as in Kleinbaum & Klein, "Survival Analysis", and R's survival package), hand
computations, and the hazard ratios planted in the synthetic bank."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from crmlab import churn
from crmlab import survival as sv
from crmlab.errors import DataError
from crmlab.synth.finance import generate_finance, read_finance

matplotlib.use("Agg")

# Freireich et al. (1963): weeks in remission; 0 = censored
SIX_MP = [(6, 1), (6, 1), (6, 1), (6, 0), (7, 1), (9, 0), (10, 1), (10, 0), (11, 0), (13, 1),
          (16, 1), (17, 0), (19, 0), (20, 0), (22, 1), (23, 1), (25, 0), (32, 0), (32, 0),
          (34, 0), (35, 0)]  # fmt: skip
PLACEBO = [(t, 1) for t in (1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23)]


@pytest.fixture
def gehan():
    rows = [(t, e, "6-MP") for t, e in SIX_MP] + [(t, e, "placebo") for t, e in PLACEBO]
    df = pd.DataFrame(rows, columns=["duration", "event", "group"])
    df["placebo"] = (df["group"] == "placebo").astype(int)
    return df


def test_km_product_limit_on_eight_subjects_by_hand():
    df = pd.DataFrame({"duration": [6, 6, 6, 7, 10, 13, 16, 22], "event": [1, 1, 1, 1, 0, 1, 1, 0]})
    km = sv.km_by_group(df)
    c = km.curves.iloc[1:]  # row 0 is (0, S = 1)
    assert c["time"].tolist() == [6, 7, 13, 16]
    assert c["n_at_risk"].tolist() == [8, 5, 3, 2]
    # S = 5/8; 5/8 * 4/5; * 2/3; * 1/2
    np.testing.assert_allclose(c["survival"], [5 / 8, 1 / 2, 1 / 3, 1 / 6])
    # statsmodels' median convention: first time with S < 0.5 (S = 0.5 exactly at 7 is not)
    assert km.medians.loc[0, "median"] == 13


def test_km_textbook_six_mp_group(gehan):
    km = sv.km_by_group(gehan, "group")
    c = km.curves[km.curves["group"] == "6-MP"].iloc[1:]
    assert c["time"].tolist() == [6, 7, 10, 13, 16, 22, 23]
    assert c["n_at_risk"].tolist() == [21, 17, 15, 12, 11, 7, 6]
    expected, s = [], 1.0
    for n, d in [(21, 3), (17, 1), (15, 1), (12, 1), (11, 1), (7, 1), (6, 1)]:
        s *= 1 - d / n
        expected.append(s)
    np.testing.assert_allclose(c["survival"], expected)
    np.testing.assert_allclose(
        c["survival"], [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448], atol=5e-4
    )
    # R: survfit(..., conf.type = "log-log") gives 0.620-0.952 at week 6
    assert c.iloc[0][["ci_low", "ci_high"]].tolist() == pytest.approx([0.620, 0.952], abs=1e-3)
    med = km.medians.set_index("group")
    assert med.loc["6-MP", "median"] == 23 and med.loc["placebo", "median"] == 8
    assert np.isnan(med.loc["6-MP", "median_ci_high"])  # upper limit not reached


def test_km_with_left_truncation_by_hand():
    # (entry, time, event): a subject is at risk at t if entry < t <= time
    df = pd.DataFrame({"entry": [0, 0, 3, 1], "duration": [2, 5, 4, 6], "event": [1, 0, 1, 1]})
    c = sv.km_by_group(df, entry_col="entry").curves.iloc[1:]
    assert c["n_at_risk"].tolist() == [3, 3, 1]  # at 2: s1 s2 s4; at 4: s2 s3 s4; at 6: s4
    np.testing.assert_allclose(c["survival"], [2 / 3, 4 / 9, 0])


def test_logrank_hand_computed_two_groups():
    # group a: 1, 3, 5+ ; group b: 2, 4, 6
    df = pd.DataFrame(
        {"duration": [1, 3, 5, 2, 4, 6], "event": [1, 1, 0, 1, 1, 1], "g": list("aaabbb")}
    )
    # at each event time: n_a, n, d, E_a = n_a d / n, V = n_a n_b d (n - d) / (n^2 (n - 1))
    o_a = 2
    e_a = 3 / 6 + 2 / 5 + 2 / 4 + 1 / 3 + 0
    v = 3 * 3 * 1 * 5 / (36 * 5) + 2 * 3 * 1 * 4 / (25 * 4) + 2 * 2 * 3 / (16 * 3) + 2 * 2 / (9 * 2)
    res = sv.logrank(df, "g")
    assert res["chi2"] == pytest.approx((o_a - e_a) ** 2 / v)
    assert res["dof"] == 1


def test_logrank_textbook_six_mp(gehan):
    res = sv.logrank(gehan, "group")
    assert res["chi2"] == pytest.approx(16.79, abs=0.01)  # R survdiff: Chisq = 16.8 on 1 df
    assert res["p_value"] == pytest.approx(4.17e-5, rel=0.01)


def test_cox_textbook_six_mp(gehan):
    # R coxph: Breslow coef 1.509 (se 0.410); Efron coef 1.572 (se 0.412), HR 4.82
    b = sv.cox_model(gehan, ["placebo"]).table.iloc[0]
    assert b["coef"] == pytest.approx(1.509, abs=1e-3) and b["std_err"] == pytest.approx(
        0.410, abs=1e-3
    )
    e = sv.cox_model(gehan, ["placebo"], ties="efron").table.iloc[0]
    assert e["coef"] == pytest.approx(1.572, abs=1e-3) and e["hazard_ratio"] == pytest.approx(
        4.817, abs=1e-3
    )
    assert e["ci_low"] == pytest.approx(math.exp(e["coef"] - 1.959964 * e["std_err"]))


def test_ph_check_flags_a_crossing_hazard_and_passes_a_proportional_one():
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.integers(0, 2, n)  # hazard ratio 4 before t = 1, 1/4 after: not proportional
    z = rng.integers(0, 2, n)  # hazard ratio 2 throughout
    rate = np.exp(0.7 * z)
    early = np.where(x == 1, 4.0, 1.0) * rate
    late = np.where(x == 1, 0.25, 1.0) * rate
    t1 = rng.exponential(1 / early)
    t = np.where(t1 < 1, t1, 1 + rng.exponential(1 / late))
    cens = rng.uniform(0.5, 6, n)
    df = pd.DataFrame(
        {"duration": np.minimum(t, cens), "event": (t <= cens).astype(int), "x": x, "z": z}
    )
    fit = sv.cox_model(df, ["x", "z"])
    chk = sv.ph_check(fit).set_index("covariate")
    assert chk.loc["x", "p_value"] < 1e-3 and chk.loc["x", "rho"] < 0
    assert chk.loc["z", "p_value"] > 0.01
    assert not chk.loc["x", "ph_ok"]


def test_survival_frame_hand_example():
    cust = pd.DataFrame(
        {
            "open_date": ["2020-01-01", "2024-02-01", "2024-03-01"],
            "closure_date": [None, "2024-05-01", "2030-01-01"],
        }
    )
    sf = sv.survival_frame(cust, "2024-12-31", observation_start="2024-01-01")
    m = 365.25 / 12
    np.testing.assert_allclose(
        sf["duration"],
        [(pd.Timestamp("2024-12-31") - pd.Timestamp("2020-01-01")).days / m, 90 / m, 305 / m],
    )
    assert sf["event"].tolist() == [0, 1, 0]  # closure after the data end is censored
    np.testing.assert_allclose(sf["entry"], [1461 / m, 0, 0])
    with pytest.raises(DataError, match="after data_end"):
        sv.survival_frame(cust, "2024-02-15")


def test_time_varying_frame_hand_example():
    cust = pd.DataFrame(
        {
            "customer_id": ["a"],
            "open_date": ["2024-01-15"],
            "closure_date": ["2024-03-10"],
            "segment": ["mass"],
            "products_held": [2],
            "salary_deposit": ["yes"],
            "relationship_manager": ["no"],
            "digital_active": ["no"],
        }
    )
    snaps = pd.DataFrame(
        {
            "customer_id": ["a"] * 3,
            "month": ["2024-01", "2024-02", "2024-03"],
            "complaints": [1, 0, 2],
            "fee_rise": [0, 1, 0],
        }
    )
    tv = sv.time_varying_frame(
        cust, snaps, "2024-03-31", rolling={"complaints": (2, "sum"), "fee_rise": (2, "any")}
    )
    m = 365.25 / 12
    np.testing.assert_allclose(tv["start"], [0, 17 / m, 46 / m])
    np.testing.assert_allclose(tv["stop"], [17 / m, 46 / m, 55 / m])
    assert tv["event"].tolist() == [0, 0, 1]
    assert tv["complaints_2m"].tolist() == [1, 1, 2]
    assert tv["fee_rise_2m"].tolist() == [0, 1, 1]
    assert tv["salary_deposit"].tolist() == [1, 1, 1]
    gap = snaps.iloc[[0, 2]]
    with pytest.raises(DataError, match="consecutive"):
        sv.time_varying_frame(cust, gap, "2024-03-31")


# ----------------------------------------------------------------------------------------------
# synthetic bank: planted hazard ratios
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    out = tmp_path_factory.mktemp("bank")
    generate_finance(out, seed=42)
    return read_finance(out)


def test_cox_recovers_the_planted_hazard_ratios(bank):
    c, s, p, truth = bank["customers"], bank["snapshots"], bank["pilot"], bank["truth"]
    tv = sv.time_varying_frame(c, s)
    offered = set(p.loc[p["group"] == "offer", "customer_id"])
    tv["offer"] = (
        tv["customer_id"].isin(offered) & (tv["month"] >= truth["pilot"]["offer_date"][:7])
    ).astype(int)
    covs = [*churn.STATIC_FEATURES, "complaints_6m", "fee_rise_6m", "offer"]
    fit = sv.cox_model(tv, covs, duration_col="stop", entry_col="start")
    t = fit.table.set_index("covariate")
    planted = {**truth["log_hazard"], "offer": math.log(truth["pilot"]["hazard_ratio"])}
    main = [
        "products_held",
        "salary_deposit",
        "relationship_manager",
        "complaints_6m",
        "fee_rise_6m",
    ]
    for cov in main:
        hr = math.exp(planted[cov])
        assert t.loc[cov, "ci_low"] < hr < t.loc[cov, "ci_high"], cov
    for cov in covs:  # every estimate within 3 standard errors of the truth
        assert abs(t.loc[cov, "coef"] - planted[cov]) < 3 * t.loc[cov, "std_err"], cov


def test_km_and_logrank_on_the_bank_use_left_truncation(bank):
    c, truth = bank["customers"], bank["truth"]
    sf = sv.survival_frame(c, truth["data_end"], observation_start=truth["window_start"])
    km = sv.km_by_group(sf, "segment", entry_col="entry")
    med = km.medians.set_index("group")["median"]
    assert med["mass"] < med["affluent"] < med["private"]
    # planted monthly hazard of a typical mass customer is ~0.03: median tenure of order 2 years
    assert 12 < med["mass"] < 48
    assert sv.logrank(sf, "segment", entry_col="entry")["p_value"] < 1e-10
    naive = sv.km_by_group(sf, "segment").medians.set_index("group")["median"]
    assert naive["mass"] > med["mass"]  # ignoring truncation overstates survival


def test_lifecycle_stage_rules_by_hand():
    df = pd.DataFrame(
        {
            "tenure_months": [30, 5, 5, 40, 40, 40, 40],
            "balance_change": [0.0, 0.0, -0.5, -0.2, 0.2, 0.05, -0.5],
            "churn_prob": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6],
            "closed": [1, 0, 0, 0, 0, 0, 0],
        }
    )
    st = sv.lifecycle_stage(df, closed_col="closed")
    assert st.tolist() == ["churned", "new", "new", "declining", "growing", "mature", "at_risk"]
    st = sv.lifecycle_stage(df, sv.LifecycleRules(new_months=3, at_risk_prob=0.7))
    assert st.tolist() == [
        "mature",
        "mature",
        "declining",
        "declining",
        "growing",
        "mature",
        "declining",
    ]
    assert list(st.cat.categories) == sv.STAGES
    with pytest.raises(DataError, match="churn_prob"):
        sv.lifecycle_stage(df.assign(churn_prob=np.nan))


def test_survival_charts(gehan):
    from crmlab.charts import churn as charts

    km = sv.km_by_group(gehan, "group")
    ax = charts.plot_km_curves(km.curves)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["6-MP", "placebo"]
    fit = sv.cox_model(gehan, ["placebo"])
    ax = charts.plot_hazard_ratios(fit.table, truth={"placebo": 4.5})
    assert (
        ax.get_xscale() == "log" and ax.get_yticklabels()[0].get_text() == "Placebo"
    )  # as the tables label it
    import matplotlib.pyplot as plt

    plt.close("all")


def test_flag_extract_headers_speak_of_leavers_not_closures():
    from crmlab import survival

    assert survival.MEDIAN_LABELS["n_events"] == "Closures"
    flag = survival.MEDIAN_LABELS_FLAG
    assert (flag["n_events"], flag["median"]) == ("Leavers", "Median months to leaving")
    assert {k: v for k, v in flag.items() if k not in ("n_events", "median")} == {
        k: v for k, v in survival.MEDIAN_LABELS.items() if k not in ("n_events", "median")
    }
