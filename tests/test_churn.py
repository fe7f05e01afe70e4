"""Churn rates, cohort retention, the leak-free churn data set, the logit and score evaluation,
checked against hand-computed answers and the planted truth of the synthetic data."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from crmlab import churn
from crmlab.errors import DataError
from crmlab.synth.finance import generate_finance, read_finance

matplotlib.use("Agg")


def _customers(rows):
    return pd.DataFrame(rows, columns=["customer_id", "open_date", "closure_date", "segment"])


# ----------------------------------------------------------------------------------------------
# churn rate
# ----------------------------------------------------------------------------------------------
HAND = _customers(
    [
        ("A", "2023-01-10", "2024-03-05", "mass"),  # at risk, lost
        ("B", "2023-06-01", None, "mass"),  # at risk, stays
        ("C", "2024-02-01", "2024-05-01", "mass"),  # opened mid-period: not at risk
        ("D", "2022-01-01", "2023-12-31", "mass"),  # closed before the start: not at risk
        ("E", "2022-05-05", "2025-01-01", "affluent"),  # at risk, closes on the end day: stays
        ("F", "2023-12-31", "2024-12-31", "affluent"),  # at risk, lost on the last day
        ("G", "2024-01-01", None, "affluent"),  # opened on the start day: not at risk
        ("H", "2021-01-01", "2024-01-01", "private"),  # closes on the start day: at risk, lost
    ]
)


def _wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_churn_rate_on_hand_table_excludes_customers_opened_in_the_period():
    r = churn.churn_rate(HAND, "2024-01-01", months=12)
    assert (r.n_at_risk, r.n_lost) == (5, 3)  # A B E F H at risk; A F H lost
    assert r.rate == pytest.approx(0.6)
    low, high = _wilson_by_hand(3, 5)
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high))
    assert r.end == pd.Timestamp("2025-01-01")
    lab = churn.label_churn(HAND, "2024-01-01")
    assert dict(zip(lab["customer_id"], lab["churned"], strict=True)) == {
        "A": 1, "B": 0, "E": 0, "F": 1, "H": 1,
    }  # fmt: skip


def test_churn_by_group():
    lab = churn.label_churn(HAND, "2024-01-01")
    t = churn.churn_by(lab, "segment").set_index("segment")
    assert t.loc["mass", ["n_at_risk", "n_lost"]].tolist() == [2, 1]
    assert t.loc["affluent", ["n_at_risk", "n_lost"]].tolist() == [2, 1]
    assert t.loc["private", "churn_rate"] == 1.0
    assert t.loc["mass", "ci_low"] == pytest.approx(_wilson_by_hand(1, 2)[0])


def test_churn_rate_rejects_bad_input():
    bad = HAND.copy()
    bad.loc[0, "closure_date"] = "2022-01-01"  # before opening
    with pytest.raises(DataError, match="before"):
        churn.churn_rate(bad, "2024-01-01")
    bad = HAND.copy()
    bad.loc[1, "open_date"] = "someday"
    with pytest.raises(DataError, match="open_date"):
        churn.churn_rate(bad, "2024-01-01")
    with pytest.raises(DataError, match="no customer was open"):
        churn.churn_rate(HAND, "2000-01-01")


def test_pilot_outcomes_by_hand():
    pilot = pd.DataFrame(
        {
            "customer_id": ["A", "B", "E", "F"],
            "group": ["offer", "control", "offer", "control"],
            "offer_date": "2024-03-01",
        }
    )
    out = churn.pilot_outcomes(pilot, HAND, "2024-12-31")
    # A closed 2024-03-05, F on 2024-12-31 (last day counts), E after the follow-up, B open
    assert out["churned"].tolist() == [1, 0, 0, 1]
    arms = churn.churn_by(out, "group").set_index("group")
    assert arms["churn_rate"].to_dict() == {"control": 0.5, "offer": 0.5}
    late = pilot.assign(offer_date="2024-04-01")
    with pytest.raises(DataError, match="closed before their offer date"):
        churn.pilot_outcomes(late, HAND, "2024-12-31")
    with pytest.raises(DataError, match="not in the customer table"):
        churn.pilot_outcomes(pilot.assign(customer_id="Q"), HAND, "2024-12-31")


# ----------------------------------------------------------------------------------------------
# cohort retention
# ----------------------------------------------------------------------------------------------
COHORTS = _customers(
    [
        ("c1", "2024-01-05", "2024-01-20", "mass"),  # closes in its opening month
        ("c2", "2024-01-10", "2024-03-15", "mass"),  # closes in month k = 2
        ("c3", "2024-01-31", None, "mass"),
        ("c4", "2024-01-02", "2024-06-01", "mass"),  # closes after as_of: still open
        ("c5", "2024-03-03", "2024-04-10", "mass"),  # k = 1
        ("c6", "2024-03-20", None, "mass"),
    ]
)


def test_cohort_retention_monthly_hand_table():
    t = churn.cohort_retention(COHORTS, as_of="2024-04-30")
    assert list(t.index) == ["2024-01", "2024-03"]
    assert list(t.columns) == [0, 1, 2, 3]
    np.testing.assert_allclose(t.loc["2024-01"].to_numpy(), [0.75, 0.75, 0.5, 0.5])
    np.testing.assert_allclose(t.loc["2024-03"].to_numpy()[:2], [1.0, 0.5])
    assert t.loc["2024-03", [2, 3]].isna().all()  # not observed yet


def test_cohort_retention_quarterly_and_since():
    t = churn.cohort_retention(COHORTS, period="Q", as_of="2024-04-30")
    assert list(t.index) == ["2024Q1"] and list(t.columns) == [0]  # Q2 is not complete
    assert t.iloc[0, 0] == pytest.approx(4 / 6)  # c1 and c2 closed in Q1
    t = churn.cohort_retention(COHORTS, as_of="2024-04-30", since="2024-02-15")
    assert list(t.index) == ["2024-03"]
    np.testing.assert_allclose(t.iloc[0, :2].to_numpy(), [1.0, 0.5])


# ----------------------------------------------------------------------------------------------
# score evaluation
# ----------------------------------------------------------------------------------------------
Y = [1, 0, 1, 0, 1]
P = [0.9, 0.8, 0.8, 0.3, 0.1]


def test_auc_matches_a_hand_count_of_pairs():
    # churner scores {.9, .8, .1} vs non-churner scores {.8, .3}: of the 6 pairs the churner is
    # higher in (.9,.8) (.9,.3) (.8,.3), tied in (.8,.8) -> (3 + 0.5) / 6
    ev = churn.evaluate_scores(Y, P)
    assert ev["auc"] == pytest.approx(3.5 / 6)
    assert ev["brier"] == pytest.approx((0.01 + 0.64 + 0.04 + 0.09 + 0.81) / 5)
    assert (ev["n"], ev["n_pos"]) == (5, 3)
    assert churn.evaluate_scores([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1])["auc"] == 1.0
    assert churn.evaluate_scores([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])["auc"] == 0.0


def test_roc_table_points_and_area():
    roc = churn.roc_curve_table(Y, P)
    np.testing.assert_allclose(roc["fpr"], [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(roc["tpr"], [0, 1 / 3, 2 / 3, 2 / 3, 1])
    area = np.sum(
        np.diff(roc["fpr"]) * (roc["tpr"].to_numpy()[1:] + roc["tpr"].to_numpy()[:-1]) / 2
    )
    assert area == pytest.approx(3.5 / 6)


def test_lift_and_gains_hand_example():
    y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    p = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    t = churn.lift_table(y, p, n_bins=5)
    # bins of two by score: (1, 1) (0, 1) (0, 0) (1, 0) (0, 0)
    assert t["n_churners"].tolist() == [2, 1, 0, 1, 0]
    np.testing.assert_allclose(t["lift"], [2.5, 1.25, 0, 1.25, 0])  # base rate 0.4
    np.testing.assert_allclose(t["cum_gain"], [0.5, 0.75, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(t["cum_lift"], [2.5, 0.75 / 0.4, 0.75 / 0.6, 1 / 0.8, 1.0])
    # unsorted input gives the same table; 11 rows in 5 bins: bins 1..k hold the top
    # round(k x 11 / 5) = 2, 4, 7, 9, 11 rows -> sizes 2, 2, 3, 2, 2
    order = [3, 0, 9, 5, 1, 7, 2, 8, 4, 6]
    t2 = churn.lift_table(np.array(y)[order], np.array(p)[order], n_bins=5)
    pd.testing.assert_frame_equal(t, t2)
    assert churn.lift_table([*y, 0], [*p, 0.05], n_bins=5)["n"].tolist() == [2, 2, 3, 2, 2]
    # 2,612 customers: the top tenth is round(261.2) = 261, as in targeting.backtest_rankings
    many = churn.lift_table([1, 0] * 1306, np.linspace(1, 0, 2612))
    # ends round(261.2, 522.4, 783.6, 1044.8, 1306, 1567.2, 1828.4, 2089.6, 2350.8, 2612)
    assert many["n"].tolist() == [261, 261, 262, 261, 261, 261, 261, 262, 261, 261]


def test_calibration_table_hand_example():
    t = churn.calibration_table([0, 0, 0, 1, 1, 1], [0.1, 0.1, 0.2, 0.2, 0.8, 0.9], n_bins=3)
    np.testing.assert_allclose(t["mean_predicted"], [0.1, 0.2, 0.85])
    np.testing.assert_allclose(t["observed_rate"], [0.0, 0.5, 1.0])
    assert t.loc[1, "ci_low"] == pytest.approx(_wilson_by_hand(1, 2)[0])
    u = churn.calibration_table(
        [0, 0, 0, 1, 1, 1], [0.1, 0.1, 0.2, 0.2, 0.8, 0.9], 2, strategy="uniform"
    )
    assert u["n"].tolist() == [4, 2]


def test_evaluation_rejects_bad_input():
    with pytest.raises(DataError, match="0/1"):
        churn.evaluate_scores([1, 2, 0], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="both"):
        churn.evaluate_scores([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        churn.evaluate_scores([1, 0], [0.1, 1.2])


# ----------------------------------------------------------------------------------------------
# churn data set on a hand-made example
# ----------------------------------------------------------------------------------------------
def _hand_dataset_inputs():
    cust = pd.DataFrame(
        {
            "customer_id": ["X", "Y", "Z", "W"],
            "open_date": ["2024-01-15", "2023-01-01", "2024-07-01", "2023-05-01"],
            "closure_date": ["2024-09-10", None, None, "2024-06-20"],
            "segment": ["mass", "affluent", "mass", "private"],
            "products_held": [1, 3, 1, 2],
            "salary_deposit": ["no", "yes", "no", "yes"],
            "relationship_manager": ["no", "yes", "no", "yes"],
            "digital_active": ["yes", "no", "yes", "no"],
        }
    )
    rows = []
    for cid, months in {
        "X": pd.period_range("2024-01", "2024-09", freq="M"),
        "Y": pd.period_range("2024-01", "2024-09", freq="M"),
        "Z": pd.period_range("2024-07", "2024-09", freq="M"),
        "W": pd.period_range("2024-01", "2024-06", freq="M"),
    }.items():
        for m in months:
            rows.append({"customer_id": cid, "month": str(m)})
    snaps = pd.DataFrame(rows)
    snaps["balance"] = 50.0
    snaps["n_transactions"] = 3
    snaps["logins"] = 1
    snaps["fee_rise"] = 0
    snaps["complaints"] = 0
    snaps["service_contacts"] = 0
    x = snaps["customer_id"] == "X"
    lookup = {"2024-04": (100.0, 4, 1, 0), "2024-05": (110.0, 2, 0, 1), "2024-06": (121.0, 0, 2, 1)}
    for m, (bal, logins, compl, fee) in lookup.items():
        sel = x & (snaps["month"] == m)
        snaps.loc[sel, ["balance", "logins", "complaints", "fee_rise"]] = [bal, logins, compl, fee]
    return cust, snaps


def test_build_churn_dataset_hand_example():
    cust, snaps = _hand_dataset_inputs()
    ds = churn.build_churn_dataset(cust, snaps, "2024-07-01", horizon_months=3, lookback_months=3)
    assert ds["customer_id"].tolist() == ["X", "Y"]  # Z opens on the date, W closed before
    x = ds.set_index("customer_id").loc["X"]
    assert x["churned"] == 1  # closes 2024-09-10 < 2024-10-01
    assert ds.set_index("customer_id").loc["Y", "churned"] == 0
    assert x["last_data_month"] == "2024-06" and x["months_observed"] == 3
    assert x["balance_change"] == pytest.approx(121 / 100 - 1)
    assert x["balance_mean"] == pytest.approx((100 + 110 + 121) / 3)
    assert x["logins_mean"] == pytest.approx(2.0)
    assert x["logins_change"] == pytest.approx((2 + 0) / 2 - 2)
    assert (x["complaints"], x["fee_rises"]) == (3, 2)
    assert x["tenure_months"] == pytest.approx(168 / (365.25 / 12))
    assert x["new_customer"] == 1 and x["products_held"] == 1 and x["salary_deposit"] == 0
    assert "fees_mean" not in ds.columns  # the hand snapshots have no fees_charged column
    assert ds.set_index("customer_id").loc["Y", "segment_affluent"] == 1


def test_build_churn_dataset_refuses_incomplete_labels_and_overlapping_split():
    cust, snaps = _hand_dataset_inputs()
    with pytest.raises(DataError, match="runs past the data end"):
        churn.build_churn_dataset(cust, snaps, "2024-08-01", horizon_months=3)
    with pytest.raises(DataError, match="training labels"):
        churn.time_split(cust, snaps, "2024-06-01", "2024-07-01", horizon_months=3)


def _closed_one_blanked():
    """The hand inputs plus V, closed 2024-02-10 (snapshots 2024-01..02), whose closure date
    was unreadable text and so is blank: V reads as open at 2024-07-01 with no snapshot in the
    lookback months 2024-04..06."""
    cust, snaps = _hand_dataset_inputs()
    v = cust.iloc[[1]].assign(customer_id="V", open_date="2023-01-01", closure_date=None)
    v_snaps = snaps[snaps["customer_id"] == "Y"].head(2).assign(customer_id="V")
    assert v_snaps["month"].tolist() == ["2024-01", "2024-02"]
    return pd.concat([cust, v], ignore_index=True), pd.concat([snaps, v_snaps], ignore_index=True)


def test_missing_balance_names_the_customers_and_the_closure_date_to_fix():
    cust, snaps = _closed_one_blanked()
    ds = churn.build_churn_dataset(cust, snaps, "2024-07-01", horizon_months=3, lookback_months=3)
    assert ds["customer_id"].tolist() == ["X", "Y", "V"]  # V counted as open: no closure date
    v = ds.set_index("customer_id").loc["V"]
    assert v["months_observed"] == 0 and np.isnan(v["balance_mean"])
    msg = churn.missing_balance_message(ds)
    assert msg.startswith("balance_mean is missing for 1 of 3 customers at risk at 2024-07-01")
    assert "(customer_id V): the monthly snapshots have no row for them in the months" in msg
    assert "closure_date" in msg and "customer table" in msg
    assert "leave it blank only for accounts still open" in msg
    assert "crmlab lookup" not in msg  # plain ids, not pseudonyms
    # with V's closure date written, V is not at risk and nothing is missing
    cust.loc[cust["customer_id"] == "V", "closure_date"] = "2024-02-10"
    fixed = churn.build_churn_dataset(cust, snaps, "2024-07-01", 3, 3)
    assert fixed["customer_id"].tolist() == ["X", "Y"]
    assert churn.missing_balance_message(fixed) is None


def test_missing_balance_from_unreadable_snapshot_balances_points_at_the_snapshots():
    cust, snaps = _hand_dataset_inputs()
    snaps.loc[snaps["customer_id"] == "Y", "balance"] = np.nan
    ds = churn.build_churn_dataset(cust, snaps, "2024-07-01", 3, 3)
    msg = churn.missing_balance_message(ds.assign(customer_id=["X", "P-0123456789ab"]))
    assert "1 of 2" in msg and "P-0123456789ab" in msg and "no readable balance" in msg
    assert "closure" not in msg and "crmlab lookup" in msg


# ----------------------------------------------------------------------------------------------
# synthetic data: leakage guard, logit, evaluation
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("fin20k")
    generate_finance(out, seed=42, n_customers=20_000)
    return read_finance(out)


def test_dataset_never_reads_snapshots_from_the_prediction_date_on(synth):
    c, s, truth = synth["customers"], synth["snapshots"], synth["truth"]
    t = truth["train_prediction_date"]
    clean = churn.build_churn_dataset(c, s, t)
    # plant a perfect future-only signal: from the prediction month on, churners' snapshots
    # scream (99 complaints, zero balance, garbage logins)
    churners = set(clean.loc[clean["churned"] == 1, "customer_id"])
    future = (s["month"] >= t[:7]) & s["customer_id"].isin(churners)
    leaky = s.copy()
    leaky.loc[future, "complaints"] = 99
    leaky.loc[future, "balance"] = 0.0
    leaky["logins"] = leaky["logins"].astype("object")
    leaky.loc[future, "logins"] = "LEAK"
    assert future.sum() > 1000
    built = churn.build_churn_dataset(c, leaky, t)
    pd.testing.assert_frame_equal(clean, built)
    assert (
        churn.evaluate_scores(built["churned"], built["complaints"].clip(0, 1) * 0.5)["auc"] < 0.7
    )
    # the planted signal would be perfect if it had been read
    fut = leaky[future].groupby("customer_id")["complaints"].sum()
    score = built["customer_id"].map(fut).fillna(0).gt(0).astype(float)
    assert churn.evaluate_scores(built["churned"], score)["auc"] == 1.0


def test_assert_no_leakage_catches_planted_leaks(synth):
    c, s, truth = synth["customers"], synth["snapshots"], synth["truth"]
    t = truth["prediction_date"]
    ds = churn.build_churn_dataset(c, s, t).iloc[:50].copy()
    churn.assert_no_leakage(ds, t)  # clean
    leak = ds.copy()
    leak.loc[7, "last_data_month"] = t[:7]  # the prediction month itself is not complete yet
    with pytest.raises(DataError, match="rows 7"):
        churn.assert_no_leakage(leak, t)
    leak = ds.copy()
    leak["last_complaint_date"] = pd.Timestamp("2025-06-01")
    leak.loc[3, "last_complaint_date"] = pd.Timestamp(t) + pd.Timedelta(days=2)
    with pytest.raises(DataError, match="last_complaint_date"):
        churn.assert_no_leakage(leak, t)
    with pytest.raises(DataError, match="last_data_month"):
        churn.assert_no_leakage(ds.drop(columns="last_data_month"), t)


def test_logit_recovers_the_planted_risk_factors_with_the_right_sign(synth):
    c, s, truth = synth["customers"], synth["snapshots"], synth["truth"]
    train, test = churn.time_split(c, s, truth["train_prediction_date"], truth["prediction_date"])
    features = [
        "products_held", "salary_deposit", "relationship_manager", "segment_affluent",
        "segment_private", "complaints", "fee_rises", "balance_change",
    ]  # fmt: skip
    model = churn.fit_churn_logit(train, features)
    t = model.table.set_index("feature")
    for protective in ("products_held", "salary_deposit", "relationship_manager"):
        assert t.loc[protective, "ci_high"] < 1, protective
    for risk in ("complaints", "fee_rises"):
        assert t.loc[risk, "ci_low"] > 1, risk
    assert t.loc["balance_change", "ci_high"] < 1  # money leaves before the account closes
    assert t.loc["segment_private", "odds_ratio"] < t.loc["segment_affluent", "odds_ratio"] < 1
    ev = churn.evaluate_scores(test["churned"], model.predict(test))
    assert 0.62 < ev["auc"] < 0.85
    # out of time, the observed rate of the test set is close to the planted expectation
    assert abs(test["churned"].mean() - truth["expected_churn_12m"]) < 0.03
    lift = churn.lift_table(test["churned"], model.predict(test))
    assert lift.loc[0, "lift"] > 1.8 and lift["cum_gain"].is_monotonic_increasing


def test_logit_rejects_missing_values():
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "churned": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="rows 1"):
        churn.fit_churn_logit(df, ["a"])


def test_churn_charts_draw_the_given_data(synth):
    from crmlab.charts import churn as charts

    c, truth = synth["customers"], synth["truth"]
    ret = churn.cohort_retention(c, since=truth["window_start"], as_of=truth["data_end"])
    ax = charts.plot_cohort_heatmap(ret, max_k=12)
    assert len(ax.get_xticklabels()) == 13
    roc = churn.roc_curve_table(Y, P)
    ax = charts.plot_roc_curve(roc, auc=3.5 / 6)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), roc["fpr"])
    lift = churn.lift_table([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], np.linspace(1, 0.1, 10), n_bins=5)
    ax = charts.plot_cumulative_gains(lift)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0, 0.5, 0.75, 0.75, 1, 1])
    cal = churn.calibration_table([0, 0, 0, 1, 1, 1], [0.1, 0.1, 0.2, 0.2, 0.8, 0.9], n_bins=3)
    assert charts.plot_calibration(cal).get_xlabel().startswith("Mean predicted")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_quartile_bands_of_money_read_as_numbers_not_scientific_notation():
    """A flag extract's balance in quartile bands: '342.3 - 13,610', not '342.3 - 1.361e+04'
    (found by a new-user trial). Edges are pandas' quartiles to four significant digits."""
    balances = pd.Series([100.0, 342.3, 5000.0, 13610.2, 50000.0, 84100.4, 900000.0, 3550646.0])
    bands = churn._quartile_band(balances)
    labels = list(bands.cat.categories)
    assert len(labels) == 4 and not any("e+" in x for x in labels)
    # quartiles of the 8 values (linear interpolation at 0.25, 0.5, 0.75 x 7): 342.3 + 0.75 x
    # 4,657.7 = 3,835.6; (13,610.2 + 50,000) / 2 = 31,805.1; 84,100.4 + 0.25 x 815,899.6 =
    # 288,075.3 - to four significant digits
    assert labels[1:] == ["3,836 - 31,810", "31,810 - 288,100", "288,100 - 3,551,000"]
