"""The finance churn case's synthetic data: structure, determinism, and that the data agree with
the planted truth (churn rates, pilot arms) within sampling error."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from crmlab import churn
from crmlab.errors import ParameterError
from crmlab.synth import finance
from crmlab.synth.finance import generate_finance, national_id_check_char, read_finance


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("finance")
    truth = generate_finance(out, seed=42)
    d = read_finance(out)
    d["dir"] = out
    d["returned_truth"] = truth
    return d


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_finance(a, seed=7, n_customers=800)
    generate_finance(b, seed=7, n_customers=800)
    generate_finance(c, seed=8, n_customers=800)
    for name in ("customers.csv", "snapshots.csv", "pilot.csv", "truth.json"):
        assert _digest(a / name) == _digest(b / name), name
    assert _digest(a / "customers.csv") != _digest(c / "customers.csv")
    assert not list(a.glob(".*tmp")), "temporary files left behind"


def test_parquet_holds_the_same_data_as_csv(tmp_path):
    generate_finance(tmp_path / "csv", seed=3, n_customers=300)
    generate_finance(tmp_path / "pq", seed=3, n_customers=300, fmt="parquet")
    a, b = read_finance(tmp_path / "csv"), read_finance(tmp_path / "pq")
    for name in ("customers", "snapshots", "pilot"):
        pd.testing.assert_frame_equal(a[name], b[name])


def test_chunked_generation_is_consistent(tmp_path, monkeypatch):
    monkeypatch.setattr(finance, "CHUNK_SIZE", 1000)
    truth = generate_finance(tmp_path, seed=5, n_customers=2500)
    d = read_finance(tmp_path)
    c, p = d["customers"], d["pilot"]
    assert list(c["customer_id"]) == [f"F{i:06d}" for i in range(1, 2501)]
    assert truth["sizes"]["n_snapshots"] == len(d["snapshots"])
    assert truth["pilot"]["n_offer"] == (p["group"] == "offer").sum()
    # each of the three chunks splits its eligible customers in half
    chunk = (c.set_index("customer_id").index.get_indexer(p["customer_id"])) // 1000
    for k in range(3):
        groups = p.loc[chunk == k, "group"].value_counts()
        assert abs(groups.get("offer", 0) - groups.get("control", 0)) <= 1


def test_bad_parameters_raise(tmp_path):
    with pytest.raises(ParameterError, match="last day of a month"):
        generate_finance(tmp_path, end_date="2026-10-15")
    with pytest.raises(ParameterError, match="fmt"):
        generate_finance(tmp_path, fmt="xlsx")


def test_customer_table_structure(data):
    c = data["customers"]
    assert list(c.columns) == [
        "customer_id", "name", "email", "phone", "national_id", "open_date", "closure_date",
        "age", "region", "segment", "products_held", "salary_deposit", "relationship_manager",
        "digital_active",
    ]  # fmt: skip
    assert len(c) == 5000 and c["customer_id"].is_unique
    assert c["customer_id"].str.fullmatch(r"F\d{6}").all()
    # fictional: no Chinese mobile number starts with 100 (10x are service numbers)
    assert c["phone"].str.fullmatch(r"100\d{8}").all()
    assert c["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@(mail\.)?example\.(com|net|org)").all()
    assert c["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z.]+").all()
    assert set(c["segment"]) == {"mass", "affluent", "private"}
    for col in ("salary_deposit", "relationship_manager", "digital_active"):
        assert set(c[col]) == {"yes", "no"}
    assert c["age"].between(18, 85).all() and c["products_held"].between(1, 8).all()
    window_start = pd.Timestamp(data["truth"]["window_start"])
    end = pd.Timestamp(data["truth"]["data_end"])
    closed = c["closure_date"].notna()
    assert (c.loc[closed, "closure_date"] >= window_start).all()
    assert (c.loc[closed, "closure_date"] <= end).all()
    assert (c.loc[closed, "closure_date"] >= c.loc[closed, "open_date"]).all()
    assert (c["open_date"] <= end).all()


def test_national_ids_are_shaped_like_ids_but_fail_their_check_character(data):
    """Fictional ids: region code and birth date as in a resident id, but a check character the
    standard rejects, so none is a real person's (a trainer's trial found valid ones)."""
    ids = data["customers"]["national_id"]
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    # GB 11643 / ISO 7064 MOD 11-2, written out independently of the generator
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for nid in ids.iloc[:300]:
        total = sum(int(ch) * w for ch, w in zip(nid[:17], weights, strict=True))
        assert nid[17] != "10X98765432"[total % 11]
    # known example from the standard: 11010519491231002X
    digits = np.array([[int(ch) for ch in "11010519491231002"]])
    assert national_id_check_char(digits)[0] == "X"
    # the birth date inside the id agrees with the age at the data end (+- 1 year)
    c = data["customers"].iloc[:300]
    birth = pd.to_datetime(c["national_id"].str[6:14], format="%Y%m%d")
    age = (pd.Timestamp(data["truth"]["data_end"]) - birth).dt.days / 365.25
    assert (abs(age - c["age"]) <= 1.01).all()


def test_snapshots_cover_each_open_month_exactly(data):
    c, s = data["customers"], data["snapshots"]
    first = max(pd.Period(data["truth"]["window_start"], "M"), pd.Period("1900-01", "M"))
    last = pd.Period(data["truth"]["data_end"], "M")
    m = pd.PeriodIndex(s["month"], freq="M")
    assert m.min() >= first and m.max() <= last
    assert not s.duplicated(["customer_id", "month"]).any()
    start = (
        c["open_date"]
        .dt.to_period("M")
        .where(c["open_date"] >= pd.Timestamp(first.start_time), first)
    )
    stop = c["closure_date"].dt.to_period("M").fillna(last)
    expected = [(b - a).n + 1 for a, b in zip(start, stop, strict=True)]
    counts = s.groupby("customer_id").size().reindex(c["customer_id"]).fillna(0)
    assert counts.to_numpy().tolist() == expected
    assert (s[["n_transactions", "logins", "complaints", "service_contacts"]] >= 0).all().all()
    assert set(s["fee_rise"]) <= {0, 1}
    assert len(s) == data["truth"]["sizes"]["n_snapshots"]


def test_twelve_month_churn_matches_truth(data):
    truth, c = data["truth"], data["customers"]
    assert truth == data["returned_truth"]
    t = pd.Timestamp(truth["prediction_date"])
    end = t + pd.DateOffset(months=12)
    at_risk = (c["open_date"] < t) & (c["closure_date"].isna() | (c["closure_date"] >= t))
    lost = at_risk & (c["closure_date"] < end)
    assert at_risk.sum() == truth["churn_12m"]["test"]["n_at_risk"]
    expected = truth["expected_churn_12m"]
    assert 0.20 <= expected <= 0.27
    se = math.sqrt(expected * (1 - expected) / at_risk.sum())
    assert abs(lost.sum() / at_risk.sum() - expected) < 3 * se
    by_seg = truth["expected_churn_12m_by_segment"]
    assert by_seg["mass"] > by_seg["affluent"] > by_seg["private"]
    for seg in ("mass", "affluent"):
        sel = at_risk & (c["segment"] == seg)
        rate = lost[sel].mean()
        se = math.sqrt(by_seg[seg] * (1 - by_seg[seg]) / sel.sum())
        assert abs(rate - by_seg[seg]) < 3 * se, seg


def test_truth_reports_the_planted_model(data):
    truth = data["truth"]
    assert truth["log_hazard"]["complaints_6m"] > 0 and truth["log_hazard"]["fee_rise_6m"] > 0
    for k in ("products_held", "salary_deposit", "relationship_manager"):
        assert truth["log_hazard"][k] < 0
    for k, v in truth["log_hazard"].items():
        assert truth["hazard_ratios"][k] == pytest.approx(math.exp(v))
    assert truth["prediction_date"] == "2025-11-01"
    assert truth["train_prediction_date"] == "2024-11-01"


def test_pilot_follows_its_rule_and_matches_the_expected_churn(data):
    truth, c, s, p = data["truth"], data["customers"], data["snapshots"], data["pilot"]
    tp = truth["pilot"]
    offer_date = pd.Timestamp(tp["offer_date"])
    assert offer_date == pd.Timestamp("2026-05-01")
    assert (p["offer_date"] == offer_date).all()
    # eligibility re-derived from the data: open at the offer date and flagged by the rule
    before = pd.PeriodIndex(s["month"], freq="M")
    window = (before >= pd.Period("2025-11", "M")) & (before <= pd.Period("2026-04", "M"))
    complaints = s[window].groupby("customer_id")["complaints"].sum()
    cc = c.set_index("customer_id")
    open_at = (cc["open_date"] < offer_date) & (
        cc["closure_date"].isna() | (cc["closure_date"] >= offer_date)
    )
    flagged = (complaints.reindex(cc.index).fillna(0) >= 1) | (
        (cc["products_held"] <= 2) & (cc["salary_deposit"] == "no")
        & (cc["relationship_manager"] == "no")
    )  # fmt: skip
    assert set(p["customer_id"]) == set(cc.index[open_at & flagged])
    n_off, n_ctl = (p["group"] == "offer").sum(), (p["group"] == "control").sum()
    assert abs(n_off - n_ctl) <= 1 and n_off == tp["n_offer"] and n_ctl == tp["n_control"]
    # observed churn per arm over the follow-up vs the planted expectation
    closed = cc.loc[p["customer_id"], "closure_date"].notna().to_numpy()
    outcome = churn.pilot_outcomes(p, c, tp["follow_up_end"])
    assert outcome["churned"].tolist() == closed.astype(int).tolist()
    for arm, key in (("offer", "expected_churn_offer"), ("control", "expected_churn_control")):
        sel = (p["group"] == arm).to_numpy()
        e = tp[key]
        se = math.sqrt(e * (1 - e) / sel.sum())
        assert abs(closed[sel].mean() - e) < 3 * se, arm
    assert tp["expected_churn_offer"] < tp["expected_churn_control"]
    assert tp["expected_uplift_abs"] == pytest.approx(
        tp["expected_churn_control"] - tp["expected_churn_offer"]
    )
    # a hazard ratio of 0.7 cuts a ~20% churn by a bit less than 30% (1 - exp(-0.7 H) vs 1 - e^-H)
    assert 0.2 < tp["expected_relative_reduction"] < 0.3
