"""`crmlab lookup`: pseudonyms back to the client's customer numbers and contacts.

The expected pseudonyms are computed here from the definition (HMAC-SHA256 of the member number
with the key, ``crmlab.privacy.pseudonym``), the expected contacts read from the fixture export.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from crmlab import cli, config, lookup
from crmlab.errors import ParameterError
from crmlab.privacy import pseudonym

FIXTURES = Path(__file__).parent / "fixtures" / "byod"
KEY = b"test-key-for-pseudonyms-0123"


@pytest.fixture
def cfg(tmp_path):
    folder = tmp_path / "client"
    shutil.copytree(FIXTURES, folder)
    return config.load_config(folder / "client.yaml")


@pytest.fixture
def members():
    return pd.read_csv(FIXTURES / "members.csv", dtype=str)


def test_every_member_is_found_with_number_and_contacts(cfg, members):
    who = lookup.identities(cfg, KEY)
    assert who.id_column == "会员编号"  # the client's own column name
    assert who.contact_columns == ["姓名", "手机", "邮箱"]
    for _, m in members.iterrows():
        row = who.table.loc[pseudonym(m["会员编号"], KEY)]
        assert row["会员编号"] == m["会员编号"]
        assert (row["姓名"], row["手机"], row["邮箱"]) == (m["姓名"], m["手机"], m["邮箱"])


def test_customers_only_in_orders_are_found_without_contacts(cfg, members):
    orders = pd.read_csv(FIXTURES / "orders.csv", dtype=str)
    only_orders = sorted(set(orders["MemberID"].str.strip()) - set(members["会员编号"]))
    assert only_orders  # the fixture has an orphan order
    who = lookup.identities(cfg, KEY)
    for m in only_orders:
        row = who.table.loc[pseudonym(m, KEY)]
        assert row["会员编号"] == m and row[["姓名", "手机", "邮箱"]].isna().all()
    assert len(who.table) == len(set(members["会员编号"]) | set(orders["MemberID"].str.strip()))


def test_id_numbers_are_never_copied_into_a_contact_list(cfg, tmp_path):
    path = cfg.path.parent / "members.csv"
    m = pd.read_csv(path, dtype=str)
    m["身份证号"] = [f"11010119800101{i:03d}X" for i in range(len(m))]
    m.to_csv(path, index=False)
    who = lookup.identities(config.load_config(cfg.path), KEY)
    assert "身份证号" not in who.table.columns and who.contact_columns == ["姓名", "手机", "邮箱"]


def test_reidentify_keeps_rows_and_order_and_counts_the_unknown(cfg, members):
    ids = [pseudonym(members["会员编号"][2], KEY), "P-000000000000", pseudonym("1001", KEY)]
    actions = pd.DataFrame({"priority": [1, 2, 3], "customer_id": ids, "action": list("abc")})
    out, missing = lookup.reidentify(actions, lookup.identities(cfg, KEY))
    assert missing == 1
    assert list(out.columns) == [
        "priority",
        "customer_id",
        "会员编号",
        "姓名",
        "手机",
        "邮箱",
        "action",
    ]
    assert out["会员编号"].tolist()[0] == members["会员编号"][2] and pd.isna(out["会员编号"][1])
    assert out["姓名"][2] == "王小明" and out["action"].tolist() == ["a", "b", "c"]


def test_another_key_finds_nobody(cfg):
    who = lookup.identities(cfg, b"another-key-0123456789")
    assert pseudonym("1001", KEY) not in who.table.index


def test_lookup_of_pseudonyms_and_of_text_that_is_none(cfg):
    found = lookup.lookup(cfg, [pseudonym("1002", KEY), "P-abcdefabcdef"], KEY)
    assert found["会员编号"].tolist()[0] == "1002" and found["姓名"].tolist()[0] == "李华"
    assert found.iloc[1].isna().all()
    with pytest.raises(ParameterError, match="Not a pseudonym: 1002"):
        lookup.lookup(cfg, ["1002"], KEY)


def _fake_run(root: Path, case: str = "retail_satisfaction") -> Path:
    run = root / case / "2026-12-06T10-00-00"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"case": case, "status": "ok"}))
    return run


def test_the_list_is_never_written_into_the_deliverables(cfg, tmp_path):
    run = _fake_run(tmp_path / "runs")
    for out in (run / "contacts.xlsx", tmp_path / "runs" / "contacts.csv"):
        with pytest.raises(ParameterError, match="hold no personal data"):
            lookup.write_contact_list(run, cfg.path, out, KEY)
        assert not out.exists()
    with pytest.raises(ParameterError, match=r"\.xlsx or \.csv"):
        lookup.write_contact_list(run, cfg.path, tmp_path / "contacts.txt", KEY)
    other = _fake_run(tmp_path / "other", "finance_churn")
    with pytest.raises(ParameterError, match="run of finance_churn"):
        lookup.write_contact_list(other, cfg.path, tmp_path / "contacts.csv", KEY)


def test_command_line_errors_are_messages(cfg, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY.decode())
    run = _fake_run(tmp_path / "runs")
    assert cli.main(["lookup", str(run), "--config", str(cfg.path)]) != 0
    assert "--out" in capsys.readouterr().err
    assert cli.main(["lookup", "M1001", "--config", str(cfg.path)]) != 0
    assert "Not a pseudonym: M1001" in capsys.readouterr().err
    code = cli.main(["lookup", pseudonym("1003", KEY), "--config", str(cfg.path)])
    out = capsys.readouterr().out
    assert code == 0 and "1003" in out and "张伟" in out


def test_the_list_is_never_written_where_git_would_commit_it(cfg, tmp_path):
    import subprocess

    project = tmp_path / "acme"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text(config.STARTER_GITIGNORE, encoding="utf-8")
    run = _fake_run(tmp_path / "runs")
    out = project / "contacts.xlsx"
    with pytest.raises(ParameterError, match="would be committed by git"):
        lookup.write_contact_list(run, cfg.path, out, KEY)
    assert not out.exists()
    assert config.tracked_by_git(project / "new" / "folder" / "contacts.xlsx")  # not there yet
    assert not config.tracked_by_git(project / "private" / "contacts.xlsx")  # crmlab new ignores it
    assert not config.tracked_by_git(tmp_path / "elsewhere.xlsx")  # not in a work tree


# --------------------------------------------------------------------------------------------
# the contact list in the run's language (a trial user's zh run gave English headers and actions)
# --------------------------------------------------------------------------------------------
ZH_HEADERS = [
    "优先级",
    "客户编号（假名）",
    "会员编号",
    "姓名",
    "手机",
    "邮箱",
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
EN_HEADERS = [
    "Priority",
    "Customer (pseudonym)",
    "会员编号",
    "姓名",
    "手机",
    "邮箱",
    "Customer class",
    "Value tier",
    "Satisfaction (1-5)",
    "Value (CNY)",
    "Recommended action",
    "Action owner",
    "Who contacts the customer",
    "Due date",
    "Lifecycle",
    "RFM segment",
    "Needs segment",
    "Recency days",
]


def _retail_run(root: Path) -> Path:
    """A finished retail run of the fixture's four members (their pseudonyms under KEY): what
    the action list reads - its segments table, plan start and currency."""
    run = _fake_run(root)
    (run / "results.json").write_text(json.dumps({"plan.start": "2026-10", "currency": "CNY"}))
    ids = [pseudonym(m, KEY) for m in ("1001", "1002", "1003", "1004")]
    segments = pd.DataFrame(
        {
            "customer_class": ["at_risk", "loyal", "churned", "at_risk"],
            "tier": ["A", "B", "C", "C"],
            "overall_satisfaction": [2.0, 5.0, 3.0, 1.0],
            "monetary": [900.0, 500.0, 50.0, 80.0],
            "lifecycle": ["lapsed", "mature", "churned", "lapsed"],
            "rfm_segment": ["cant_lose", "champions", "lost", "at_risk"],
            "needs_segment": ["mixed", "brand_preferring", "mixed", "mixed"],
            "recency_days": [110.0, 5.0, 300.0, 95.0],
        },
        index=pd.Index(ids, name="customer_id"),
    )
    (run / "artifacts").mkdir()
    segments.to_parquet(run / "artifacts" / "segments.parquet")
    return run


def _zh_config(cfg) -> Path:
    """The fixture's config with `report: {lang: zh}` (a run in Chinese)."""
    text = cfg.path.read_text(encoding="utf-8") + "report: {lang: zh}\n"
    cfg.path.write_text(text, encoding="utf-8")
    return cfg.path


def _check_people(contacts: pd.DataFrame, members: pd.DataFrame, pseudonym_header: str) -> None:
    """Each row's member number is the one behind its pseudonym, with that member's contacts;
    the rows in the list's priority order (at risk first: tier A, then C; loyal; churned)."""
    assert contacts["会员编号"].tolist() == ["1001", "1004", "1002", "1003"]
    got = [pseudonym(m, KEY) for m in contacts["会员编号"]]
    assert got == contacts[pseudonym_header].tolist()
    expected = members.set_index("会员编号").loc[contacts["会员编号"], ["姓名", "手机", "邮箱"]]
    pd.testing.assert_frame_equal(
        contacts[["姓名", "手机", "邮箱"]], expected.reset_index(drop=True)
    )


def test_the_contact_list_of_a_chinese_run_is_in_chinese(cfg, members, tmp_path, monkeypatch):
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY.decode())
    run = _retail_run(tmp_path / "runs")
    config_path = _zh_config(cfg)
    out = tmp_path / "private" / "contacts.xlsx"
    assert cli.main(["lookup", str(run), "--config", str(config_path), "--out", str(out)]) == 0
    contacts = pd.read_excel(out, dtype=str)
    assert list(contacts.columns) == ZH_HEADERS  # as actions.zh.xlsx, plus the client's columns
    assert not [h for h in contacts.columns if re.search(r"[a-z]{2,}", h)]  # no English header
    _check_people(contacts, members, "客户编号（假名）")
    assert contacts["建议行动"].tolist()[:2] == [
        "两周内由客户经理亲自电话挽回",  # at risk, tier A
        "两周内通过邮件或短信发放挽回优惠券",  # at risk, tier C: a voucher by message
    ]
    assert contacts["客户类别"].tolist()[0] == "流失风险客户"
    texts = contacts.drop(columns=["会员编号", "姓名", "手机", "邮箱", "客户编号（假名）"])
    assert not texts.stack().str.contains(r"[a-z]{3,}").any()  # every value in Chinese
    # the CSV too, as actions.zh.csv (UTF-8 with a byte-order mark)
    csv = out.with_suffix(".csv")
    assert cli.main(["lookup", str(run), "--config", str(config_path), "--out", str(csv)]) == 0
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"
    in_csv = pd.read_csv(csv, dtype=str)
    assert list(in_csv.columns) == ZH_HEADERS
    _check_people(in_csv, members, "客户编号（假名）")


def test_lang_overrides_the_runs_language(cfg, members, tmp_path, monkeypatch):
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY.decode())
    run = _retail_run(tmp_path / "runs")
    plain = str(cfg.path)  # no report lang: English
    zh = str(_zh_config(config.load_config(shutil.copy(cfg.path, cfg.path.with_name("zh.yaml")))))
    private = tmp_path / "private"

    def contact_list(config_path: str, name: str, *lang: str) -> pd.DataFrame:
        out = private / name
        assert (
            cli.main(["lookup", str(run), "--config", config_path, "--out", str(out), *lang]) == 0
        )
        return (pd.read_excel if out.suffix == ".xlsx" else pd.read_csv)(out, dtype=str)

    english = contact_list(zh, "en.xlsx", "--lang", "en")
    assert list(english.columns) == EN_HEADERS
    _check_people(english, members, "Customer (pseudonym)")
    assert english["Recommended action"].tolist()[0] == (
        "Personal win-back call from the account manager within 2 weeks"
    )
    # the English CSV keeps the column names of actions.csv, for a CRM import
    names = ["priority", "customer_id", "会员编号", "姓名", "手机", "邮箱", "segment", "tier"]
    for in_csv in (contact_list(zh, "en.csv", "--lang", "en"), contact_list(plain, "plain.csv")):
        assert list(in_csv.columns[:8]) == names
        _check_people(in_csv, members, "customer_id")
    assert list(contact_list(plain, "zh.csv", "--lang", "zh").columns) == ZH_HEADERS


def test_a_client_column_named_like_a_header_of_the_list_says_it_is_the_exports():
    who = lookup.Identities(
        pd.DataFrame(
            {"会员编号": ["1001"], "客户类别": ["金卡"]},
            index=pd.Index([pseudonym("1001", KEY)], name="customer_id"),
        ),
        "会员编号",
        ["客户类别"],
    )
    actions = pd.DataFrame(
        {"priority": [1], "customer_id": [pseudonym("1001", KEY)], "segment": ["loyal"]}
    )
    table, _ = lookup.reidentify(actions, who)
    added = [c for c in table.columns if c not in actions.columns]
    spec = {"segment": "customer_class"}
    shown = lookup._shown(table, added, "zh", True, spec, "CNY")
    assert list(shown.columns) == [
        "优先级",
        "客户编号（假名）",
        "会员编号",
        "客户类别（导出）",
        "客户类别",
    ]
    assert shown.iloc[0].tolist()[3:] == ["金卡", "忠诚客户"]


def test_a_missing_run_folder_is_said_as_such(cfg, tmp_path, capsys, monkeypatch):
    """A trial user's typo in the run folder read "--out is for a run folder's whole action
    list, not for pseudonyms"."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY.decode())
    out = str(tmp_path / "private" / "contacts.xlsx")
    missing = tmp_path / "runs" / "retail_satisfaction" / "2026-12-06T10-00-0"
    assert cli.main(["lookup", str(missing), "--config", str(cfg.path), "--out", out]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {missing} does not exist. Give a run folder: {cli.RUN_FOLDERS}.\n"
    )
    # no finished run yet: latest is not there, and a failed run has no action list
    failed = _fake_run(tmp_path / "runs")
    status = {"case": "retail_satisfaction", "status": "failed", "failed_stage": "03_model"}
    (failed / "status.json").write_text(json.dumps(status))
    latest = failed.parent / "latest"
    assert cli.main(["lookup", str(latest), "--config", str(cfg.path), "--out", out]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {latest} does not exist: no run in {failed.parent} has finished yet "
        f"(latest points at the newest run that finished). Its newest run, {failed.name}, "
        "failed in 03_model: fix what stopped it (its report.html says) and run the case "
        "again; the action list comes from a run that finished.\n"
    )
    assert cli.main(["lookup", str(failed), "--config", str(cfg.path), "--out", out]) == 2
    assert capsys.readouterr().err == (
        f"crmlab: error: {failed} is a run that failed in 03_model, so it has no action list "
        "(its report.html says what went wrong). Give a run that finished, e.g. "
        f"{latest}.\n"
    )
    # a path without --out is a folder too; a customer number is not a pseudonym
    assert cli.main(["lookup", str(missing), "--config", str(cfg.path)]) == 2
    assert "does not exist. Give a run folder" in capsys.readouterr().err
    assert not Path(out).exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_contact_lists_workbook_has_the_action_lists_formats(cfg, tmp_path, monkeypatch, lang):
    """The .xlsx as actions.xlsx writes its sheets: value and score numbers with the list's
    formats (retail: "#,##0.00" and "0.0"), the due date a date, priority and recency whole
    numbers, the member number and phone as text, the header row frozen, bold, with a filter,
    and each column at least as wide as its header (a client found every number as General
    in a narrow column)."""
    import datetime as dt

    import openpyxl

    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY.decode())
    run = _retail_run(tmp_path / "runs")
    out = tmp_path / "private" / f"contacts.{lang}.xlsx"
    lookup.write_contact_list(run, cfg.path, out, lang=lang)
    ws = openpyxl.load_workbook(out).active
    headers = [c.value for c in ws[1]]
    assert headers == (EN_HEADERS if lang == "en" else ZH_HEADERS)
    col = {h: i + 1 for i, h in enumerate(headers)}
    value, score, due = (
        ("Value (CNY)", "Satisfaction (1-5)", "Due date")
        if lang == "en"
        else ("价值（元）", "满意度", "截止日期")
    )
    first = {h: ws.cell(row=2, column=col[h]) for h in headers}
    # the first row is member 1001: at risk, tier A, satisfaction 2, value 900
    assert first["会员编号"].value == "1001" and first["会员编号"].data_type == "s"
    assert first["手机"].data_type == "s"
    assert first[value].value == 900 and first[value].number_format == "#,##0.00"
    assert first[score].value == 2 and first[score].number_format == "0.0"
    assert first[due].is_date and first[due].number_format == "yyyy-mm-dd"
    assert first[due].value.date() == dt.date(2026, 10, 15)  # at risk: "within 2 weeks" of 10-01
    assert first[headers[0]].value == 1 and first[headers[0]].number_format == "0"
    recency = "Recency days" if lang == "en" else "距上次购买天数"
    assert first[recency].value == 110 and first[recency].number_format == "0"
    assert (
        ws.freeze_panes == "A2"
        and ws.auto_filter.ref == f"A1:{ws.cell(1, len(headers)).column_letter}5"
    )
    assert all(c.font.bold for c in ws[1])
    for h, i in col.items():
        width = ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width
        assert width >= min(max(len(h), 8), 60), h
