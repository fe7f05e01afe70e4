"""The finance case's flag path: a one-row-per-customer extract with a churned flag and a tenure
(no dates). Known answers: hand-counted shares, Wilson intervals written out, the planted hazard
ratios of :mod:`crmlab.synth.finance_flag`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crmlab import churn, config, ingest, modeling, schemas, sources
from crmlab import survival as sv
from crmlab.errors import DataError
from crmlab.synth.finance_flag import telco_flag_table


def _canonical(table: pd.DataFrame) -> pd.DataFrame:
    """The generator's client table with canonical names for the flag, tenure and id."""
    return pd.DataFrame(
        {
            "customer_id": table["客户编号"],
            "churned": table["是否流失"],
            "tenure_months": table["在网月数"],
            "性别": table["性别"],
            "合约类型": table["合约类型"],
            "月费": table["月费"].str.replace("￥", "").str.replace(",", "").astype(float),
            "电子账单": table["电子账单"],
        }
    )


@pytest.fixture(scope="module")
def planted():
    table, truth = telco_flag_table(4000, seed=3)
    return _canonical(table), truth


def test_mode_follows_the_columns():
    dated = {"open_date": [], "closure_date": []}
    assert churn.churn_mode(pd.DataFrame(dated)) == "dates"
    assert churn.churn_mode(pd.DataFrame({**dated, "churned": []})) == "dates"
    assert churn.churn_mode(pd.DataFrame({"customer_id": [], "churned": []})) == "flag"
    # opening dates without closure dates: the flag says who left (a bank's list, trial)
    assert churn.churn_mode(pd.DataFrame({"open_date": [], "churned": []})) == "flag"
    assert churn.churn_mode(None) is None
    with pytest.raises(DataError, match="neither open_date"):
        churn.churn_mode(pd.DataFrame({"customer_id": []}))
    # opening dates only: nothing says who left - the message says what to map
    with pytest.raises(DataError, match="neither closure_date nor a churned flag") as err:
        churn.churn_mode(pd.DataFrame({"customer_id": [], "open_date": []}))
    assert "map closure_date" in str(err.value) and "or churned" in str(err.value)


def test_baseline_is_the_share_flagged_with_its_wilson_interval():
    df = pd.DataFrame(
        {
            "customer_id": list("abcdefghij"),
            "churned": ["Yes", "是", "1", 0, "否", "No", "no", 0, 0, "true"],
        }
    )
    r = churn.flag_churn_rate(df, alpha=0.05)
    assert (r.n, r.n_lost, r.rate) == (10, 4, 0.4)
    z = 1.959963984540054
    centre = (0.4 + z**2 / 20) / (1 + z**2 / 10)
    half = z * math.sqrt(0.4 * 0.6 / 10 + z**2 / 400) / (1 + z**2 / 10)
    assert (r.ci_low, r.ci_high) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert "no period stated" in r.period and r.metric == "churn_share"
    r12 = churn.flag_churn_rate(df, period_months=12)
    assert r12.metric == "churn_rate_12m" and "12 months" in r12.period
    bad = df.assign(churned=["maybe", *df["churned"][1:]])
    with pytest.raises(DataError, match="churned"):
        churn.flag_churn_rate(bad)


def test_goal_of_a_flag_baseline_with_and_without_a_month():
    r = churn.FlagRate(0.25, 0.2, 0.3, 400, 100)
    rec = churn.flag_goal_record(r, -0.2, 12)
    assert rec["goal.target"] == pytest.approx(0.2) and rec["goal.gap_points"] == pytest.approx(-5)
    assert "goal.deadline" not in rec
    dated = churn.flag_goal_record(r, -0.2, 12, "2025-06")
    assert dated["goal.deadline"] == "2026-06" and dated["goal.target"] == pytest.approx(0.2)


def test_tenure_bands_from_months_match_the_date_bands():
    months = pd.Series([0, 11.9, 12, 30, 60, 119, 120, np.nan])
    bands = churn.tenure_band_months(months)
    assert list(bands.astype("str")[:7]) == [
        "< 1 year",
        "< 1 year",
        "1-2 years",
        "2-5 years",
        "5-10 years",
        "5-10 years",
        "10+ years",
    ]
    assert pd.isna(bands.iloc[7])


def test_churn_tables_cover_the_auto_columns(planted):
    df, _ = planted
    tables = churn.flag_churn_tables(df)
    assert list(tables)[:2] == ["tenure_band", "性别"]
    assert {"合约类型", "月费", "电子账单"} <= set(tables)
    t = tables["合约类型"].set_index("合约类型")
    flags = churn.flag_customers(df)["churned"]
    assert t.loc["两年", "churn_rate"] == pytest.approx(flags[df["合约类型"] == "两年"].mean())
    assert len(tables["月费"]) == 4  # quartile bands
    assert "customer_id" not in tables


def test_stratified_split_keeps_the_share_and_the_seed():
    df = pd.DataFrame({"churned": [1] * 30 + [0] * 70, "x": range(100)})
    train, test = modeling.stratified_split(df, "churned", 0.3, seed=1)
    assert len(test) == 30 and test["churned"].sum() == 9 and train["churned"].sum() == 21
    again, _ = modeling.stratified_split(df, "churned", 0.3, seed=1)
    other, _ = modeling.stratified_split(df, "churned", 0.3, seed=2)
    assert list(again.index) == list(train.index) != list(other.index)
    assert not set(train.index) & set(test.index)
    with pytest.raises(DataError, match="test_share"):
        modeling.stratified_split(df, "churned", 1.0)


def test_drop_collinear_drops_exact_combinations():
    X = pd.DataFrame({"a": [1.0, 0, 1, 0, 1], "b": [0.0, 1, 0, 1, 0], "c": [2.0, 3, 5, 7, 1]})
    X["d"] = X["c"] * 2 + X["a"]
    kept, dropped = modeling.drop_collinear(X)
    assert kept == ["a", "c"] and dropped == ["b", "d"]  # b = 1 - a (with the intercept)


def test_logit_recovers_the_planted_signs(planted):
    df, _ = planted
    fit = modeling.fit_flag_model(df, test_share=0.3, seed=42)
    t = fit.model.table.set_index("feature")
    assert t.loc["合约类型_两年", "odds_ratio"] < t.loc["合约类型_一年", "odds_ratio"] < 1
    assert t.loc["月费", "odds_ratio"] > 1 and t.loc["月费", "p_value"] < 1e-6
    assert t.loc["性别_女" if "性别_女" in t.index else "性别_男", "p_value"] > 0.01
    assert "tenure_months" not in fit.features and "customer_id" not in fit.features
    assert fit.quality["n"] == 1200 and 0.65 < fit.quality["auc"] < 0.85
    assert fit.test["churned"].mean() == pytest.approx(fit.train["churned"].mean(), abs=0.002)


def test_cox_recovers_the_planted_hazard_ratios(planted):
    df, truth = planted
    fit, frame = sv.flag_cox(df)
    t = fit.table.set_index("covariate")
    for name in ("合约类型_一年", "合约类型_两年", "月费"):
        beta = truth["log_hazard_ratios"][name]
        assert t.loc[name, "coef"] == pytest.approx(beta, abs=0.15 * abs(beta)), name
        assert t.loc[name, "ci_low"] < math.exp(beta) < t.loc[name, "ci_high"], name
    assert t.loc["电子账单", "p_value"] > 0.01
    assert frame["event"].sum() == truth["n_churned"]


def test_km_group_is_the_category_that_separates_churn_most(planted):
    df, _ = planted
    assert sv.km_group_column(df) == "合约类型"
    assert sv.km_group_column(df, "性别") == "性别"
    assert sv.km_group_column(df.assign(segment="mass")) == "segment"
    with pytest.raises(DataError, match="not in the customer table"):
        sv.km_group_column(df, "region")


def test_scored_customers_are_those_still_there():
    df = pd.DataFrame(
        {
            "customer_id": ["P-1", "P-2", "P-3", "P-4"],
            "churned": [0, 1, 0, 0],
            "tenure_months": [3, 20, 40, 50],
            "fee": [10.0, 20.0, 30.0, 40.0],
        }
    )
    scored = sv.flag_scored(df, [0.1, 0.9, 0.5, 0.2], at_risk_prob=0.4, value_column="fee")
    assert list(scored["customer_id"]) == ["P-1", "P-3", "P-4"]
    assert list(scored["stage"].astype("str")) == ["new", "at_risk", "mature"]
    assert list(scored["value"]) == [120.0, 360.0, 480.0]
    plain = sv.flag_scored(df, [0.1, 0.9, 0.5, 0.2])
    assert set(plain["value"]) == {1.0} and set(plain["tier"]) == {"B"}


def test_flag_kpis_compare_the_share_with_its_target():
    df = pd.DataFrame(
        {"customer_id": list("abcd"), "churned": [1, 0, 0, 0], "products_held": [1, 2, 3, 4]}
    )
    board = churn.flag_kpis(df, {"churn_rate_12m": 0.2, "products_per_customer": 2.5}).set_index(
        "key"
    )
    assert board.loc["churn_share", "actual"] == 0.25 and not board.loc["churn_share", "met"]
    assert (
        board.loc["products_per_customer", "actual"] == 3.0
        and board.loc["products_per_customer", "met"]
    )


def test_the_schema_variant_needs_only_the_flag():
    spec = schemas.case_schema("finance_churn")["customers"]
    assert spec.required_names({"customer_id", "churned"}) == {"customer_id", "churned"}
    flag = {"customer_id", "churned"}
    assert spec.required_names({"customer_id", "churned", "open_date"}) == flag
    assert spec.required_names({"customer_id", "churned", "closure_date"}) == flag
    both = {"customer_id", "churned", "open_date", "closure_date"}
    assert spec.required_names(both) >= {"segment", "open_date", "closure_date"}
    assert spec.required_names({"customer_id"}) == {
        "customer_id",
        "open_date",
        "closure_date",
        "segment",
        "products_held",
    }
    assert spec.required  # the finance case cannot run without its customers
    rules = sources.case_rules(
        "finance_churn", {"customers": pd.DataFrame(columns=["customer_id", "churned"])}
    )
    assert rules["customers"]["required"] == ["customer_id", "churned"]


def test_validation_of_a_flag_config(tmp_path):
    table, truth = telco_flag_table(300, seed=1)
    table.to_csv(tmp_path / "c.csv", index=False, encoding="utf-8-sig")
    text = (
        "case: finance_churn\ndata:\n  customers: c.csv\ncolumns:\n  customer_id: 客户编号\n"
        "  churned: 是否流失\n  tenure_months: 在网月数\n"
        'values:\n  churned: {true: ["Yes", "是", 1], false: ["No", "否", 0]}\n'
        "features: auto\npii: [客户姓名]\n"
    )
    (tmp_path / "ok.yaml").write_text(text, encoding="utf-8")
    prepared = ingest.load(config.load_config(tmp_path / "ok.yaml"))
    assert prepared.ok, prepared.errors
    customers = prepared.tables["customers"]
    assert (
        customers["churned"].sum() == truth["n_churned"] and customers["churned"].isin([0, 1]).all()
    )
    assert customers["月费"].dtype == "float64"  # ￥ text typed as numbers by features: auto
    # without the flag the dated shape applies: open_date is missing, with a hint to the flag
    (tmp_path / "bad.yaml").write_text(text.replace("  churned: 是否流失\n", ""), encoding="utf-8")
    problems = ingest.load(config.load_config(tmp_path / "bad.yaml")).problems
    missing = [p for p in problems if p["rule"] == "required column is missing"]
    assert {p["column"] for p in missing} == {
        "open_date",
        "closure_date",
        "segment",
        "products_held",
    }
    assert "map churned: YOUR_COLUMN" in missing[0]["hint"]
    # the client's own words (流失 / 在网), not mapped: a yes/no problem, not a broken number
    words = table.assign(
        是否流失=table["是否流失"].isin(["Yes", "是", "1", 1]).map({True: "流失", False: "在网"})
    )
    words.to_csv(tmp_path / "c.csv", index=False, encoding="utf-8-sig")
    problems = ingest.load(config.load_config(tmp_path / "ok.yaml")).problems
    [p] = [p for p in problems if p["column"] == "是否流失"]
    assert p["rule"].startswith("neither 1/0 nor a yes/no word") and p["severity"] == "error"
    assert p["hint"].startswith("add the client's words: values: churned: {true: [...]")
    assert "decimal comma" not in p["hint"]


def _bank_list(tmp_path):
    """A bank's customer list with opening dates and a churned flag, no closure dates (as a
    new-user trial's export): 6 customers, 2 of them flagged."""
    rows = [
        ("C1", "20250301", "大众客户", 1, "是"),  # opened < 1 year before the extract's end
        ("C2", "20250615", "大众客户", 2, "否"),  # (the latest opening: end 2025-06-30)
        ("C3", "20230701", "富裕客户", 3, "否"),  # 2-5 years
        ("C4", "20220101", "富裕客户", 2, "是"),  # 2-5 years
        ("C5", "20200101", "大众客户", 1, "否"),  # 5-10 years
        ("C6", "20180101", "私人银行", 4, "否"),  # 5-10 years
    ]
    table = pd.DataFrame(
        rows, columns=["客户编号", "开户日期", "客户等级", "持有产品数", "是否流失"]
    )
    table.to_csv(tmp_path / "c.csv", index=False, encoding="utf-8-sig")
    return (
        "case: finance_churn\ndata:\n  customers: c.csv\ncolumns:\n  customer_id: 客户编号\n"
        "  customers:\n    open_date: {column: 开户日期, format: '%Y%m%d'}\n    segment: 客户等级\n"
        "    products_held: 持有产品数\n"
        "values:\n  segment: {mass: [大众客户], affluent: [富裕客户], private: [私人银行]}\n"
    )


def test_opening_dates_without_closure_dates_need_a_flag(tmp_path):
    """Opening dates alone say nothing of who left: validate blocks, naming closure_date and
    the churned flag as what to map (it used to pass, and stage 1 crashed)."""
    text = _bank_list(tmp_path)
    (tmp_path / "dates.yaml").write_text(text, encoding="utf-8")
    problems = ingest.load(config.load_config(tmp_path / "dates.yaml")).problems
    [p] = [p for p in problems if p["severity"] == "error"]
    assert (p["source"], p["file"], p["column"]) == ("customers", "c.csv", "closure_date")
    assert p["rule"] == "required column is missing"
    assert "columns: customers: closure_date: YOUR_COLUMN" in p["hint"]
    assert "map churned: YOUR_COLUMN" in p["hint"] and "是否流失" in p["hint"]


def test_opening_dates_with_a_flag_take_the_flag_path(tmp_path):
    """The same list with its flag mapped: validate passes, the case takes the flag path (the
    share flagged) and the opening dates group churn by time since opening."""
    text = _bank_list(tmp_path).replace(
        "    products_held:", "    churned: 是否流失\n    products_held:"
    )
    (tmp_path / "flag.yaml").write_text(text, encoding="utf-8")
    prepared = ingest.load(config.load_config(tmp_path / "flag.yaml"))
    assert prepared.ok, prepared.errors
    customers = prepared.tables["customers"]
    assert churn.churn_mode(customers) == "flag"
    rules = sources.case_rules("finance_churn", {"customers": customers})
    assert rules["customers"]["required"] == ["customer_id", "churned"]
    assert rules["customers"]["dates"] == ["open_date"]
    rate = churn.flag_churn_rate(customers)
    assert (rate.n, rate.n_lost, rate.rate) == (6, 2, pytest.approx(2 / 6))
    by = churn.flag_churn_tables(customers)["since_opening"].set_index("since_opening")
    assert by["churn_rate"].to_dict() == pytest.approx(
        {"< 1 year": 0.5, "2-5 years": 0.5, "5-10 years": 0.0}
    )
    assert by["n_at_risk"].to_dict() == {"< 1 year": 2, "2-5 years": 2, "5-10 years": 2}
    assert "Opening dates do not give one" in churn.no_tenure_reason(customers)
    assert "Opening dates" not in churn.no_tenure_reason(customers.drop(columns="open_date"))


def test_the_finance_case_needs_its_customers(tmp_path):
    """Without a customer table nothing says who left: validate says the source is required
    and a missing customer file's hint no longer offers running without it (a new-user trial
    removed it as told, validate passed and stage 3 failed)."""
    pd.DataFrame({"customer_no": ["C1", "C2"], "arm": ["offer", "control"]}).assign(
        offer_date="2025-01-10"
    ).to_csv(tmp_path / "p.csv", index=False)
    pilot = "  pilot: p.csv\ncolumns:\n  pilot:\n    customer_id: customer_no\n    group: arm\n"
    (tmp_path / "none.yaml").write_text(f"case: finance_churn\ndata:\n{pilot}", encoding="utf-8")
    [p] = ingest.load(config.load_config(tmp_path / "none.yaml")).problems
    assert (p["severity"], p["source"], p["file"]) == ("error", "customers", "none.yaml")
    assert p["rule"] == "source customers is required by the finance_churn case"
    assert "add `customers: exports/YOUR_FILE.csv`" in p["hint"] and "under data:" in p["hint"]
    # a customer file that is not there: found-not hint without "remove it"; an optional
    # source's missing file still offers it
    (tmp_path / "gone.yaml").write_text(
        f"case: finance_churn\ndata:\n  customers: gone.csv\n  snapshots: s.csv\n{pilot}",
        encoding="utf-8",
    )
    problems = ingest.load(config.load_config(tmp_path / "gone.yaml")).problems
    hints = {p["source"]: p["hint"] for p in problems if p["rule"] == "file not found"}
    assert "runs without it" not in hints["customers"] and "remove" not in hints["customers"]
    assert "Or remove `snapshots:` from data: (the case runs without it)." in hints["snapshots"]


def test_a_data_folder_without_customers_stops_before_the_run(tmp_path):
    """`crmlab run finance_churn -p data_dir=...` on a folder without customers.csv stops before
    any notebook, naming the folder and the file the case needs."""
    from crmlab import runner

    pd.DataFrame({"customer_id": ["C1"], "month": ["2025-01"]}).to_csv(
        tmp_path / "snapshots.csv", index=False
    )
    [msg] = runner._missing_required_columns("finance_churn", str(tmp_path))
    assert msg.startswith(f"{tmp_path}: no customers file (customers.csv or customers.parquet)")
    assert "cannot run without it" in msg
    assert runner._missing_required_columns("retail_satisfaction", str(tmp_path)) == []
