"""The finance churn case end to end through the runner.

- On the default synthetic data the recorded figures recover the planted truth (truth.json): the
  Cox intervals cover the planted hazard ratios, the logit's odds ratios have the planted signs,
  the pilot interval covers the planted uplift, the model discriminates out of time.
- Recorded figures agree with independent counts on the raw files.
- On partial data (no pilot; no snapshots) every stage still runs, says what it skipped and records
  only what it computed; extra client columns in the customer table become model features.
- No personal value (name, e-mail, phone, national id) appears in any output of a run.
"""

from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from crmlab import paths, runner
from crmlab.engine import java_available
from crmlab.privacy import assert_no_pii
from crmlab.synthetic import ensure_synthetic, generate
from tests import engine_guard
from tests.deliverables_support import canonical_run

CASE = "finance_churn"
PII = ["name", "email", "phone", "national_id"]


def _run(tmp_path, **params):
    [res] = runner.run_cases([CASE], params, out_root=tmp_path / "reports", progress=False)
    assert res.ok, res.error
    return res.run_dir, json.loads((res.run_dir / "results.json").read_text())


def _raw(name):
    return pd.read_csv(ensure_synthetic(CASE) / f"{name}.csv", dtype=str)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The canonical run, shared with the deliverables' tests (one run per test session)."""
    truth = json.loads((ensure_synthetic(CASE) / "truth.json").read_text())
    run_dir = canonical_run(tmp_path_factory, CASE)
    return run_dir, json.loads((run_dir / "results.json").read_text()), truth


def test_goal_figures_are_recorded_and_agree_with_a_count_on_the_raw_file(default_run):
    _, r, truth = default_run
    assert r["n_customers"] == truth["sizes"]["n_customers"]
    assert r["goal.metric"] == "churn_rate_12m" and r["goal.deadline_months"] == 12
    assert r["goal.target"] == pytest.approx(0.8 * r["goal.baseline"])
    assert r["churn.rate"] == r["goal.baseline"]
    # the baseline: customers open on the test prediction date, closed within 12 months
    c = _raw("customers")
    opened, closed = pd.to_datetime(c["open_date"]), pd.to_datetime(c["closure_date"])
    t0 = pd.Timestamp(truth["prediction_date"])
    at_risk = (opened < t0) & (closed.isna() | (closed >= t0))
    lost = at_risk & (closed < t0 + pd.DateOffset(months=12))
    assert r["churn.n_at_risk"] == at_risk.sum() == truth["churn_12m"]["test"]["n_at_risk"]
    assert r["churn.rate"] == pytest.approx(lost.sum() / at_risk.sum())
    low, high = r["churn.ci"]
    assert low <= truth["expected_churn_12m"] <= high
    # what the goal means: open accounts today x (baseline - target)
    end = pd.Timestamp(truth["data_end"])
    n_open = int(((opened <= end) & (closed.isna() | (closed > end))).sum())
    assert r["goal.n_open"] == n_open
    assert r["goal.customers_to_retain"] == pytest.approx(n_open * 0.2 * r["goal.baseline"])
    assert r["goal.balances_to_retain"] > 0
    assert r["goal.value_at_stake"] > r["goal.value_to_retain"] > 0


def test_pilot_size_is_the_textbook_two_proportion_power(default_run):
    _, r, _ = default_run
    h = proportion_effectsize(r["goal.baseline"], r["goal.target"])
    n = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert r["pilot.n_per_arm"] == math.ceil(n)


def test_cox_intervals_cover_the_planted_hazard_ratios(default_run):
    _, r, truth = default_run
    hr, ci = r["cox.hazard_ratios"], r["cox.ci"]
    planted = {**truth["hazard_ratios"], "offer": truth["pilot"]["hazard_ratio"]}
    # new_customer (tenure < 12 months) is part of the baseline hazard on the tenure time scale
    covered = [k for k in planted if k != "new_customer"]
    assert set(hr) == set(covered)
    for cov in covered:
        assert ci[cov][0] < planted[cov] < ci[cov][1], cov
    # the clearly planted risk factors are significant in the right direction
    for cov in ("complaints_6m", "fee_rise_6m"):
        assert ci[cov][0] > 1, cov
    for cov in ("products_held", "salary_deposit", "relationship_manager", "segment_affluent"):
        assert ci[cov][1] < 1, cov
    assert set(r["cox.attributable_fraction"]) == {"complaints_6m", "fee_rise_6m"}


def test_logit_odds_ratios_have_the_planted_signs(default_run):
    _, r, truth = default_run
    odds, ci = r["model.odds_ratios"], r["model.or_ci"]
    logit_name = {"complaints_6m": "complaints", "fee_rise_6m": "fee_rises"}
    for factor, log_hr in truth["log_hazard"].items():
        if log_hr == 0:
            continue
        name = logit_name.get(factor, factor)
        assert np.sign(math.log(odds[name])) == np.sign(log_hr), name
    for protective in ("products_held", "salary_deposit", "relationship_manager"):
        assert ci[protective][1] < 1, protective
    assert ci["fee_rises"][0] > 1
    # the planted null effects (and region dummies made from the extra 'region' column) are not
    # mistaken for effects
    nulls = ["digital_active", "age", *[f for f in odds if f.startswith("region_")]]
    assert len(nulls) == 7
    for name in nulls:
        assert ci[name][0] < 1 < ci[name][1], name
    assert r["model.customer_columns"]["region"] == "categorical"
    assert set(r["model.top_features"]) == set(odds)


def test_model_discriminates_out_of_time_and_lift_is_recomputable(default_run):
    run_dir, r, _ = default_run
    assert r["model.auc_test"] > 0.6
    scored = pd.read_parquet(run_dir / "artifacts" / "test_scored.parquet")
    y, p = scored["churned"].to_numpy(), scored["churn_prob"].to_numpy()
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert r["model.auc_test"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    k = round(0.1 * len(scored))
    top = scored.assign(s=scored["churn_prob"] * scored["value"]).sort_values(
        "s", ascending=False, kind="mergesort"
    )
    assert r["targeting.top_decile_lift"] == pytest.approx(
        top["churned"].iloc[:k].mean() / scored["churned"].mean()
    )
    assert r["model.top_decile_lift"] > 1.5
    # stage 3's lift table and stage 5's backtest rank the same test customers by risk: their
    # "riskiest tenth" is the same round(n / 10) customers, so the two lifts are one figure
    by_risk = scored.sort_values("churn_prob", ascending=False, kind="mergesort")
    risk_lift = by_risk["churned"].iloc[:k].mean() / scored["churned"].mean()
    assert r["model.top_decile_lift"] == pytest.approx(risk_lift)
    assert r["targeting.top_decile_lift_risk_only"] == pytest.approx(risk_lift)
    # risk alone finds leavers better than risk x value; the latter reaches more of the value
    assert r["targeting.top_decile_lift_risk_only"] > r["targeting.top_decile_lift"]
    share = r["targeting.top_decile_value_share"]
    assert share["risk x value"] > share["risk"]


def test_pilot_interval_covers_the_planted_uplift(default_run):
    _, r, truth = default_run
    planted = truth["pilot"]["expected_churn_offer"] - truth["pilot"]["expected_churn_control"]
    low, high = r["pilot.ci"]
    assert low <= planted <= high  # treated minus control: negative = fewer closures
    # the effect is the difference of the arms' churn, counted on the raw files
    pilot = _raw("pilot").merge(_raw("customers")[["customer_id", "closure_date"]])
    pilot["churned"] = pd.to_datetime(pilot["closure_date"]).notna()
    rate = pilot.groupby("group")["churned"].mean()
    assert r["pilot.effect"] == pytest.approx(rate["offer"] - rate["control"])
    assert r["pilot.n_treated"] == truth["pilot"]["n_offer"]
    red_low, red_high = r["pilot.relative_reduction_ci"]
    assert red_low < truth["pilot"]["expected_relative_reduction"] < red_high


def test_survival_and_plan_figures(default_run):
    _, r, _ = default_run
    med = r["survival.median_by_segment"]
    assert med["mass"] < med["affluent"] < med["private"]
    assert 12 < r["survival.median_months"] < 48 and r["survival.logrank_p"] < 1e-6
    assert sum(r["tiers.counts"].values()) == r["goal.n_open"]
    assert r["tiers.value_share"]["A"] == pytest.approx(0.8, abs=0.01)
    stages = r["lifecycle.counts"]
    assert sum(v for k, v in stages.items() if k != "churned") == r["goal.n_open"]
    assert stages["churned"] == r["churn.n_lost"]
    assert r["campaign.n_contacted"] == round(0.2 * r["goal.n_open"])
    assert r["campaign.success_rate"] == r["pilot.relative_reduction"]
    assert r["action_list.n"] == r["campaign.n_contacted"]  # the work list is the campaign
    assert r["kpi.churn_rate_12m"]["target"] == r["goal.target"]


def _tokens(text: str) -> set[str]:
    """Word pairs, digit runs and e-mail addresses of a text (case-folded): a personal value
    that leaks shows up as one of them, while "He Li" is not found inside "the lifecycle"."""
    text = re.sub(r"<[^<>]*>", " ", text.casefold())  # markup such as <li><li> is not text
    words = re.findall(r"[^\W\d_]+", text)
    return (
        {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
        | set(re.findall(r"\d+x?", text))
        | set(re.findall(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", text))
    )


def test_outputs_hold_no_personal_data(default_run):
    run_dir, _, _ = default_run
    raw = _raw("customers")
    outputs = [*run_dir.glob("*.ipynb"), *run_dir.glob("html/*.html"), run_dir / "results.json"]
    outputs += sorted((paths.cases_dir() / CASE).glob("*.ipynb"))  # the committed notebooks
    assert len(outputs) == 16
    personal = set(pd.concat([raw[c] for c in PII]).dropna().str.casefold())
    sample = raw[PII[1:]].sample(400, random_state=0)  # the library's substring check
    for path in outputs:
        assert not _tokens(path.read_text()) & personal, f"personal data in {path}"
        assert_no_pii(path, sample)
    for path in run_dir.glob("artifacts/*.parquet"):
        df = pd.read_parquet(path)
        assert not set(PII) & set(df.columns)
        ids = df["customer_id"] if "customer_id" in df else df.get("pseudo_id")
        if ids is not None:
            assert ids.dropna().str.startswith("P-").all(), path.name


# ----------------------------------------------------------------------------------------------
# partial data and a client's own columns
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finance_small") / "full"
    generate(CASE, folder, seed=7, n_customers=1500)
    return folder


def test_no_pilot_and_extra_client_columns(tmp_path, small_data):
    data = tmp_path / "no_pilot"
    data.mkdir()
    shutil.copy(small_data / "snapshots.csv", data)
    c = pd.read_csv(small_data / "customers.csv", dtype=str)
    rng = np.random.default_rng(0)
    stayed = c["closure_date"].isna().to_numpy()
    # a yes/no flag in Chinese, planted to go with staying; a categorical without effect; free text
    c["mobile_app"] = np.where(rng.random(len(c)) < np.where(stayed, 0.8, 0.3), "是", "否")
    c["channel"] = rng.choice(["branch", "online", "agent"], len(c), p=[0.5, 0.3, 0.2])
    c["notes"] = [f"note {i}" for i in range(len(c))]
    c.to_csv(data / "customers.csv", index=False, encoding="utf-8")
    run_dir, r = _run(tmp_path, data_dir=str(data))

    kinds = r["model.customer_columns"]
    assert kinds["mobile_app"] == "yes/no flag" and kinds["channel"] == "categorical"
    assert kinds["notes"] == "excluded"
    assert {"mobile_app", "channel_agent", "channel_online"} <= set(r["model.features"])
    assert r["model.or_ci"]["mobile_app"][1] < 1  # the planted association is found
    # no pilot: stage 4 records nothing of its own, stage 5 has no success rate
    assert not any(k.startswith("pilot.") and k != "pilot.n_per_arm" for k in r)
    assert "offer" not in r["cox.hazard_ratios"]
    assert "campaign.roi" not in r and "action_list.n" in r
    assert "Skipped: the pilot read-out" in (run_dir / "html" / "04_pilot.html").read_text()
    assert "Skipped: the campaign return" in (run_dir / "html" / "05_evaluate.html").read_text()


def test_money_is_named_in_the_currency_of_the_run(tmp_path):
    """A client whose amounts are in euros (-p currency=EUR): every money text of the stages,
    the report in both languages and the action list name EUR, none CNY; the figures do not
    depend on it."""
    from openpyxl import load_workbook

    from crmlab import report

    run_dir, r = _run(tmp_path, currency="EUR")  # the default data: a pilot, a campaign
    assert r["currency"] == "EUR" and "campaign.net_value" in r

    def read(path):  # the text, without embedded images (base64 can spell anything)
        return re.sub(r"data:[^\"')\s]+", "", path.read_text(encoding="utf-8"))

    pages = {p.name: read(p) for p in (run_dir / "html").glob("*.html")}
    en = read(run_dir / "report.html")
    for name, text in {**pages, "report.html": en}.items():
        assert "CNY" not in text, name
    assert "At EUR 170 per offered customer" in pages["04_pilot.html"]  # offer 150 + contact 20
    assert "Campaign net value (EUR)" in en  # the spec's label, {currency}
    assert "Expected value saved (EUR)" in pages["05_evaluate.html"]  # a money column
    assert re.search(r"above EUR [\d,]+ per saved customer", en)  # the monitoring rule
    headers = [c.value for c in next(load_workbook(run_dir / "actions.xlsx")["Summary"].rows)]
    assert "Total value (EUR)" in headers
    zh = read(report.build_report(run_dir, lang="zh"))
    assert "营销活动净价值（欧元）" in zh and "每投入 1 欧元净回报" in zh
    assert not re.search(r"(?<!欧)元", zh.replace("元素", ""))  # no yuan: every amount in 欧元


def test_no_snapshots(tmp_path, small_data):
    data = tmp_path / "no_snapshots"
    data.mkdir()
    for name in ("customers", "pilot"):
        shutil.copy(small_data / f"{name}.csv", data)
    run_dir, r = _run(tmp_path, data_dir=str(data))
    assert "goal.baseline" in r and "pilot.effect" in r and "survival.median_months" in r
    # the Cox model falls back to the static attributes
    assert set(r["cox.hazard_ratios"]) == {
        "products_held", "salary_deposit", "relationship_manager", "digital_active",
        "segment_affluent", "segment_private",
    }  # fmt: skip
    absent = ("model.", "lifecycle.", "tiers.", "campaign.", "action_list.", "goal.value_")
    assert not [k for k in r if k.startswith(absent)]
    assert "goal.balances_to_retain" not in r and "kpi.complaints_per_100" not in r
    html = (run_dir / "html" / "03_model.html").read_text()
    assert "Skipped: the churn model" in html
    html = (run_dir / "html" / "01_goals.html").read_text()
    assert "Skipped: balances and value at stake" in html


# ----------------------------------------------------------------------------------------------
# issue 7: the monthly snapshots stay in the engine (DuckDB by default); pandas is the reference
# ----------------------------------------------------------------------------------------------
def _guarded_run(tmp_path, max_rows: int, **params):
    """Run the case with the guard (tests/engine_guard.py): reading a snapshots file into
    pandas/pyarrow, or an engine result of more than ``max_rows`` rows and more than 4 columns
    (the Cox model's id, month and two rolled covariates may be long), fails the run."""
    return engine_guard.guarded_run(tmp_path, CASE, "snapshots", max_rows, narrow_cols=4, **params)


def test_duckdb_path_never_reads_the_snapshots_into_pandas(tmp_path, small_data):
    res = _guarded_run(tmp_path, 1500, data_dir=str(small_data))
    assert res.ok, res.error
    assert res.error is None and (res.run_dir / "actions.csv").exists()  # deliverables too
    r = json.loads((res.run_dir / "results.json").read_text())
    n_rows = len(pd.read_csv(small_data / "snapshots.csv"))
    assert n_rows > 20_000 and r["data.rows.snapshots"] == n_rows  # the generator plants no fault
    assert r["data.n_train"] > 500 and "cox.hazard_ratios" in r and "kpi.complaints_per_100" in r
    saved = {p.stem for p in (res.run_dir / "artifacts").glob("*.parquet")}
    assert "snapshots" not in saved and {"snapshot_months", "cox_months"} <= saved


def test_the_snapshot_guard_catches_the_pandas_path(tmp_path, small_data):
    """The guard is wired: the pandas path reads the snapshots and the run fails."""
    res = _guarded_run(tmp_path, 1500, data_dir=str(small_data), engine="pandas")
    assert not res.ok
    assert "01_goals" in res.error and "GUARD: pandas.read_csv read the snapshots" in res.error


def test_the_snapshot_guard_catches_a_large_engine_result(tmp_path, small_data):
    """... and so does a wide engine result with more rows than the limit (here: the modelling
    sets, about 1,000 customers, against a limit of 100)."""
    res = _guarded_run(tmp_path, 100, data_dir=str(small_data))
    assert not res.ok and "GUARD: the engine returned" in res.error


def test_duckdb_and_pandas_paths_give_the_same_figures(tmp_path, default_run):
    """Must hold (issue 7): no change in any figure on the default data - results.json is the
    same, byte for byte (the pandas path is the one the committed notebooks were run on; the
    engine's means are taken in month order as pandas takes them)."""
    from crmlab.results import figure_differences

    run_dir, r_duckdb, _ = default_run
    pandas_dir, r_pandas = _run(tmp_path, engine="pandas")
    assert len(r_duckdb) > 100 and "kpi.complaints_per_100" in r_duckdb
    assert "cox.attributable_fraction" in r_duckdb and "goal.balances_to_retain" in r_duckdb
    assert figure_differences(r_duckdb, r_pandas) == []
    assert (run_dir / "results.json").read_bytes() == (pandas_dir / "results.json").read_bytes()


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="Spark needs Java 17 (not installed)")
def test_the_whole_case_on_spark_gives_the_same_figures(tmp_path, default_run):
    """``engine=spark`` (local mode): stages 1 and 2 keep the snapshots in Spark, and every
    figure of results.json is the DuckDB run's, byte for byte."""
    run_dir, _, _ = default_run
    spark_dir, _ = _run(tmp_path, engine="spark")
    assert json.loads((spark_dir / "status.json").read_text())["parameters"] == {"engine": "spark"}
    assert (run_dir / "results.json").read_bytes() == (spark_dir / "results.json").read_bytes()


def test_config_engine_keys_are_finance_parameters(tmp_path):
    """``engine:`` / ``spark_master:`` in a finance config reach the stages that declare them."""
    from crmlab.config import load_config
    from crmlab.errors import ParameterError

    (tmp_path / "c.csv").write_text(
        "customer_id,open_date,segment,products_held\nC1,2024-01-01,mass,1\n"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "case: finance_churn\ndata: {customers: c.csv}\nengine: spark\n"
        "spark_master: spark://h:7077\n"
    )
    c = load_config(cfg)
    [(case, params)] = runner.plan([c.case], c.params)
    assert params == {"engine": "spark", "spark_master": "spark://h:7077"}
    for stage in ("01_goals", "02_data"):
        declared = runner._stage_params(case, stage, params, tmp_path)
        assert declared["engine"] == "spark" and declared["spark_master"] == "spark://h:7077"
    assert "engine" not in runner._stage_params(case, "03_model", params, tmp_path)
    with pytest.raises(ParameterError, match="unknown parameter 'engines'"):
        runner.plan([CASE], {"engines": "duckdb"})


def test_the_action_files_start_with_the_campaign_as_the_report_shows_it(default_run):
    """One list, not two: actions.csv starts with the campaign's work list in its order, with
    the same actions and due dates as the report's table, then the other open customers."""
    run_dir, r, _ = default_run
    work = pd.read_parquet(run_dir / "artifacts" / "action_list.parquet")
    listed = pd.read_csv(run_dir / "actions.csv", dtype={"customer_id": "str"})
    n = r["action_list.n"]
    assert n == len(work) > 100
    head = listed.iloc[:n]
    assert head["customer_id"].tolist() == work["pseudo_id"].tolist()
    assert head["campaign_rank"].tolist() == list(range(1, n + 1))
    assert (
        head["due_date"].tolist()
        == pd.to_datetime(work["due_date"]).dt.strftime("%Y-%m-%d").tolist()
    )
    assert head["recommended_action"].str.lower().tolist() == work["action"].str.lower().tolist()
    assert listed["campaign_rank"].iloc[n:].isna().all()
    assert listed["customer_id"].is_unique and listed["priority"].tolist() == list(
        range(1, len(listed) + 1)
    )


def _due_dates_agree_with_the_plan(run_dir, r, wave: str, campaign: dict, by_stage: dict):
    """The action list of a run against its implementation plan: wave 1 of the stage-5 plan is
    in ``wave``; the campaign's customers are due on ``campaign`` (action -> date) and the other
    customers on ``by_stage`` (lifecycle stage -> date), each in the month the lifecycle plan
    gives that stage."""
    from crmlab import plans

    page = re.sub(r"<[^>]+>", " ", (run_dir / "html" / "05_evaluate.html").read_text("utf-8"))
    assert re.findall(r"(\d{4}-\d{2})\s+Wave 1: contact", page) == [wave]
    trained = re.findall(r"(\d{4}-\d{2})\s+Train relationship managers", page)
    assert trained == [r["plan.start"]] and trained[0] < wave
    listed = pd.read_csv(run_dir / "actions.csv", dtype={"customer_id": "str"})
    rank = "campaign_rank" if "campaign_rank" in listed.columns else "work_list_rank"
    inside = listed[rank].notna()  # the work list (without a costed campaign: its top losses)
    assert inside.sum() == r["action_list.n"]
    due = listed.loc[inside].groupby(listed["recommended_action"].str.lower())["due_date"]
    got = due.unique().map(list).to_dict()
    assert got == {a: [campaign[a]] for a in got} and len(got) >= 2, got
    assert (listed.loc[inside, "due_date"].str[:7] == wave).all()
    rest = listed.loc[~inside].groupby("segment")["due_date"].unique().map(list).to_dict()
    assert rest == {s: [by_stage[s]] for s in rest} and "at_risk" in rest
    book = plans.segment_action_plan(
        r["lifecycle.counts"], plans.FINANCE_PLAYBOOK, r["plan.start"]
    ).set_index("segment")["start"]
    for stage, day in by_stage.items():
        assert book[stage] == day[:7], stage
    assert book["at_risk"] == wave


def test_due_dates_fall_in_the_months_of_the_plan(default_run):
    """Found by a consultant: the list was due 2026-10-04..10-15 while the plan trained the
    callers in 2026-10 and called wave 1 in 2026-11. Plan start 2026-10 (the data's last
    month): training in 2026-10; wave 1 and every first contact in 2026-11 - complaint 3 days,
    tier A 7, tier B 14 days into it; the other stages by the end of their plan month."""
    run_dir, r, _ = default_run
    assert r["plan.start"] == "2026-10"
    campaign = {
        "complaint follow-up call, then a retention offer": "2026-11-04",
        "relationship-manager call with a personalised retention offer": "2026-11-08",
        "service call with a fee-waiver offer": "2026-11-15",
    }
    stages = {
        "at_risk": "2026-11-30",
        "declining": "2026-11-30",
        "new": "2026-11-30",
        "growing": "2026-11-30",
        "mature": "2026-12-31",
    }
    _due_dates_agree_with_the_plan(run_dir, r, "2026-11", campaign, stages)


def test_due_dates_follow_plan_start(tmp_path, small_data):
    """`-p plan_start=2026-12`: training in 2026-12, wave 1 in 2027-01, due 01-04/01-08/01-15
    (it was 12-04..12-15, before the wave)."""
    run_dir, r = _run(tmp_path, data_dir=str(small_data), plan_start="2026-12")
    assert r["plan.start"] == "2026-12"
    campaign = {
        "complaint follow-up call, then a retention offer": "2027-01-04",
        "relationship-manager call with a personalised retention offer": "2027-01-08",
        "service call with a fee-waiver offer": "2027-01-15",
    }
    stages = {
        "at_risk": "2027-01-31",
        "declining": "2027-01-31",
        "new": "2027-01-31",
        "growing": "2027-01-31",
        "mature": "2027-02-28",
    }
    _due_dates_agree_with_the_plan(run_dir, r, "2027-01", campaign, stages)


def test_a_churned_flag_with_opening_dates_and_snapshots_runs_the_flag_path(tmp_path, small_data):
    """A bank's extract with opening dates, a churned flag and monthly snapshots but no
    closure dates (a new-user trial: stage 1 crashed asking for closure_date) runs the flag
    path: the baseline is the share flagged, and the stages say why the snapshots give no
    behaviour features and why there is no survival analysis."""
    data = tmp_path / "flag_with_dates"
    data.mkdir()
    shutil.copy(small_data / "snapshots.csv", data)
    c = pd.read_csv(small_data / "customers.csv", dtype=str)
    c["churned"] = np.where(c["closure_date"].notna(), "yes", "no")
    c.drop(columns="closure_date").to_csv(data / "customers.csv", index=False)
    run_dir, r = _run(tmp_path, data_dir=str(data))

    kept = c.drop_duplicates().drop_duplicates("customer_id")  # 02_data's cleaning
    assert r["churn.basis"] == "flag" and r["churn.n_at_risk"] == len(kept)
    assert r["churn.n_lost"] == int((kept["churned"] == "yes").sum())
    assert r["churn.rate"] == pytest.approx((kept["churned"] == "yes").mean(), abs=1e-12)
    assert r["model.customer_columns"]["open_date"] == "excluded" and "survival.group" not in r
    stage2 = (run_dir / "html" / "02_data.html").read_text(encoding="utf-8")
    assert "Skipped: behaviour features from the monthly snapshots" in stage2
    assert "map closure_date" in stage2
    stage3 = (run_dir / "html" / "03_model.html").read_text(encoding="utf-8")
    assert "Opening dates do not give one" in stage3
