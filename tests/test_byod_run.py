"""A client-style export run end to end through `crmlab run --config`.

The export is derived from the synthetic retail data: Chinese and English column names, a GBK
member list with YYYYMMDD dates and 是/否 flags, orders as UTF-8 with BOM with money as text
("¥1,234.50"), Y/N promotions and planted cancelled orders, the survey in an Excel sheet with
satisfaction on 1-10 (7+ satisfied) and one driver split over two averaged questions, complaints
in Latin-1 with French headers and Excel serial dates, stores as Parquet, the pilot through a
DuckDB query with Chinese arm labels. The run must

* record the same figures as a run on the canonical files (results.json),
* leave no personal value (names, e-mails, phones, id numbers) in any output or log,
* leave the client's files untouched.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlab import report, runner
from crmlab.privacy import assert_no_pii, pseudonym
from crmlab.synth import client_exports
from crmlab.synthetic import generate

CASE = "retail_satisfaction"
KEY = "byod-end-to-end-test-key-0123"

CLIENT_YAML = """\
case: retail_satisfaction
title: Client export test
data:
  customers: 会员.csv                       # GBK, Chinese headers
  transactions: orders.csv                 # UTF-8 with BOM
  survey: {path: survey.xlsx, sheet: 问卷2025}
  complaints: reclamations.csv             # Windows-1252 / Latin-1, French headers
  stores: stores.parquet
  pilot:
    query: >-
      SELECT shop AS store_id, arm AS "group", what AS intervention,
             von AS start_date, bis AS end_date FROM 'pilot_export.csv'
columns:
  customer_id: 会员编号
  customers:
    signup_date: {column: 注册日期, format: "%Y%m%d"}
    region: 区域
    home_store: 常去门店
    age_band: 年龄段
    gender: 性别
    channel: 渠道
    loyalty_member: 是否会员
  transactions:
    transaction_id: OrderNo
    customer_id: MemberID
    store_id: Shop
    date: {column: OrderDate, format: "%Y%m%d"}
    amount: Amount
    items: Qty
    promotion: Promo
    cancelled: Status
  survey:
    response_id: 编号
    store_id: 门店
    date: 日期
    satisfaction: {column: 满意度, scale: [1, 10], satisfied_at: 7}
    recommend: 推荐
    comment: 备注
    drivers:
      product_quality: 商品质量
      price_value: 性价比
      staff_service: [服务态度A, 服务态度B]
      store_environment: 门店环境
      checkout_speed: 结账速度
      product_availability: 商品齐全
      loyalty_programme: 会员计划
  complaints:
    complaint_id: N° réclamation
    customer_id: Client
    date: Date réception
    category: Catégorie
    resolved: Résolu
    days_to_resolve: Délai (jours)
values:
  loyalty_member: {true: [是], false: [否]}
  cancelled: {true: [cancelled], false: [done]}
  resolved: {true: [oui], false: [non]}
  group: {treatment: [实验组], control: [对照组]}
features: auto
pii: [姓名]
params:
  n_boot: 20
"""


def _yyyymmdd(s: pd.Series) -> pd.Series:
    d = pd.to_datetime(s, errors="coerce")
    return d.dt.strftime("%Y%m%d").astype("Int64")


def _money(x: float) -> str:
    if pd.isna(x):
        return ""
    sign = "-" if x < 0 else ""
    return f"{sign}¥{abs(x):,.2f}"


def make_client_export(canonical: Path, out: Path, seed: int = 0) -> Path:
    """Write the export and ``client.yaml`` into ``out``; returns the config path."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    read = {"dtype": str, "keep_default_na": False}

    c = pd.read_csv(canonical / "customers.csv", **read)
    members = pd.DataFrame(
        {
            "会员编号": c["customer_id"],
            "姓名": c["name"],
            "邮箱": c["email"],
            "手机": c["phone"],
            "注册日期": _yyyymmdd(c["signup_date"]),
            "区域": c["region"],
            "常去门店": c["home_store"],
            "年龄段": c["age_band"],
            "性别": c["gender"],
            "渠道": c["channel"],
            "是否会员": c["loyalty_member"].map({"yes": "是", "no": "否"}),
            "身份证号": [f"110101198{i % 10}0101{i % 1000:03d}X" for i in range(len(c))],
        }
    )
    (out / "会员.csv").write_bytes(members.to_csv(index=False).encode("gbk"))

    t = pd.read_csv(canonical / "transactions.csv", **read)
    amount = pd.to_numeric(t["amount"], errors="coerce")
    orders = pd.DataFrame(
        {
            "OrderNo": t["transaction_id"],
            "MemberID": t["customer_id"],
            "Shop": t["store_id"],
            "OrderDate": _yyyymmdd(t["date"]),
            "Amount": amount.map(_money),
            "Qty": t["items"],
            "Promo": t["promotion"].map({"1": "Y", "0": "N"}),
            "Status": "done",
        }
    )
    cancelled = orders.sample(25, random_state=seed).assign(Status="cancelled")
    cancelled["OrderNo"] = [f"X{i:05d}" for i in range(len(cancelled))]
    orders = pd.concat([orders, cancelled]).sort_index(kind="stable")
    (out / "orders.csv").write_text(orders.to_csv(index=False), encoding="utf-8-sig")

    s = pd.read_csv(canonical / "survey.csv", **read)
    sat = pd.to_numeric(s["overall_satisfaction"], errors="coerce")
    ten = 2 * sat - rng.integers(0, 2, len(sat))  # 1 -> 1|2, ..., 5 -> 9|10
    ten = ten.where(sat.between(1, 5), sat.map({0: 0, 6: 11}))  # out of range stays out
    num = lambda col: pd.to_numeric(s[col], errors="coerce")  # noqa: E731
    survey = pd.DataFrame(
        {
            "编号": s["response_id"],
            "会员编号": s["customer_id"].replace("", None),
            "门店": s["store_id"],
            "日期": pd.to_datetime(s["date"]),
            "满意度": ten,
            "推荐": num("recommend"),
            "商品质量": num("product_quality"),
            "性价比": num("price_value"),
            "服务态度A": num("staff_service"),
            "服务态度B": num("staff_service"),
            "门店环境": num("store_environment"),
            "结账速度": num("checkout_speed"),
            "商品齐全": num("product_availability"),
            "会员计划": num("loyalty_programme"),
            "备注": s["comment"].replace("", None),
        }
    )
    with pd.ExcelWriter(out / "survey.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["问卷导出 2025"]}).to_excel(xw, sheet_name="说明", index=False)
        survey.to_excel(xw, sheet_name="问卷2025", index=False)

    q = pd.read_csv(canonical / "complaints.csv", **read)
    serial = (pd.to_datetime(q["date"]) - pd.Timestamp("1899-12-30")).dt.days
    recl = pd.DataFrame(
        {
            "N° réclamation": q["complaint_id"],
            "Client": q["customer_id"],
            "Date réception": serial.astype(str),
            "Catégorie": q["category"],
            "Résolu": q["resolved"].map({"yes": "oui", "no": "non"}),
            "Délai (jours)": q["days_to_resolve"],
        }
    )
    (out / "reclamations.csv").write_bytes(recl.to_csv(index=False, sep=";").encode("cp1252"))

    pd.read_csv(canonical / "stores.csv", **read).to_parquet(out / "stores.parquet")
    p = pd.read_csv(canonical / "pilot.csv", **read)
    pd.DataFrame(
        {
            "shop": p["store_id"],
            "arm": p["group"].map({"treatment": "实验组", "control": "对照组"}),
            "what": p["intervention"],
            "von": p["start_date"],
            "bis": p["end_date"],
        }
    ).to_csv(out / "pilot_export.csv", index=False)

    cfg = out / "client.yaml"
    cfg.write_text(CLIENT_YAML, encoding="utf-8")
    return cfg


def _hashes(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _run_both(tmp: Path) -> dict:
    """The canonical run (runner API) and the client run (`crmlab run --config`, a process)."""
    canonical = tmp / "canonical"
    generate(CASE, canonical, seed=7, n_customers=500, n_stores=10, responses_per_wave=80)
    cfg = make_client_export(canonical, tmp / "client")
    before = _hashes(cfg.parent)
    env = {**os.environ, "CRMLAB_PSEUDONYM_KEY": KEY}
    client = subprocess.Popen(  # the client run goes on while the canonical run executes
        [sys.executable, "-m", "crmlab", "run", "--config", str(cfg), "--out", str(tmp / "runs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        [canon] = runner.run_cases(
            [CASE],
            {"data_dir": str(canonical), "n_boot": "20"},
            out_root=tmp / "canonical_runs",
            progress=False,
        )
        out, err = client.communicate(timeout=300)
    finally:
        if client.poll() is None:
            client.kill()
    assert canon.ok, canon.error
    assert client.returncode == 0, out[-3000:] + err[-3000:]
    [run_dir] = [p for p in (tmp / "runs" / CASE).iterdir() if p.name != "latest"]
    return {
        "canonical": canonical,
        "client": cfg.parent,
        "before": before,
        "canon": json.loads((canon.run_dir / "results.json").read_text()),
        "canon_dir": canon.run_dir,
        "run_dir": run_dir,
        "results": json.loads((run_dir / "results.json").read_text()),
        "log": out + err,
    }


@pytest.mark.slow
def test_client_export_runs_like_the_canonical_data(tmp_path):
    """One test (both runs once, also under pytest-xdist), three checks."""
    runs = _run_both(tmp_path)
    _check_same_figures(runs)
    _check_no_personal_data(runs)
    _check_client_files_and_report(runs)
    _check_action_list_ids(runs)
    _check_contact_list(runs)


def _check_contact_list(runs):
    """`crmlab lookup RUN --config CFG --out FILE`: the action list with each customer's member
    number and contacts, checked against the definition (the pseudonym of the member number)."""
    members = pd.read_csv(runs["client"] / "会员.csv", dtype=str, encoding="gbk")
    members = members.set_index("会员编号")
    out = runs["client"].parent / "contacts.xlsx"
    env = {**os.environ, "CRMLAB_PSEUDONYM_KEY": KEY}
    cmd = [sys.executable, "-m", "crmlab", "lookup", str(runs["run_dir"]), "--config"]
    cmd += [str(runs["client"] / "client.yaml"), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600  # personal data: for its owner only
    contacts = pd.read_excel(out, dtype=str)  # reader headers, as actions.xlsx
    actions = pd.read_csv(runs["run_dir"] / "actions.csv", dtype=str)
    first = ["Priority", "Customer (pseudonym)", "会员编号", "姓名", "邮箱"]
    assert list(contacts.columns[:5]) == first
    contacts = contacts.rename(columns={"Customer (pseudonym)": "customer_id"})
    assert contacts["customer_id"].tolist() == actions["customer_id"].tolist()
    assert "身份证号" not in contacts.columns  # not needed to contact anyone
    assert "Value (CNY)" in contacts.columns  # the run's currency, as actions.xlsx says it
    assert [pseudonym(m, KEY) for m in contacts["会员编号"]] == contacts["customer_id"].tolist()
    expected = members.loc[contacts["会员编号"], ["姓名", "手机"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(contacts[["姓名", "手机"]], expected)
    wrong = subprocess.run(
        cmd[:-1] + [str(out.with_suffix(".csv"))],
        capture_output=True,
        text=True,
        env={**env, "CRMLAB_PSEUDONYM_KEY": "another-key-0123456789"},
        timeout=120,
    )
    assert wrong.returncode != 0 and "None of the" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not out.with_suffix(".csv").exists()


def _check_action_list_ids(runs):
    """The action list's ids are the client's key applied once to its own member numbers, so
    the client can look every row up (before, the stages pseudonymized the imported pseudonyms
    a second time, giving ids nobody could match)."""
    members = pd.read_csv(runs["client"] / "会员.csv", dtype=str, encoding="gbk")["会员编号"]
    lookup = {pseudonym(m, KEY): m for m in members}
    actions = pd.read_csv(runs["run_dir"] / "actions.csv", dtype=str)
    assert len(actions) > 0 and actions["customer_id"].isin(list(lookup)).all()
    canon = pd.read_csv(runs["canon_dir"] / "actions.csv", dtype=str)
    assert len(actions) == len(canon)  # the same customers listed as from the canonical files


def _check_same_figures(runs):
    canon, client = runs["canon"], runs["results"]
    assert client["n_customers"] == canon["n_customers"] == 500
    assert client["drivers.ranking"] == canon["drivers.ranking"]
    assert client["tiers.counts"] == canon["tiers.counts"]
    assert client["goal.baseline"] == canon["goal.baseline"]  # CSAT from the 1-10 scale
    assert client["pilot.effect"] == canon["pilot.effect"]
    # every other figure too, except the number of quality findings: ratings outside the
    # client's 1-10 scale are removed on import, so 02_data has one finding fewer for them
    survey = pd.read_csv(runs["canonical"] / "survey.csv")
    out_of_scale = int((~survey["overall_satisfaction"].dropna().between(1, 5)).any())
    assert client["data.quality_findings"] == canon["data.quality_findings"] - out_of_scale
    # ... and the measure each run states: the client's 满意度 on 1-10, 7 and up satisfied
    assert canon["satisfaction.scale"] == [1, 5] and canon["satisfaction.satisfied_at"] == 4
    assert client["satisfaction.scale"] == [1, 10] and client["satisfaction.satisfied_at"] == 7
    assert client["satisfaction.questions"] == ["满意度"]
    differ = {k for k in set(canon) | set(client) if canon.get(k) != client.get(k)}
    measure = {"satisfaction.scale", "satisfaction.satisfied_at", "satisfaction.questions"}
    assert differ <= {"data.quality_findings"} | measure, differ


def _check_no_personal_data(runs):
    raw = pd.read_csv(runs["canonical"] / "customers.csv", dtype=str)
    ids = pd.read_csv(runs["client"] / "会员.csv", dtype=str, encoding="gbk")["身份证号"]
    known = {
        "name": raw["name"],
        "email": raw["email"],
        "phone": raw["phone"],
        "national id": ids,
    }
    run_dir = runs["run_dir"]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"input/ingest_report.json", "status.json", "results.json"} <= {
        str(p.relative_to(run_dir)) for p in files
    }
    for path in files:
        obj = pd.read_parquet(path) if path.suffix == ".parquet" else path
        assert_no_pii(obj, known)
    assert_no_pii(runs["log"], known)
    customers = pd.read_parquet(run_dir / "input" / "customers.parquet")
    for col in ("customer_id", "姓名", "邮箱", "手机", "身份证号"):
        assert customers[col].str.fullmatch(r"P-[0-9a-f]{12}").all(), col


def _check_client_files_and_report(runs):
    assert _hashes(runs["client"]) == runs["before"]
    report = json.loads((runs["run_dir"] / "input" / "ingest_report.json").read_text())
    info = report["sources"]
    assert info["customers"]["encoding"] == "GB18030/GBK (Chinese) (detected)"
    assert info["transactions"]["encoding"] == "UTF-8 with byte-order mark (detected)"
    assert info["complaints"]["encoding"] == "Windows-1252 (Latin-1) (detected)"
    assert info["survey"]["sheet"] == "问卷2025" and info["pilot"]["format"] == "DuckDB query"
    assert info["transactions"]["rows_read"] - info["transactions"]["rows_kept"] == 25
    assert report["survey"]["scale"] == [1.0, 10.0] and report["survey"]["satisfied_at"] == 7
    text = "\n".join(report["coercions"])
    assert "transactions: 25 cancelled order(s) dropped" in text
    assert "date(s) were Excel serial day numbers" in text
    assert "survey.staff_service = mean of 服务态度A, 服务态度B" in text
    status = json.loads((runs["run_dir"] / "status.json").read_text())
    assert status["title"] == "Client export test" and status["status"] == "ok"
    assert status["parameters"]["data_dir"] == str(runs["run_dir"] / "input")
    assert status["parameters"]["n_boot"] == 20


# --------------------------------------------------------------------------------------------
# the finance case: the synthetic data under other names, and a churn-flag extract
# --------------------------------------------------------------------------------------------
FINANCE = "finance_churn"


def _example(example: str, folder: Path, seed: int, **sizes) -> Path:
    """The worked example's exports (crmlab.synth.client_exports) and its config, the key
    from the environment; returns the config path."""
    client_exports.write_example_exports(example, folder / "exports", seed=seed, **sizes)
    cfg = folder / "client.yaml"
    cfg.write_text(client_exports.example_config(example, key_file=False), encoding="utf-8")
    return cfg


@pytest.mark.slow
def test_finance_export_under_other_names_gives_the_same_figures(tmp_path, monkeypatch):
    """The finance example (the synthetic data as a bank's exports: Excel master, GB18030
    snapshots, Chinese labels, day-first dates) through its config: every figure of results.json
    equals the run on the canonical files."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    canonical = tmp_path / "canonical"
    generate(FINANCE, canonical, seed=11, n_customers=1500)
    cfg = _example(FINANCE, tmp_path / "client", seed=11, n_customers=1500)
    [canon] = runner.run_cases(
        [FINANCE], {"data_dir": str(canonical)}, out_root=tmp_path / "canon", progress=False
    )
    client = runner.run_config(cfg, out_root=tmp_path / "runs", progress=False)
    assert canon.ok, canon.error
    assert client.ok, client.error
    a = json.loads((canon.run_dir / "results.json").read_text())
    b = json.loads((client.run_dir / "results.json").read_text())
    assert a["n_customers"] == b["n_customers"] == 1500
    # a config run fingerprints the client's export files, as the config names them
    recorded = json.loads((client.run_dir / "status.json").read_text())["data_fingerprint"]
    exports = {f["name"] for f in recorded["files"]}
    assert exports and all((cfg.parent / name).is_file() for name in exports)
    assert not any(name.endswith(".parquet") and "input" in name for name in exports)
    # ... and the report says so: the config is named, the note speaks of the exports
    page = (client.run_dir / "report.html").read_text(encoding="utf-8")
    assert "<td>Case config</td>" in page and f"{cfg.name}</code>" in page
    assert "export files that the case config names (and those its queries read;" in page
    assert b["churn.rate"] == a["churn.rate"] and b["pilot.effect"] == a["pilot.effect"]
    differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    # the Cox model sums over customers in pseudonym order: the same up to rounding (1e-12)
    assert {k for k in differ if not k.startswith("cox.")} == set(), differ
    for k in differ:
        assert a[k].keys() == b[k].keys(), k
        assert np.allclose(_numbers(b[k]), _numbers(a[k]), rtol=1e-9, atol=0), k


def _numbers(value) -> list[float]:
    """The numbers of a (nested) recorded figure, in key order."""
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _numbers(value[k])]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [float(value)]


@pytest.mark.slow
def test_churn_flag_extract_runs_end_to_end(tmp_path):
    """A one-row-per-customer extract (Chinese names, Yes/是/1 flags, no dates) through
    `crmlab run --config`: the baseline is the hand-computed share, the models find the planted
    effects, the report and the action list are built, no personal value leaks."""
    from crmlab.synth.finance_flag import telco_flag_table

    cfg = _example("flag", tmp_path, seed=5, n_customers=3000)
    # the extract without its month (the shipped example names one, see the test below)
    text = cfg.read_text(encoding="utf-8")
    assert "\n  extract_month: 2026-10" in text
    cfg.write_text(text.replace("\n  extract_month:", "\n  # extract_month:"), encoding="utf-8")
    table, truth = telco_flag_table(3000, seed=5)  # what the example's export holds
    run_dir, r = _run_finance_config(cfg, tmp_path)
    # baseline: the share flagged as churned, counted by hand from the client's words
    flags = table["是否流失"].isin(["Yes", "是", "1"])
    assert r["churn.n_lost"] == int(flags.sum()) == truth["n_churned"]
    assert r["churn.rate"] == pytest.approx(flags.mean(), abs=1e-12)
    assert r["churn.basis"] == "flag" and "no period stated" in r["churn.period"]
    assert r["goal.target"] == pytest.approx(0.8 * flags.mean())
    assert r["churn.ci"][0] < r["churn.rate"] < r["churn.ci"][1]
    # the planted effects: longer contracts keep customers, a higher fee pushes them out
    hr, planted = r["cox.hazard_ratios"], truth["log_hazard_ratios"]
    for name in ("合约类型_一年", "合约类型_两年", "月费"):
        assert np.log(hr[name]) == pytest.approx(planted[name], abs=0.2 * abs(planted[name])), name
    assert r["cox.p_values"]["性别_女"] > 0.01 and r["cox.p_values"]["电子账单"] > 0.01
    odds = r["model.odds_ratios"]
    assert odds["合约类型_两年"] < odds["合约类型_一年"] < 1 < odds["月费"]
    assert 0.65 < r["model.auc_test"] < 0.85 and r["model.n_test"] == 900
    assert r["survival.group"] == "合约类型"
    assert "pilot.effect" not in r  # no pilot table: stage 4 skips
    # deliverables: the flag summary (not the generic fallback), an action list
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Cut the <strong>churn share</strong>" in report and "the headline figures" not in report
    assert "A flag extract: who leaves" in report  # the text of this data shape is shown
    # ... and its monitoring plan speaks of leavers and cancellations, not a bank's accounts
    assert "customers who left since the last extract" in report
    assert "accounts open 12 months ago" not in report and "balance run-downs" not in report
    assert "Median months to leaving" in report and "Median months to closure" not in report
    # ... and its figures are labelled for it: no 12-month period, no held-out year
    assert "Model AUC on held-out customers" in report and "held-out year" not in report
    assert "Churn share of the extract" in report
    # no month in the extract: the dated plans say what to set, not that stage 3 lacks stages
    stage5 = _reader_text((run_dir / "html" / "05_evaluate.html").read_text(encoding="utf-8"))
    assert "Skipped: the lifecycle action plan" in stage5 and "set plan_start" in stage5
    assert "Skipped: the implementation plan" in stage5
    assert "It needs the lifecycle stages of stage 3" not in stage5
    # a clean extract: the data-quality check says so (not an empty table)
    stage2 = _reader_text((run_dir / "html" / "02_data.html").read_text(encoding="utf-8"))
    assert "No data-quality problems found: every check of the rules passed." in stage2
    actions = pd.read_csv(run_dir / "actions.csv")
    assert len(actions) == len(table) - r["churn.n_lost"]  # every customer still there
    # ids: the client's key applied once to its customer numbers (the client can look them up)
    lookup = {pseudonym(str(v), KEY) for v in table["客户编号"]}
    assert actions["customer_id"].isin(list(lookup)).all()
    counts = actions["segment"].value_counts().to_dict()
    assert counts["at_risk"] == r["lifecycle.counts"]["at_risk"] > 0
    assert actions["segment"].iloc[0] == "at_risk" and set(actions["tier"]) == {"A", "B", "C"}
    known = {"name": table["客户姓名"], "phone": table["手机号码"]}
    for path in [p for p in run_dir.rglob("*") if p.is_file()]:
        assert_no_pii(pd.read_parquet(path) if path.suffix == ".parquet" else path, known)
    _flag_run_reads_no_bank_text(run_dir, r, report, actions)


def test_the_flag_example_as_shipped_plans_from_its_extract_month(tmp_path):
    """The churn-flag example names its extract's month: the goal starts then and stage 5
    draws the lifecycle and implementation plans and the dated action list from it; without a
    success rate the pilot and the campaign say what a flag extract can do instead."""
    cfg = _example("flag", tmp_path, seed=6, n_customers=1500)
    run_dir, r = _run_finance_config(cfg, tmp_path)
    assert r["churn.basis"] == "flag" and r["goal.start"] == "2026-10"
    assert r["plan.start"] == "2026-10" and r["action_list.n"] > 0
    stage4 = _reader_text((run_dir / "html" / "04_pilot.html").read_text(encoding="utf-8"))
    assert "a churned flag without dates has none" in stage4 and "as success_rate" in stage4
    assert "A pilot table (customer, arm, offer date)" not in stage4
    stage5 = _reader_text((run_dir / "html" / "05_evaluate.html").read_text(encoding="utf-8"))
    assert "a churn-flag extract cannot hold one" in stage5
    assert "run a pilot that shows one" not in stage5
    for plan in ("the lifecycle action plan", "the implementation plan", "the dated action list"):
        assert f"Skipped: {plan}" not in stage5, plan
    actions = pd.read_csv(run_dir / "actions.csv")
    due = pd.to_datetime(actions["due_date"])
    # the callers are trained in the plan's first month (2026-10); the work list is called in
    # wave 1, days into 2026-11 (11-04 ...), the rest by the end of its month, none before
    assert pd.Timestamp("2026-11-01") < due.min() < pd.Timestamp("2026-11-30")
    assert due.max() <= pd.Timestamp("2027-01-31")


def _run_finance_config(cfg: Path, out: Path) -> tuple[Path, dict]:
    """`crmlab run --config cfg --out out` as a consultant types it (the key from the
    environment); the finance run's folder and its results.json."""
    env = {**os.environ, "CRMLAB_PSEUDONYM_KEY": KEY}
    cmd = [sys.executable, "-m", "crmlab", "run", "--config", str(cfg), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [run_dir] = [p for p in (out / FINANCE).iterdir() if p.name != "latest"]
    return run_dir, json.loads((run_dir / "results.json").read_text())


def _reader_text(page: str) -> str:
    page = re.sub(r"(?s)<(style|script)\b.*?</\1>", "", re.sub(r"</?(strong|em)>", "", page))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _flag_run_reads_no_bank_text(run_dir, r, report, actions):
    """A telecom's flag extract: the dated shape's bank text (cells tagged
    unless:churn.basis=flag) is left out of the report and the stage pages, the summary speaks
    of no campaign and of customer attributes (not events), and the action list uses the flag
    playbook (no salary deposit)."""
    from crmlab import plans

    bank_only = (
        "retail bank",
        "The metric is the 12-month churn rate",
        "Where we stand: the rolling 12-month churn rate",
        "For every month we count",
        "salary deposit",
        "digital banking",
        "the campaign's customers first",
        "Events push customers out",
        "Start with the",
        "relationship-manager call",
        "last year's closures",
    )
    # the report up to its methods appendix: the appendix lists the case's parameters with
    # their help texts (salary_share_target: "... salary deposit") whatever the data shape
    narrative = report[: report.index('<section id="methods"')]
    pages = {"report.html": _reader_text(narrative)}
    pages |= {p.name: _reader_text(p.read_text(encoding="utf-8")) for p in run_dir.glob("html/*")}
    assert len(pages) > 5
    for name, text in pages.items():
        assert not [s for s in bank_only if s.lower() in text.lower()], name
    # the methods appendix defines churn and the models of this shape (the spec's when:)
    methods = _reader_text(report[report.index('<section id="methods"') :])
    assert "Customers flagged as churned divided by the customers in the extract" in methods
    assert "stratified random split of the customers" in methods
    assert "closed in a 12-month period" not in methods and "train on one year" not in methods
    assert "pilot's randomized arms" not in methods  # the extract has no pilot
    # the bank's parameters this extract cannot use say so; the extract's own do not
    from tests.test_report import parameter_table

    _, rows = parameter_table(report, "en")
    for name in ("margin_rate", "lookback_months", "complaints_target", "salary_share_target"):
        assert rows[name][-1].startswith("Not used in this run: "), name
    for name in ("test_share", "value_column", "at_risk_prob", "target_relative_change"):
        assert not rows[name][-1].startswith("Not used"), name
    # the run's input folder as the provenance shows it: no machine-specific prefix
    assert rows["data_dir"][0].endswith("/input") and not rows["data_dir"][0].startswith("/")
    text = pages["report.html"]
    assert "campaign.n_contacted" not in r and "action_list.n" not in r
    assert "No retention campaign is costed in this run" in text
    assert "Customer attributes go with leaving: in the Cox model of tenure until leaving" in text
    assert "not events that push them out" in text
    at_risk = r["lifecycle.counts"]["at_risk"]
    assert f"It goes by lifecycle stage, the {at_risk:,} at-risk customers first" in text
    # the flag's own text is there, and the notebooks keep the dated text
    assert "A flag extract: the share that left" in text
    notebook = json.loads((run_dir / "01_goals.ipynb").read_text(encoding="utf-8"))
    assert any("The case: a retail bank" in "".join(c["source"]) for c in notebook["cells"])
    flag_actions = {action for action, _, _ in plans.CHURN_FLAG_PLAYBOOK.values()}
    assert set(actions["recommended_action"]) <= flag_actions  # the extract's own playbook
    assert not actions["recommended_action"].str.contains("salary deposit", case=False).any()
    assert "Relationship manager" not in set(actions["contact"]) | set(actions["owner_role"])


@pytest.mark.slow
def test_retail_without_store_recommend_or_resolution_runs(tmp_path, monkeypatch):
    """A survey without store_id and recommend, complaints without resolved and
    days_to_resolve: the config validates and the case runs to the end."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    canonical = tmp_path / "canonical"
    generate(CASE, canonical, seed=7, n_customers=400, n_stores=8, responses_per_wave=60)
    cfg = make_client_export(canonical, tmp_path / "client")
    survey = pd.read_excel(cfg.parent / "survey.xlsx", sheet_name="问卷2025")
    survey = survey.drop(columns=["门店", "推荐"])
    with pd.ExcelWriter(cfg.parent / "survey.xlsx", engine="openpyxl") as xw:
        survey.to_excel(xw, sheet_name="问卷2025", index=False)
    recl = pd.read_csv(cfg.parent / "reclamations.csv", sep=";", encoding="cp1252", dtype=str)
    recl.drop(columns=["Résolu", "Délai (jours)"]).to_csv(
        cfg.parent / "reclamations.csv", sep=";", index=False, encoding="cp1252"
    )
    text = cfg.read_text(encoding="utf-8")
    for line in ("    store_id: 门店\n", "    recommend: 推荐\n", "    resolved: Résolu\n"):
        text = text.replace(line, "")
    text = text.replace("    days_to_resolve: Délai (jours)\n", "")
    text = text.replace("  resolved: {true: [oui], false: [non]}\n", "")
    cfg.write_text(text, encoding="utf-8")
    from crmlab import config, ingest

    prepared = ingest.load(config.load_config(cfg))
    assert prepared.ok, prepared.errors
    assert "store_id" not in prepared.tables["survey"]
    assert "resolved" not in prepared.tables["complaints"]
    result = runner.run_config(cfg, out_root=tmp_path / "runs", progress=False)
    assert result.ok, result.error
    r = json.loads((result.run_dir / "results.json").read_text())
    assert "goal.baseline" in r and "drivers.ranking" in r
    assert "pilot.effect" not in r and "stores.csat_lowest" not in r


@pytest.mark.slow
def test_retail_one_year_of_orders_without_promotion_items_or_store_runs(tmp_path, monkeypatch):
    """Orders of the last 12 months only, without the optional promotion, items and store
    columns: the case runs to the end; the needs segments do without promotions and the spend
    KPI, whose target needs the same months a year earlier, is left out - both saying why."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    canonical = tmp_path / "canonical"
    generate(CASE, canonical, seed=7, n_customers=400, n_stores=8, responses_per_wave=60)
    cfg = make_client_export(canonical, tmp_path / "client")
    orders = pd.read_csv(cfg.parent / "orders.csv", dtype=str, encoding="utf-8-sig")
    day = pd.to_datetime(orders["OrderDate"], format="%Y%m%d")
    start = (day.max() + pd.Timedelta(days=1) - pd.DateOffset(years=1)).normalize()
    orders = orders[day >= start].drop(columns=["Promo", "Qty", "Shop"])
    orders.to_csv(cfg.parent / "orders.csv", index=False, encoding="utf-8-sig")
    text = cfg.read_text(encoding="utf-8")
    for line in ("    store_id: Shop\n", "    items: Qty\n", "    promotion: Promo\n"):
        assert line in text
        text = text.replace(line, "")
    cfg.write_text(text, encoding="utf-8")
    result = runner.run_config(cfg, out_root=tmp_path / "runs", progress=False)
    assert result.ok, result.error
    r = json.loads((result.run_dir / "results.json").read_text())
    needs = r["needs.counts"]  # no promotion flags: no segment judged on the price paid
    assert "price_sensitive" not in needs and "brand_preferring" not in needs
    assert "function_driven" in needs
    assert "kpi.spend_per_customer" not in r and "kpi.repeat_purchase_rate" in r
    page = html.unescape(re.sub(r"<[^>]+>", "", (result.run_dir / "report.html").read_text()))
    assert "No promotion flags: the transactions have no promotion column" in page
    first = day[day >= start].min()
    assert "Skipped: Spend per customer. It is not on the dashboard:" in page
    assert f"the transactions start only on {first:%Y-%m-%d}" in page
    # the Chinese report, which leaves out the English narrative, says it too
    zh = report.build_report(result.run_dir, "zh", out=tmp_path / "report.zh.html")
    assert "已跳过：客均消费。" in html.unescape(re.sub(r"<[^>]+>", "", zh.read_text()))
