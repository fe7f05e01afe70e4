"""The retail satisfaction case end to end through the runner.

- On the default synthetic data the recorded figures recover the planted truth (truth.json).
- On partial data (survey only / transactions only) every stage still runs, says what it skipped,
  and records only what it computed.
- No personal value (name, e-mail, phone) appears in any output of a run.
- The DuckDB path (default) gives the same results.json figures as the pandas path, and never
  reads the transactions into pandas (a guard inside the kernel fails the run if it does).
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from crmlab import plans, runner
from crmlab.engine import java_available
from crmlab.privacy import assert_no_pii
from crmlab.results import figure_differences
from crmlab.synthetic import ensure_synthetic, generate
from tests import engine_guard
from tests.deliverables_support import canonical_run

CASE = "retail_satisfaction"


def _run(tmp_path, **params):
    [res] = runner.run_cases([CASE], params, out_root=tmp_path / "reports", progress=False)
    assert res.ok, res.error
    return res.run_dir, json.loads((res.run_dir / "results.json").read_text())


def _guarded_run(tmp_path, max_rows: int, **params):
    """Run the case with the guard (tests/engine_guard.py): reading a transactions file into
    pandas/pyarrow, or any engine result with more than ``max_rows`` rows, fails the run."""
    return engine_guard.guarded_run(tmp_path, CASE, "transactions", max_rows, **params)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The canonical run, shared with the deliverables' tests (one run per test session)."""
    truth = json.loads((ensure_synthetic(CASE) / "truth.json").read_text())
    run_dir = canonical_run(tmp_path_factory, CASE)
    return run_dir, json.loads((run_dir / "results.json").read_text()), truth


def test_common_figures_are_recorded(default_run):
    _, r, truth = default_run
    assert r["n_customers"] == truth["sizes"]["n_customers"]
    assert r["goal.metric"] == "CSAT"
    assert r["goal.target"] == 0.9 and r["goal.deadline_months"] == 6
    assert r["pilot.n_per_arm"] == 195  # 80% -> 90%, alpha 0.05, power 0.8 (textbook value)


def test_baseline_interval_covers_planted_level(default_run):
    _, r, truth = default_run
    assert r["goal.baseline_low"] <= truth["satisfaction_latest"] <= r["goal.baseline_high"]
    assert r["satisfaction.rate"] == r["goal.baseline"]


def test_planted_driver_ranking_is_recovered(default_run):
    _, r, truth = default_run
    assert r["drivers.ranking"] == truth["driver_ranking"]
    # LMG shares add up to the full model's R-squared
    assert sum(r["drivers.importance"].values()) == pytest.approx(r["drivers.r2"], abs=1e-9)


def test_pilot_interval_covers_planted_effect(default_run):
    _, r, truth = default_run
    low, high = r["pilot.ci"]
    assert low <= truth["pilot_effect"] <= high
    assert low > 0 and r["pilot.p_value"] < 0.05  # the planted effect is detected


def test_segments_and_tiers_are_consistent(default_run):
    _, r, truth = default_run
    n = truth["sizes"]["n_customers"]
    assert sum(r["segments.counts"].values()) == n
    assert sum(r["tiers.counts"].values()) == n
    assert r["tiers.revenue_share"]["A"] == pytest.approx(0.8, abs=0.01)
    # potential = on file but never bought: count it independently from the raw files
    folder = ensure_synthetic(CASE)
    ids = pd.read_csv(folder / "customers.csv", dtype=str)["customer_id"]
    buyers = pd.read_csv(folder / "transactions.csv", dtype=str)["customer_id"]
    assert r["segments.counts"]["potential"] == int((~ids.isin(buyers)).sum())
    assert r["segments.counts"]["potential"] >= truth["customers"]["n_potential"]
    assert r["nps"] == pytest.approx(truth["nps_latest"], abs=10)  # one wave of ~400 answers


def test_outputs_hold_no_personal_data(default_run):
    run_dir, _, _ = default_run
    customers = pd.read_csv(ensure_synthetic(CASE) / "customers.csv", dtype=str)
    known = customers[["name", "email", "phone"]].sample(400, random_state=0)
    for path in [*run_dir.glob("*.ipynb"), *run_dir.glob("html/*.html"), run_dir / "results.json"]:
        assert_no_pii(path, known)
    for path in run_dir.glob("artifacts/*.parquet"):
        df = pd.read_parquet(path)
        assert not {"name", "email", "phone"} & set(df.columns)
        if "customer_id" in df.columns:
            assert df["customer_id"].dropna().str.startswith("P-").all()


def test_raw_data_is_not_modified(default_run):
    folder = ensure_synthetic(CASE)
    truth = json.loads((folder / "truth.json").read_text())
    tx = pd.read_csv(folder / "transactions.csv")
    assert tx.duplicated().sum() == truth["fault_counts"]["transactions"]["duplicate_rows"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retail_small") / "full"
    generate(CASE, folder, seed=7, n_customers=800, n_stores=12, responses_per_wave=120)
    return folder


def _partial(tmp_path, small_data, keep):
    folder = tmp_path / "partial"
    folder.mkdir()
    for name in keep:
        shutil.copy(small_data / f"{name}.csv", folder)
    return folder


def test_survey_only(tmp_path, small_data):
    data = _partial(tmp_path, small_data, ["survey", "stores", "pilot"])
    run_dir, r = _run(tmp_path, data_dir=str(data))
    assert "goal.baseline" in r and "drivers.ranking" in r and "pilot.effect" in r
    assert "segments.counts" not in r and "tiers.counts" not in r  # nothing to compute them from
    html = (run_dir / "html" / "03_model.html").read_text()
    assert "Skipped: customer classification" in html


def test_survey_without_driver_ratings(tmp_path, small_data):
    """A survey with the overall score only (no driver ratings mapped): every stage runs, the
    key-driver analysis says why it is skipped (it failed in 03_model: no driver column)."""
    from crmlab.drivers import DEFAULT_DRIVERS

    data = _partial(tmp_path, small_data, ["survey"])
    survey = pd.read_csv(data / "survey.csv")
    survey.drop(columns=[d for d in DEFAULT_DRIVERS if d in survey]).to_csv(
        data / "survey.csv", index=False
    )
    run_dir, r = _run(tmp_path, data_dir=str(data))
    assert "goal.baseline" in r and not any(k.startswith("drivers.") for k in r)
    html = (run_dir / "html" / "03_model.html").read_text()
    assert "Skipped: key-driver analysis" in html and "no driver ratings" in html


def test_transactions_only(tmp_path, small_data):
    data = _partial(tmp_path, small_data, ["transactions", "customers"])
    run_dir, r = _run(tmp_path, data_dir=str(data))
    assert "segments.counts" in r and "tiers.counts" in r
    assert sum(r["segments.counts"].values()) == 800
    assert not any(k.startswith(("goal.baseline", "drivers.", "pilot.effect")) for k in r)
    assert "Skipped: key-driver analysis" in (run_dir / "html" / "03_model.html").read_text()
    assert "Skipped: CSAT history" in (run_dir / "html" / "01_goals.html").read_text()


def test_customers_without_transactions(tmp_path, small_data):
    """Every source is optional: a customer list with survey and complaints but no transaction
    file runs every stage (it failed in 03_model: no purchase features to segment)."""
    data = _partial(tmp_path, small_data, ["customers", "survey", "complaints", "stores", "pilot"])
    run_dir, r = _run(tmp_path, data_dir=str(data))
    assert r["features.n_customers"] == 800 and "pilot.effect" in r
    assert "segments.counts" not in r and "tiers.counts" not in r  # no purchases to segment
    assert "Skipped: customer classification" in (run_dir / "html" / "03_model.html").read_text()


@pytest.fixture(scope="module")
def guarded_run(tmp_path_factory, small_data):
    """The DuckDB path on the small data, with the guard on (at most 800 rows, the customers)."""
    res = _guarded_run(tmp_path_factory.mktemp("guarded"), 800, data_dir=str(small_data))
    assert res.ok, res.error
    assert res.error is None and (res.run_dir / "actions.csv").exists()  # deliverables too
    # the input's fingerprint is recorded by the run (the report shows it as recorded)
    from crmlab.report import data_fingerprint

    status = json.loads((res.run_dir / "status.json").read_text())
    assert status["data_fingerprint"] == data_fingerprint(small_data)
    assert "Recorded when the run started" in (res.run_dir / "report.html").read_text()
    return res.run_dir, json.loads((res.run_dir / "results.json").read_text())


def test_duckdb_path_never_reads_the_transactions_into_pandas(guarded_run, small_data):
    _, r = guarded_run
    n_rows = len(pd.read_csv(small_data / "transactions.csv"))
    assert r["features.n_customers"] == 800 and r["data.rows.transactions"] > 0.9 * n_rows > 8000


def test_the_guard_catches_the_pandas_path(tmp_path, small_data):
    """The guard is wired: the pandas path reads the transactions and the run fails."""
    res = _guarded_run(tmp_path, 800, data_dir=str(small_data), engine="pandas")
    assert not res.ok
    assert "02_data" in res.error and "GUARD" in res.error


def test_the_guard_catches_a_large_engine_result(tmp_path, small_data):
    """... and so does an engine result larger than the limit (here: below the customers)."""
    res = _guarded_run(tmp_path, 700, data_dir=str(small_data))
    assert not res.ok and "GUARD: the engine returned 800 rows" in res.error


def test_duckdb_and_pandas_paths_give_the_same_figures(tmp_path, default_run):
    """Must hold (issue 7): no silent change in any figure on the default data."""
    _, r_duckdb, _ = default_run
    _, r_pandas = _run(tmp_path, engine="pandas")
    assert len(r_duckdb) > 60 and "kpi.spend_per_customer" in r_duckdb
    assert figure_differences(r_duckdb, r_pandas) == []
    assert figure_differences({"x": 1.0}, {"x": 1.0 + 1e-6}) == [".x: 1.0 != 1.000001"]  # can fail


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="Spark needs Java 17 (not installed)")
def test_the_whole_case_on_spark_gives_the_same_figures(tmp_path, guarded_run, small_data):
    """``engine=spark`` (local mode): stage 2 keeps the transactions in Spark (quality checks,
    cleaning, KPI summary, customer features), and every figure is the DuckDB run's on the
    same data (the small data: Spark's cost is per query, not per row; the features of the
    default data are compared in tests/test_engine_parity.py)."""
    _, r_duckdb = guarded_run
    spark_dir, r_spark = _run(tmp_path, engine="spark", data_dir=str(small_data))
    parameters = json.loads((spark_dir / "status.json").read_text())["parameters"]
    assert parameters == {"engine": "spark", "data_dir": str(small_data)}
    assert len(r_duckdb) > 60 and figure_differences(r_duckdb, r_spark) == []


def test_an_unknown_engine_stops_before_any_kernel(tmp_path, monkeypatch):
    """``-p engine=polars`` is refused with the parameter checks, not in stage 2's kernel."""
    from crmlab.errors import ParameterError

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "run_case", boom)
    with pytest.raises(ParameterError, match="engine='polars' is not one of duckdb, spark, pandas"):
        runner.run_cases([CASE], {"engine": "polars"}, out_root=tmp_path, progress=False)
    assert not list(tmp_path.iterdir())  # no run folder


def test_config_engine_keys_become_parameters(tmp_path):
    from crmlab.config import load_config
    from crmlab.errors import ConfigError

    def cfg(text):
        f = tmp_path / "c.yaml"
        f.write_text("case: retail_satisfaction\ndata: {survey: s.csv}\n" + text)
        return f

    (tmp_path / "s.csv").write_text("date,overall_satisfaction\n2026-01-01,5\n")
    assert "engine" not in load_config(cfg("")).params  # the notebooks' default: duckdb
    c = load_config(cfg("engine: spark\nspark_master: spark://h:7077\n"))
    assert c.params == {"engine": "spark", "spark_master": "spark://h:7077"}
    assert load_config(cfg("engine: pandas\n")).params == {"engine": "pandas"}
    with pytest.raises(ConfigError, match=r"line 3, engine: expected one of duckdb, spark, pandas"):
        load_config(cfg("engine: polars\n"))
    with pytest.raises(ConfigError, match="spark_master: is used only with engine: spark"):
        load_config(cfg("spark_master: spark://h:7077\n"))
    with pytest.raises(ConfigError, match="engine: set either here or under params"):
        load_config(cfg("engine: duckdb\nparams: {engine: pandas}\n"))


def test_same_inputs_give_the_same_results_json(tmp_path, small_data, guarded_run):
    first, r1 = guarded_run
    second, r2 = _run(tmp_path / "b", data_dir=str(small_data))
    assert first != second
    assert (first / "results.json").read_bytes() == (second / "results.json").read_bytes()
    assert r1["drivers.importance_ci"] == r2["drivers.importance_ci"]  # seeded bootstrap


def test_plan_start_moves_the_plan_and_every_due_date(tmp_path, small_data):
    """`-p plan_start=2027-01`: the action plan, the action list's due dates and the run's
    summary note follow it (by default the plan starts in the data's last month, whose due
    dates may already be past when the list is handed over). The same run is in euros
    (`-p currency=EUR`): the money of the stages (net spend, revenue, spend per customer),
    the report and the action list name EUR, none CNY."""
    import re

    import pandas as pd

    params = {"data_dir": str(small_data), "plan_start": "2027-01", "n_boot": 20}
    [res] = runner.run_cases(
        [CASE], {**params, "currency": "EUR"}, out_root=tmp_path / "reports", progress=False
    )
    assert res.ok, res.error
    r = json.loads((res.run_dir / "results.json").read_text())
    assert r["currency"] == "EUR"

    def read(path):  # the text, without embedded images (base64 can spell anything)
        return re.sub(r"data:[^\"')\s]+", "", path.read_text(encoding="utf-8"))

    pages = {p.name: read(p) for p in (res.run_dir / "html").glob("*.html")}
    for name, text in {**pages, "report.html": read(res.run_dir / "report.html")}.items():
        assert "CNY" not in text, name
    assert "Net spend (EUR)" in pages["02_data.html"]
    assert "Revenue (EUR)" in pages["03_model.html"]
    assert "Mean value (EUR)" in pages["03_model.html"]
    spend = r["kpi.spend_per_customer"]["actual"]
    assert f"EUR {spend:,.2f}" in pages["05_evaluate.html"]  # the scorecard's spend per customer
    assert "Value (EUR)" in pd.read_excel(res.run_dir / "actions.xlsx", sheet_name=None)["loyal"]
    # the implementation plan starts in 2027-01 and still ends at the goal's deadline
    deadline = plans.add_months(r["goal.start"], r["goal.deadline_months"])
    stage5 = re.sub(r"<[^>]+>", " ", pages["05_evaluate.html"])
    ends = re.findall(r"(\d{4}-\d{2})\s+Evaluation against the goal", stage5)
    assert ends == [deadline], (ends, deadline)
    assert r["plan.start"] == "2027-01" and r["goal.start"] < "2027-01"
    listed = pd.read_csv(res.run_dir / "actions.csv")
    # due: the last day of 2027-01 + the playbook's offset (0, 1 or 2 months); at risk:
    # "within 2 weeks" of 2027-01-01
    assert set(listed["due_date"]) <= {"2027-01-15", "2027-01-31", "2027-02-28", "2027-03-31"}
    assert listed.loc[listed["segment"] == "at_risk", "due_date"].unique().tolist() == [
        "2027-01-15"
    ]
    import datetime as dt

    # the list's first due date: 2027-01-15 (at risk, "within 2 weeks" of the plan's first day)
    assert runner.past_plan_note(res.run_dir, dt.date(2027, 1, 15)) is None  # still current
    note = runner.past_plan_note(res.run_dir, dt.date(2027, 1, 16))
    assert note.startswith(
        "the action plan starts in 2027-01, so its first due date (2027-01-15) is already past"
    )
    assert "-p plan_start=2027-01" in note
    today = runner.past_plan_note(res.run_dir, dt.date.today())
    assert res.notes == ([today] if today else [])  # the run's summary shows the same note


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """The worked example (`crmlab new X --from retail_satisfaction --example`, smaller):
    satisfaction is the average of 总体满意度 and 再次光临意愿 on 1-10, 7 and up satisfied."""
    import os

    from crmlab import report
    from crmlab.privacy import KEY_ENV_VAR
    from crmlab.synth import client_exports

    folder = tmp_path_factory.mktemp("example") / "myclient"
    client_exports.write_example_exports(
        CASE, folder / "exports", seed=3, n_customers=600, n_stores=8, responses_per_wave=80
    )
    (folder / "config.yaml").write_text(
        client_exports.example_config(CASE, key_file=False), encoding="utf-8"
    )
    before = os.environ.get(KEY_ENV_VAR)
    os.environ[KEY_ENV_VAR] = "a test key of the example run"
    try:
        res = runner.run_config(folder / "config.yaml", progress=False)
    finally:
        if before is None:
            del os.environ[KEY_ENV_VAR]
        else:
            os.environ[KEY_ENV_VAR] = before
    assert res.ok, res.error
    zh = report.build_report(res.run_dir, "zh", out=res.run_dir / "report.zh.html")
    texts = {
        "en": (res.run_dir / "report.html").read_text(encoding="utf-8"),
        "zh": zh.read_text(encoding="utf-8"),
    }
    return json.loads((res.run_dir / "results.json").read_text()), texts


def _reader_text(page: str) -> str:
    import html
    import re

    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"data:[^\"')]+", "", page)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_example_report_states_the_clients_measure(example_run):
    """The client's report said "rating overall satisfaction 4 or 5 on a 1-5 scale", asked for
    "Overall satisfaction (1-5)" in the feedback loop: every statement of the scale, threshold
    or question follows the run's measure (recorded from the config by stage 1)."""
    results, pages = example_run
    assert results["satisfaction.scale"] == [1, 10]
    assert results["satisfaction.satisfied_at"] == 7
    assert results["satisfaction.questions"] == ["总体满意度", "再次光临意愿"]
    en, zh = _reader_text(pages["en"]), _reader_text(pages["zh"])
    who = "rating the average of 总体满意度 and 再次光临意愿 7 or more on a 1-10 scale"
    assert f"the share of customers {who}" in en  # the summary's goal
    assert f"**Satisfied** means {who}".replace("**", "") in en  # stage 1
    assert "总体满意度 and 再次光临意愿 (1-10, averaged; 7+ satisfied) and recommend (0-10)" in en
    assert (
        "Share of survey answers rating the average of 总体满意度 and 再次光临意愿 7 or more" in en
    )
    for wrong in (
        "4 or 5 on a 1-5",
        "Overall satisfaction (1-5)",
        "share of 4-5 ratings on the 1-5",
    ):
        assert wrong not in en, wrong
    assert "总体满意度与再次光临意愿的平均分（1-10 分）达到 7 分及以上的客户占比" in zh  # summary
    assert (
        "总体满意度与再次光临意愿（1-10 分，取平均；7 分及以上为满意）与推荐意愿（0-10 分）" in zh
    )
    assert "总体满意度与再次光临意愿的平均分（客户的 1-10 分制）达到 7 分及以上的答卷占比" in zh
    for wrong in ("1-5 分中评 4 分或 5 分", "总体满意度（1-5 分）", "1-5 分制中评 4-5 分"):
        assert wrong not in zh, wrong
    # the segment tables' means are on 1-5, where the answers are read: said with the column
    assert "answers are read on 1-5 with 7+ as 4-5" in en  # stage 1's note says how
    assert "Mean satisfaction (1-5)" in en and "平均满意度（1-5 分）" in zh
    assert not re.search(r"Mean satisfaction(?! \(1-5\)| by segment)", en)


def test_the_canonical_report_keeps_the_1_to_5_texts(default_run):
    from crmlab import report

    run_dir, results, _ = default_run
    assert results["satisfaction.scale"] == [1, 5] and results["satisfaction.satisfied_at"] == 4
    en = _reader_text((run_dir / "report.html").read_text(encoding="utf-8"))
    assert "the share of customers rating overall satisfaction 4 or 5 on a 1-5 scale" in en
    assert "Overall satisfaction (1-5) and recommend (0-10)" in en
    assert "Share of survey answers of 4 or 5 on the 1-5 overall-satisfaction question" in en
    zh_file = report.build_report(run_dir, "zh", out=run_dir.parent / "canonical.zh.html")
    zh = _reader_text(zh_file.read_text(encoding="utf-8"))
    assert "总体满意度 1-5 分中评 4 分或 5 分的客户占比" in zh
    assert "总体满意度（1-5 分）与推荐意愿（0-10 分）" in zh
