"""The action list of the canonical retail run: who, what, owner, by when, in priority order,
as Excel (summary + one sheet per segment) and CSV, with no personal data."""

from __future__ import annotations

import calendar
import math
import re
import shutil

import pandas as pd
import pytest
from openpyxl import load_workbook

from crmlab import actions, casespec, i18n, plans
from crmlab.privacy import PiiLeakError, assert_no_pii
from crmlab.rundir import Run
from tests.deliverables_support import canonical_run

CASE = "retail_satisfaction"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, CASE)
    out = tmp_path_factory.mktemp("actions")
    xlsx, csv = actions.write_action_list(run_dir, out_dir=out)
    return Run.open(run_dir), xlsx, csv, pd.read_csv(csv, dtype={"customer_id": "str"})


def _last_day(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year:04d}-{mon:02d}-{calendar.monthrange(year, mon)[1]:02d}"


def test_every_classified_customer_is_listed_once(written):
    run, _, _, table = written
    counts = run.results["segments.counts"]
    assert len(table) == sum(counts.values()) == run.results["n_customers"]
    assert table["customer_id"].is_unique
    assert table["segment"].value_counts().to_dict() == counts
    assert table["customer_id"].str.fullmatch(r"P-[0-9a-f]{12}").all()  # pseudonyms only


def test_actions_owners_and_due_dates_come_from_the_playbook(written):
    run, _, _, table = written
    start = run.results["goal.start"]  # "2026-10": the plan's first month
    year, month = (int(x) for x in start.split("-"))
    for segment, (action, owner, offset) in plans.RETAIL_PLAYBOOK.items():
        rows = table[table["segment"] == segment]
        variants = plans.RETAIL_TIER_ACTIONS.get(segment, {})
        expected = rows["tier"].map(lambda t, a=action, v=variants: v.get(t, a))
        assert (rows["recommended_action"] == expected).all()
        assert set(rows["owner_role"]) == {owner}
        m = year * 12 + month - 1 + offset
        if segment == "at_risk":  # "... within 2 weeks": 14 days into the plan's first month
            assert set(rows["due_date"]) == {"2026-10-15"}
        else:  # no period in the wording: the last day of the action's month
            assert set(rows["due_date"]) == {_last_day(f"{m // 12}-{m % 12 + 1:02d}")}
    assert (table["contact"] == table["tier"].map(plans.TIER_OWNER)).all()


def test_retail_due_dates_follow_the_wording_of_each_tiers_action(written):
    """Found by a consultant: "win-back call ... within 2 weeks" was due 2026-10-31, 30 days
    after the plan's start. Every tier's at-risk action says "within 2 weeks": due 2026-10-01 +
    14 days, as the finance list counts its days (crmlab.plans.due_date for both)."""
    run, _, _, table = written
    assert run.results["plan.start"] == "2026-10"
    at_risk = table[table["segment"] == "at_risk"]
    assert len(at_risk) > 0 and set(at_risk["tier"]) == {"A", "B", "C"}
    assert at_risk["recommended_action"].str.endswith("within 2 weeks").all()
    assert set(at_risk["due_date"]) == {"2026-10-15"}
    loyal = table[table["segment"] == "loyal"]  # no period named: by the end of 2026-11
    assert set(loyal["due_date"]) == {"2026-11-30"}


def test_each_tier_gets_the_action_its_contact_can_deliver(written):
    """Seed 004: tier A has a dedicated account manager, C only automated marketing - so no
    tier-C customer is promised a call, and a lapsed tier-A customer is called, not e-mailed."""
    _, xlsx, _, table = written
    at_risk = table[table["segment"] == "at_risk"].groupby("tier")["recommended_action"]
    assert at_risk.unique().map(list).to_dict() == {
        "A": ["Personal win-back call from the account manager within 2 weeks"],
        "B": ["Win-back call with a voucher within 2 weeks"],
        "C": ["Win-back voucher by e-mail or text message within 2 weeks"],
    }
    by_c = table[table["tier"] == "C"]
    assert not by_c["recommended_action"].str.contains("call", case=False).any()
    assert (by_c["contact"] == "automated marketing").all()
    churned = table[table["segment"] == "churned"].set_index("customer_id")
    a = churned["tier"] == "A"
    assert a.sum() > 0 and (~a).sum() > 0
    assert set(churned.loc[a, "recommended_action"]) == {
        "Personal call from the account manager: ask why they left; win-back offer"
    }
    assert set(churned.loc[~a, "recommended_action"]) == {plans.RETAIL_PLAYBOOK["churned"][0]}
    assert (churned.loc[a, "contact"] == "dedicated account manager").all()
    # the summary sheet names the segment's planned action, which covers every tier's variant
    summary = pd.read_excel(xlsx, sheet_name="Summary", nrows=5).set_index("Customer class")
    assert summary.loc["at risk", "Recommended action"] == plans.RETAIL_PLAYBOOK["at_risk"][0]
    assert summary.loc["churned", "Recommended action"] == plans.RETAIL_PLAYBOOK["churned"][0]


def test_rows_are_in_priority_order(written):
    _, _, _, table = written
    assert table["priority"].tolist() == list(range(1, len(table) + 1))
    tier_rank = {"A": 0, "B": 1, "C": 2}
    playbook_order = list(plans.RETAIL_PLAYBOOK)

    def key(row):
        sat = row.satisfaction
        return (
            plans.RETAIL_PLAYBOOK[row.segment][2],  # most urgent first
            playbook_order.index(row.segment),  # then segments in the playbook's order
            tier_rank.get(row.tier, 3),  # then value tier A, B, C
            math.isnan(sat),  # then the least satisfied, unknown last
            0.0 if math.isnan(sat) else sat,
            -row.value,  # then the highest value
        )

    keys = [key(r) for r in table.itertuples()]
    assert keys == sorted(keys)
    assert table.iloc[0]["segment"] == "at_risk" and table.iloc[0]["tier"] == "A"


def test_excel_has_a_summary_and_a_formatted_sheet_per_segment(written):
    run, xlsx, _, table = written
    wb = load_workbook(xlsx)
    counts = run.results["segments.counts"]
    # a reader's workbook: sheets and headers in words ("at risk", "Due date"); the CSV keeps
    # the column names and values a CRM import expects
    shown = {segment.replace("_", " "): segment for segment in counts}
    assert wb.sheetnames[0] == "Summary"
    assert sorted(wb.sheetnames[1:]) == sorted(shown)
    summary = pd.read_excel(xlsx, sheet_name="Summary", nrows=len(counts))  # notes below it
    # money in the run's currency (stage 3's currency parameter, default CNY)
    assert run.results["currency"] == "CNY"
    assert list(summary.columns[:3]) == ["Customer class", "Customers", "Total value (CNY)"]
    assert summary.set_index("Customer class")["Customers"].to_dict() == {
        name: counts[segment] for name, segment in shown.items()
    }
    assert summary["Total value (CNY)"].sum() == pytest.approx(table["value"].sum())
    for name, segment in shown.items():
        n = counts[segment]
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws.max_row == n + 1  # header + one row per customer
        header = [c.value for c in ws[1]]
        assert header[:4] == ["Priority", "Customer (pseudonym)", "Customer class", "Value tier"]
        col = {h: i + 1 for i, h in enumerate(header)}
        assert ws.cell(2, col["Value (CNY)"]).number_format == "#,##0.00"
        assert ws.cell(2, col["Due date"]).number_format == "yyyy-mm-dd"
        assert ws.cell(2, col["Satisfaction (1-5)"]).number_format == "0.0"
        assert ws.cell(2, col["Customer class"]).value == name
        letter = ws.cell(1, col["Recommended action"]).column_letter
        assert ws.column_dimensions[letter].width >= 30  # wide enough for the action text
        ids = [ws.cell(r, col["Customer (pseudonym)"]).value for r in range(2, min(n, 20) + 2)]
        assert ids == table.loc[table["segment"] == segment, "customer_id"].head(20).tolist()
    # the case's extra text columns read in words too (the CSV keeps loyal_customers, cant_lose)
    shown_values = set()
    for ws in wb.worksheets[1:]:
        for row in ws.iter_rows(min_row=2, values_only=True):
            shown_values |= {v for v in row if isinstance(v, str)}
    identifiers = {v for v in shown_values if re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", v)}
    assert identifiers == set()
    raw = {v for c in table.columns if table[c].dtype.kind in "OT" for v in table[c].dropna()}
    assert "cant_lose" in raw and "can't lose" in shown_values
    assert "loyal_customers" in raw and "loyal customers" in shown_values


def test_no_personal_value_of_the_raw_files_is_in_the_list(written):
    run, xlsx, csv, _ = written
    raw = pd.read_csv(run.data_dir() / "customers.csv", dtype=str)
    # every distinct cell text of the CSV and of every sheet (a value occurs in a file's text
    # exactly when it occurs in one of its cells or headers; distinct cells keep this fast)
    cells = set(csv.read_text(encoding="utf-8").replace("\n", ",").split(","))
    for df in pd.read_excel(xlsx, sheet_name=None).values():
        cells |= {str(v) for v in [*df.columns, *df.to_numpy().ravel()]}
    assert len(cells) > 5000
    assert_no_pii("\n".join(sorted(cells)), raw[["name", "email", "phone"]])


@pytest.mark.parametrize("leak", ["email", "raw_id"])
def test_a_planted_leak_stops_the_list(written, tmp_path, leak):
    run, _, _, _ = written
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.ipynb", "html", "actions.*"))
    seg = pd.read_parquet(copy / "artifacts" / "segments.parquet")
    raw = pd.read_csv(run.data_dir() / "customers.csv", dtype=str)
    if leak == "email":  # a personal value inside a listed column
        seg["rfm_segment"] = seg["rfm_segment"].astype("str")
        seg.iloc[7, seg.columns.get_loc("rfm_segment")] = raw["email"].iloc[3]
    else:  # a raw customer id instead of its pseudonym
        seg = seg.rename(index={seg.index[5]: raw["customer_id"].iloc[5]})
    seg.to_parquet(copy / "artifacts" / "segments.parquet")
    with pytest.raises(PiiLeakError):
        actions.write_action_list(copy)
    assert not (copy / "actions.csv").exists() and not (copy / "actions.xlsx").exists()


def test_chinese_action_list_translates_headers_and_actions(written, tmp_path):
    run, _, _, table = written
    _, en_csv = actions.write_action_list(run.path, out_dir=tmp_path)
    xlsx, csv = actions.write_action_list(run.path, lang="zh", out_dir=tmp_path)
    assert (xlsx.name, csv.name) == ("actions.zh.xlsx", "actions.zh.csv")
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"  # BOM: Excel on Chinese Windows reads UTF-8
    zh = pd.read_csv(csv)
    # the list's segment column is the customer class (the report's 客户类别), not 细分
    assert list(zh.columns[:4]) == ["优先级", "客户编号（假名）", "客户类别", "价值等级"]
    assert zh.iloc[0]["建议行动"] == "两周内由客户经理亲自电话挽回"  # at risk, tier A
    assert set(zh.loc[zh["价值等级"] == "C 级", "建议行动"]) >= {
        "两周内通过邮件或短信发放挽回优惠券"
    }
    assert not zh["建议行动"].str.contains(r"[A-Za-z]{3,}").any()  # every variant translated
    # the case's extra text columns too (segments of other schemes, needs)
    assert set(zh["生命周期阶段"]) >= {"衰退期", "成熟期"}
    assert not zh["需求细分"].astype("str").str.contains("_").any()
    assert len(zh) == len(table)
    assert load_workbook(xlsx).sheetnames[0] == "汇总"
    # the English list beside it is left as it was
    assert pd.read_csv(en_csv).columns[0] == "priority"
    assert load_workbook(tmp_path / "actions.xlsx").sheetnames[0] == "Summary"


def _zh_headers(run_dir, tmp_path) -> dict[str, list[str]]:
    """The headers of a run's Chinese list: the CSV's and each sheet's of the workbook."""
    xlsx, csv = actions.write_action_list(run_dir, lang="zh", out_dir=tmp_path)
    sheets = pd.read_excel(xlsx, sheet_name=None, nrows=1)
    return {"csv": list(pd.read_csv(csv, nrows=1).columns)} | {
        name: list(df.columns) for name, df in sheets.items()
    }


def test_chinese_headers_say_which_segments_each_column_holds(written, finance_written, tmp_path):
    """A trial user read 细分 (the finance list's lifecycle stage, 成熟期) beside 客户细分 (the
    bank's own segments, 私人银行客群) as the same thing: the list's segment column is named by
    what it holds, as the report names it, and no two headers of a list read the same."""
    retail = _zh_headers(written[0].path, tmp_path / "retail")
    finance = _zh_headers(finance_written[0].path, tmp_path / "finance")
    assert retail["csv"] == [
        "优先级",
        "客户编号（假名）",
        "客户类别",
        "价值等级",
        "满意度",
        "价值（元）",
        "建议行动",
        "负责角色",
        "负责联系的人员",
        "截止日期",
        "生命周期阶段",
        "RFM 细分",
        "需求细分",
        "距上次购买天数",
    ]
    assert finance["csv"][:4] == ["优先级", "客户编号（假名）", "生命周期阶段", "价值等级"]
    assert "客户细分" in finance["csv"]
    for case, headers in {"retail": retail, "finance": finance}.items():
        assert headers["汇总"][0] == headers["csv"][2], case  # the Summary sheet's too
        for name, columns in headers.items():
            assert "细分" not in columns, (case, name)
            assert len(set(columns)) == len(columns), (case, name)
    assert finance["成熟期"] == finance["csv"]


def test_english_headers_say_which_segment_each_column_holds(written, finance_written):
    """ "Segment" (the finance list's lifecycle stage) stood beside "Client segment" (the bank's
    own segments): each segment column is named by what it holds, as the report's tables name
    it (case spec ``table_headers``); the English CSV keeps the column names of a CRM import."""
    sheets = {
        case: pd.read_excel(run[1], sheet_name=None, nrows=1)
        for case, run in {"retail": written, "finance": finance_written}.items()
    }
    first = {case: list(next(iter(s.values())).columns) for case, s in sheets.items()}
    assert first["retail"][0] == "Customer class" and first["finance"][0] == "Lifecycle stage"
    for case, named in {"retail": "Customer class", "finance": "Lifecycle stage"}.items():
        for name, df in list(sheets[case].items())[1:]:
            columns = list(df.columns)
            assert columns[2] == named and "Segment" not in columns, (case, name)
            assert len(set(columns)) == len(columns), (case, name)
    finance_sheet = list(sheets["finance"].values())[1]
    assert "Client segment" in finance_sheet.columns
    assert pd.read_csv(finance_written[2], nrows=1).columns[2] == "segment"
    # the report's stage-2 tables name the bank's segment as the list does, in both languages
    spec = casespec.load_spec("finance_churn")
    assert casespec.stage_spec(spec, "02_data")["table_headers"] == {"Segment": "Client segment"}
    assert i18n.translate("Client segment") == i18n.translate("client_segment") == "客户细分"
    assert i18n.translate("Lifecycle stage") == i18n.translate("stage") == "生命周期阶段"


def test_large_segments_are_capped_in_excel_but_complete_in_csv(written, tmp_path):
    run, _, _, full = written
    xlsx, csv = actions.write_action_list(run.path, out_dir=tmp_path, max_rows_per_sheet=3)
    wb = load_workbook(xlsx)
    counts = run.results["segments.counts"]
    for segment, n in counts.items():
        ws = wb[segment.replace("_", " ")]
        assert ws.max_row == min(n, 3) + 1  # header + the three most urgent customers
        ids = [ws.cell(r, 2).value for r in range(2, ws.max_row + 1)]
        assert ids == full.loc[full["segment"] == segment, "customer_id"].head(3).tolist()
    notes = [c.value for c in wb["Summary"]["A"] if c.value and "first 3 customers" in str(c.value)]
    assert len(notes) == 1
    assert len(pd.read_csv(csv)) == sum(counts.values())  # the CSV lists everyone


def test_values_are_written_in_cents(written):
    """The value column is money: at most two decimals in the CSV (no float noise such as
    3875.3599999999997), and the cents of the stage's exact value."""
    run, xlsx, csv, table = written
    text = pd.read_csv(csv, dtype={"value": "str"})["value"].dropna()
    assert text.str.fullmatch(r"-?\d+(\.\d{1,2})?").all()
    spec = actions.action_spec(CASE)
    stage = run.artifact(spec["table"])  # indexed by customer id
    stage = stage[spec["value"]].astype("float64")
    got = table.set_index("customer_id")["value"]
    assert got.notna().sum() > 100
    assert (got - stage.reindex(got.index)).abs().max() <= 0.005 + 1e-9
    _summary_adds_exact_values(run, xlsx, table, CASE)


def _summary_adds_exact_values(run, xlsx, table, case) -> bool:
    """The Summary sheet's total per segment is the sum of the stage's exact values to the cent
    (the report's totals), not the sum of the list's rounded values; returns whether the two
    differ in this run."""
    spec = actions.action_spec(case)
    stage = run.artifact(spec["table"])
    exact = stage[spec["value"]].astype("float64").groupby(stage[spec["segment"]].astype("str"))
    exact = exact.sum().round(2)
    summary = pd.read_excel(xlsx, sheet_name="Summary")
    summary = summary[summary["Customers"].notna()]
    summary = summary.set_index(summary.columns[0])["Total value (CNY)"]  # the segment column
    names = {s: actions._segment_name(s, "en") for s in table["segment"].unique()}
    assert {s: summary[n] for s, n in names.items()} == {s: exact[s] for s in names}
    cents = table.groupby("segment")["value"].sum().round(2)
    return bool((cents != exact.reindex(cents.index)).any())


def test_whole_numbers_and_decimals_are_written_as_a_client_reads_them(written):
    """Whole-number columns (a 1-5 rating, days) as integers; fractions rounded (no float
    noise such as 64.98562628336755 months)."""
    _, _, csv, _ = written
    text = pd.read_csv(csv, dtype="str")
    for col in ("satisfaction", "recency_days"):
        shown = text[col].dropna()
        assert len(shown) > 100 and shown.str.fullmatch(r"\d+").all(), col
    table = pd.DataFrame(
        {
            "churn_risk": [0.5009952660419958, 0.1],
            "tenure_months": [64.98562628336755, 3.5],
            "products_held": [2.0, float("nan")],
        }
    )
    out = actions._rounded(table, "churn_risk")
    assert out["churn_risk"].tolist() == [0.501, 0.1]  # SCORE_DECIMALS = 4: 0.5010
    assert out["tenure_months"].tolist() == [64.99, 3.5]
    assert str(out["products_held"].dtype) == "Int64"
    assert out["products_held"].tolist()[0] == 2 and out["products_held"].isna().tolist()[1]


# --------------------------------------------------------------------------------------------
# the finance case: who acts (owner and contact agree), money headers in CNY
# --------------------------------------------------------------------------------------------
FINANCE = "finance_churn"


@pytest.fixture(scope="module")
def finance_written(tmp_path_factory):
    run_dir = canonical_run(tmp_path_factory, FINANCE)
    out = tmp_path_factory.mktemp("finance-actions")
    xlsx, csv = actions.write_action_list(run_dir, out_dir=out)
    table = pd.read_csv(csv, dtype={"customer_id": "str"})
    return Run.open(run_dir), xlsx, csv, table


def test_finance_contacts_are_the_campaigns_callers_by_tier():
    from crmlab import targeting
    from crmlab.narrative import label

    contacts = actions.tier_contacts(actions.action_spec(FINANCE))
    assert contacts == {
        "A": "Relationship manager",
        "B": "Service team",
        "C": "Marketing automation",
    }
    callers = {t: label(owner) for t, (_, owner, _) in targeting.DEFAULT_TIER_ACTIONS.items()}
    assert contacts == callers
    # a case without actions.contact keeps the tiers' channels of crmlab.plans
    assert actions.tier_contacts(actions.action_spec(CASE)) == plans.TIER_OWNER


def test_finance_owner_and_contact_never_contradict_each_other(finance_written):
    run, _, _, table = finance_written
    contacts = actions.tier_contacts(actions.action_spec(FINANCE))
    roles = set(contacts.values())
    work = run.artifact("action_list").set_index("pseudo_id")
    listed = table.set_index("customer_id")
    campaign = listed[listed["campaign_rank"].notna()]
    rest = listed[listed["campaign_rank"].isna()]
    assert len(campaign) == len(work) > 100 and len(rest) > 1000
    # the campaign names who calls: that is the owner and the contact
    owners = work.loc[campaign.index, "owner_role"].str.replace("_", " ").str.capitalize()
    assert (campaign["owner_role"] == owners).all()
    assert (campaign["contact"] == campaign["owner_role"]).all()
    # (by tier, or the service manager after a complaint; the canonical campaign has no tier C)
    assert {"Relationship manager", "Service team", "Service manager"} == set(campaign["contact"])
    # the others: contact by tier; the playbook's owner, unless it is another tier's contact
    assert (rest["contact"] == rest["tier"].map(contacts)).all()
    playbook_owner = rest["segment"].map({k: v[1] for k, v in plans.FINANCE_PLAYBOOK.items()})
    personal = playbook_owner.isin(roles)
    assert personal.sum() > 500
    assert (rest.loc[personal, "owner_role"] == rest.loc[personal, "contact"]).all()
    assert (rest.loc[~personal, "owner_role"] == playbook_owner[~personal]).all()
    # the user trial's row: a tier B mature customer (playbook: "Relationship manager")
    b_mature = rest[(rest["tier"] == "B") & (rest["segment"] == "mature")]
    assert len(b_mature) > 100
    assert set(b_mature["owner_role"]) == set(b_mature["contact"]) == {"Service team"}
    # only tier A customers have a relationship manager
    with_rm = listed[
        (listed["owner_role"] == "Relationship manager")
        | (listed["contact"] == "Relationship manager")
    ]
    assert set(with_rm["tier"]) == {"A"}


def test_a_work_list_without_a_costed_campaign_is_not_called_a_campaign(finance_written, tmp_path):
    """A finance run without a success rate (no pilot, none given) costs no campaign: its
    stage-5 work list (the highest expected losses) heads the list as "work list", and the
    Summary sheet counts it as such, not as "In the retention campaign"."""
    import json

    run, _, _, with_campaign = finance_written
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("*.ipynb", "html", "actions.*"))
    results = json.loads((copy / "results.json").read_text(encoding="utf-8"))
    costed = [k for k in results if k.startswith("campaign.")]
    assert "campaign.n_contacted" in costed
    for k in costed:  # what a run without a success rate records
        del results[k]
    (copy / "results.json").write_text(json.dumps(results), encoding="utf-8")
    xlsx, csv = actions.write_action_list(copy)
    table = pd.read_csv(csv)
    work = run.artifact("action_list")
    assert "campaign_rank" not in table.columns
    assert table["work_list_rank"].notna().sum() == len(work)
    assert table["work_list_rank"].iloc[: len(work)].tolist() == list(range(1, len(work) + 1))
    # the same customers in the same order as the run with the campaign
    head = with_campaign["customer_id"].iloc[: len(work)].tolist()
    assert table["customer_id"].iloc[: len(work)].tolist() == head
    summary = pd.read_excel(xlsx, sheet_name="Summary")
    assert "In the retention campaign" not in summary.columns
    assert summary["On the work list"].sum() == len(work)
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert all("Work-list rank" in df.columns for n, df in sheets.items() if n != "Summary")
    xlsx_zh, _ = actions.write_action_list(copy, lang="zh")
    summary_zh = pd.read_excel(xlsx_zh, sheet_name="汇总")
    assert summary_zh["列入工作清单的客户数"].sum() == len(work)


def test_finance_summary_totals_are_the_exact_values_not_the_sum_of_rounded_ones(finance_written):
    run, xlsx, _, table = finance_written
    assert _summary_adds_exact_values(run, xlsx, table, FINANCE)  # rounding would show


def test_finance_excel_headers_say_who_acts_and_the_currency(finance_written, tmp_path):
    run, xlsx, csv, table = finance_written
    sheets = pd.read_excel(xlsx, sheet_name=None)
    summary = sheets.pop("Summary")
    assert {"Total value (CNY)", "Mean value (CNY)", "Action owner"} <= set(summary.columns)
    for df in sheets.values():
        assert {"Value (CNY)", "Action owner", "Who contacts the customer"} <= set(df.columns)
        assert not {"Value", "Owner", "Contact"} & set(df.columns)
    ws = load_workbook(xlsx)["mature"]
    header = [c.value for c in ws[1]]
    assert ws.cell(2, header.index("Value (CNY)") + 1).number_format == "#,##0"
    # the CSV keeps the column names a CRM import expects
    assert {"value", "owner_role", "contact"} <= set(table.columns)
    # the Chinese list names the currency too
    zh_xlsx, zh_csv = actions.write_action_list(run.path, lang="zh", out_dir=tmp_path)
    assert "价值（元）" in pd.read_csv(zh_csv).columns
    assert "价值（元）" in pd.read_excel(zh_xlsx, sheet_name="成熟期").columns
    summary_zh = pd.read_excel(zh_xlsx, sheet_name="汇总")
    assert {"挽留活动覆盖的客户数", "最高优先级"} <= set(summary_zh.columns)
    assert not [c for c in summary_zh.columns if re.search(r"[A-Za-z]{3,}", str(c))]


def test_summary_sheet_names_each_segments_own_action_and_its_campaign_customers():
    """A segment's row gives the action most of its customers get, not that of its first row
    (a campaign customer with an action of its own), and how many are in the campaign."""
    from crmlab.actions import segment_summary

    d = pd.Timestamp
    table = pd.DataFrame(
        {
            "priority": [1, 2, 3, 4],
            "customer_id": ["P-a", "P-b", "P-c", "P-d"],
            "segment": ["growing", "growing", "growing", "at_risk"],
            "churn_risk": [0.5, 0.25, 0.125, 0.75],
            "value": [100.0, 10.0, 20.0, 5.0],
            "recommended_action": ["Complaint follow-up call", "Cross-sell", "Cross-sell", "Call"],
            "owner_role": ["Service manager", "Service team", "Service team", "Service team"],
            "due_date": [d("2026-11-15"), d("2026-11-30"), d("2026-11-30"), d("2026-11-15")],
            "campaign_rank": [1.0, None, None, 2.0],
        }
    )
    s = segment_summary(table, "churn_risk").set_index("segment")
    assert s.loc["growing", "recommended_action"] == "Cross-sell"
    assert s.loc["growing", "owner_role"] == "Service team"
    assert s.loc["growing", "first_due_date"] == d("2026-11-15")  # the earliest
    assert s.loc["growing", "in_campaign"] == 1 and s.loc["at_risk", "in_campaign"] == 1
    assert s.loc["growing", "customers"] == 3 and s.loc["growing", "total_value"] == 130.0
    assert s.loc["growing", "mean_churn_risk"] == pytest.approx(0.875 / 3)
    assert list(s.index) == ["growing", "at_risk"]  # in the list's order


def test_summary_owner_of_a_segment_owned_by_each_tiers_contact_reads_by_tier():
    """A segment whose own customers are each owned by their tier's contact (relationship
    manager A, service team B) reads "By value tier: ..." as the report's plan does, not the
    contact of its largest tier; a campaign customer's own owner does not change that, and a
    segment with one owner keeps it."""
    from crmlab.actions import segment_summary

    contacts = {"A": "Relationship manager", "B": "Service team", "C": "Marketing automation"}
    d = pd.Timestamp("2026-11-30")
    table = pd.DataFrame(
        {
            "priority": [1, 2, 3, 4, 5],
            "customer_id": ["P-a", "P-b", "P-c", "P-d", "P-e"],
            "segment": ["mature", "mature", "mature", "mature", "new"],
            "tier": ["C", "A", "B", "B", "B"],
            "churn_risk": [0.9, 0.1, 0.2, 0.3, 0.1],
            "value": [1.0, 2.0, 3.0, 4.0, 5.0],
            "recommended_action": ["Call", "Review", "Review", "Review", "Onboarding"],
            "owner_role": [
                "Service manager",  # a campaign customer after a complaint
                "Relationship manager",
                "Service team",
                "Service team",
                "Onboarding team",
            ],
            "contact": [
                "Service manager",
                "Relationship manager",
                "Service team",
                "Service team",
                "Service team",
            ],
            "due_date": [d] * 5,
            "campaign_rank": [1.0, None, None, None, None],
        }
    )
    s = segment_summary(table, "churn_risk", contacts=contacts).set_index("segment")
    assert s.loc["mature", "owner_role"] == (
        "By value tier: relationship manager (A), service team (B), marketing automation (C)"
    )
    assert s.loc["new", "owner_role"] == "Onboarding team"
    assert (
        segment_summary(table, "churn_risk").set_index("segment").loc["mature", "owner_role"]
        == "Service team"
    )  # without contacts: the most frequent, as before


def test_finance_campaign_is_due_before_the_rest_of_the_list(finance_written):
    """The campaign's customers are the list's first priorities: their due dates (days into
    the month of wave 1, after the callers' training month) come no later than any other
    customer's (the playbook's month ends; found by a new-user trial: 11-04..11-15 after
    10-31), and none before wave 1 (found by a consultant: due in the training month)."""
    run, _, _, table = finance_written
    due = pd.to_datetime(table["due_date"])
    campaign = table["campaign_rank"].notna()
    wave = pd.Period(run.results["plan.start"], freq="M") + plans.FIRST_CONTACT_MONTH
    assert str(wave) == "2026-11"
    assert due[campaign].min() >= wave.start_time
    assert due[campaign].max() <= due[~campaign].min()
    assert due[campaign].max() < wave.end_time  # within the month of wave 1
