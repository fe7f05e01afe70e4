"""Validation before any notebook runs: pandera schemas per case and source, every problem at once
as a readable table (source file, column, rule, rows, examples, row numbers, hint), and the
`crmlab validate` / `crmlab run --config` command lines (exit codes, no traceback)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crmlab import config, ingest, quality, schemas, sources
from crmlab.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "byod"
KEY = "validate-test-key-0123456789"


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    folder = tmp_path / "client"
    shutil.copytree(FIXTURES, folder)
    return folder / "client.yaml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _problems(cfg_path: Path) -> list[dict]:
    return ingest.load(config.load_config(cfg_path)).problems


def _by_rule(problems, start: str) -> dict:
    [p] = [p for p in problems if p["rule"].startswith(start)]
    return p


def test_schemas_agree_with_the_cleaning_rules():
    """Every column the case's cleaning rules name is a canonical column of the right kind."""
    for case, rules in (
        ("retail_satisfaction", quality.RETAIL_RULES),
        ("finance_churn", quality.FINANCE_RULES),
    ):
        spec = schemas.case_schema(case)
        for source, r in rules.items():
            fields = {f.name: f for f in spec[source].fields}
            for c in r.get("dates", []):
                assert fields[c].kind == "date", (case, source, c)
            for c in r.get("booleans", []):
                assert fields[c].kind == "bool", (case, source, c)
            for c, rng in r.get("ranges", {}).items():
                assert fields[c].range == tuple(rng), (case, source, c)
            for c in r.get("required", []):
                assert fields[c].required and not fields[c].missing_ok, (case, source, c)
            if r.get("key"):
                assert spec[source].key == r["key"]
            assert dict(spec[source].foreign_keys).items() >= r.get("foreign_keys", {}).items()
        # no canonical column is named like a source (columns: SOURCE: {...} stays unambiguous)
        names = {f.name for s in spec.values() for f in s.fields}
        assert not names & set(spec), case


def test_documented_column_tables_list_every_canonical_column():
    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    for spec in schemas.CASE_SCHEMAS.values():
        for s in spec.values():
            for f in s.fields:
                assert f"| `{f.name}` | {f.kind} |" in doc, f.name


def test_clean_fixture_has_warnings_only(client):
    problems = _problems(client)
    assert {p["severity"] for p in problems} == {"warning"}
    # missing amount, orphan id, duplicate row (A05 twice: an exact copy, not a key with
    # differing contents - counted once, as the report's data-quality table counts it)
    assert len(problems) == 3


def test_missing_required_column_names_what_to_map(client):
    _edit(
        client,
        "    satisfaction: {column: [总体满意度, 再次满意度], scale: [1, 10], satisfied_at: 7}\n",
        "",
    )
    p = _by_rule(_problems(client), "required column is missing")
    assert (p["source"], p["file"], p["column"], p["severity"]) == (
        "survey",
        "survey.csv",
        "overall_satisfaction",
        "error",
    )
    assert "map your column under columns: survey: satisfaction: YOUR_COLUMN" in p["hint"]
    assert "The file has: 问卷编号, 会员编号, 门店, 日期, 总体满意度" in p["hint"]


def test_a_mapped_column_missing_from_the_file_is_an_error(client):
    _edit(client, "amount: Amount", "amount: Amout")
    p = _by_rule(_problems(client), "column named in the config is missing")
    assert (p["source"], p["column"], p["severity"]) == ("transactions", "Amout", "error")
    assert p["hint"].startswith(
        "is it 'Amount'? it is transactions.amount (required: the case cannot run without it); "
        "check the name under columns:; the file has:"
    )


def test_a_missing_date_column_is_not_matched_to_an_order_number(client):
    """OrderDate deleted from the export: the nearest name, OrderNo, holds no dates, so it is
    not offered; the hint says which columns hold dates and what the column is for."""
    import pandas as pd

    orders = client.parent / "orders.csv"
    table = pd.read_csv(orders, dtype=str, keep_default_na=False)
    table.drop(columns=["OrderDate"]).to_csv(orders, index=False)
    p = _by_rule(_problems(client), "column named in the config is missing")
    assert (p["source"], p["column"]) == ("transactions", "OrderDate")
    assert "OrderNo" not in p["hint"].split("the file has:")[0]
    assert p["hint"].startswith(
        "no column of the file holds dates; it is transactions.date (required: the case cannot "
        "run without it); check the name under columns:;"
    )
    # with a date column under another name, that one is offered
    table.rename(columns={"OrderDate": "Datum"}).to_csv(orders, index=False)
    p = _by_rule(_problems(client), "column named in the config is missing")
    assert p["hint"].startswith("the columns that hold dates are: Datum; it is transactions.date")


def test_unparseable_dates_block_with_rows_examples_and_hint(client):
    # a wrong format: most dates fail -> an error, with file row numbers and examples
    _edit(
        client,
        'date: {column: OrderDate, format: "%Y%m%d"}',
        'date: {column: OrderDate, format: "%d%m%Y"}',
    )
    p = _by_rule(_problems(client), "not a date in format %d%m%Y")
    assert p["severity"] == "error" and p["column"] == "OrderDate"
    assert p["n_rows"] == 14 and p["rows"] == [2, 3, 4, 5, 6]  # header is line 1
    assert p["examples"] == ["20240105", "20240106", "20240107"]
    # an error blocks the run: nothing is set to missing; the format suggested is the one the
    # values are written in
    assert "set to missing" not in p["hint"]
    assert p["hint"] == (
        "none of the values match '%d%m%Y': they are dates written like '20240105'; "
        "give format: '%Y%m%d' (the way the dates are written)"
    )


def test_text_in_a_date_column_says_so_worded_by_severity(client):
    """'unknown' in a column with format: is text, not a date in another format: the hint says
    so; as an error it does not promise to set the values to missing, as a warning it does."""
    orders = client.parent / "orders.csv"
    for n in ("A10,1002,S2,20240115", "A11,1003,S1,20240116", "A12,1004,S2,20240117"):
        _edit(orders, n, n.rsplit(",", 1)[0] + ",unknown")
    p = _by_rule(_problems(client), "not a date in format %Y%m%d")
    assert (p["severity"], p["n_rows"], p["examples"]) == ("error", 3, ["unknown"])
    assert p["hint"] == (
        "3 value(s) are not dates at all (e.g. 'unknown'): fix them in the export or blank "
        "them; the others match '%Y%m%d'"
    )
    # one such value (1 of 14): a warning, which is set to missing on import - and the date
    # being required, the row is then dropped
    _edit(orders, "A11,1003,S1,unknown", "A11,1003,S1,20240116")
    _edit(orders, "A12,1004,S2,unknown", "A12,1004,S2,20240117")
    p = _by_rule(_problems(client), "not a date in format %Y%m%d")
    assert (p["severity"], p["n_rows"]) == ("warning", 1)
    assert p["hint"] == (
        "set to missing on import, so 02_data drops these rows (rows without date cannot be used: "
        "date is required); 1 value(s) are not dates at all (e.g. 'unknown'): fix them in the "
        "export to keep them; the others match '%Y%m%d'"
    )


def test_error_hints_never_say_the_values_will_be_set_to_missing(client):
    """The same kind of problem, as a warning and as an error: only the warning's hint says
    what the import or 02_data does with the values."""
    orders = client.parent / "orders.csv"
    _edit(orders, "A09,1001,S1,20240114,10,1", "A09,1001,S1,20240114,ten,1")
    p = _by_rule(_problems(client), "not a number")
    assert p["severity"] == "warning" and p["hint"].startswith("set to missing on import, ")
    for row in ("A10,1002,S2,20240115,20,", "A11,1003,S1,20240116,30,"):
        _edit(orders, row, row.replace(",20,", ",twenty,").replace(",30,", ",thirty,"))
    p = _by_rule(_problems(client), "not a number")
    assert p["severity"] == "error" and "set to missing" not in p["hint"]
    assert "a wrong column or a decimal comma" in p["hint"]
    # a yes/no column and the canonical pass's missing values likewise
    _edit(client, "cancelled: Status", "cancelled: Shop")
    p = _by_rule(_problems(client), "not a yes/no value")
    assert p["severity"] == "error" and "set to missing" not in p["hint"]
    assert p["hint"].startswith("add the client's words: values: cancelled:")


def _day_first_complaints(client, extra: list[str]) -> None:
    """The client's complaints export: 20 complaints dated 01/01/2026 to 20/01/2026 (day
    first, mapped with dayfirst: true), then the ``extra`` rows (lines 22 on)."""
    rows = [f"R{i};1001;{d:02d}/01/2026;qualité;oui;1" for i, d in enumerate(range(1, 21))]
    (client.parent / "reclamations.csv").write_text(
        "N° réclamation;Client;Date réception;Catégorie;Résolu;Délai (jours)\n"
        + "\n".join(rows + extra)
        + "\n",
        encoding="utf-8",
    )
    _edit(client, "date: Date réception", "date: {column: Date réception, dayfirst: true}")


def test_bad_dates_in_a_day_first_column_get_no_format_that_would_break_the_others(
    client, tmp_path
):
    """Two bad dates among day-first dates with slashes: no format is suggested (the one
    suggested before, '%d.%m.%Y', would have broken every date); a suggested format is derived
    from the dates that were read."""
    _day_first_complaints(
        client, ["R98;1002;yesterday;délai;non;", "R99;1003;32/13/2024;délai;non;"]
    )
    p = _by_rule(_problems(client), "not a date")
    assert (p["source"], p["n_rows"], p["rows"]) == ("complaints", 2, [22, 23])
    assert "format" not in p["hint"] and "%" not in p["hint"]
    assert p["hint"] == (
        "set to missing on import, so 02_data drops these rows (rows without date cannot be used: "
        "date is required); 1 value(s) are not dates at all (e.g. 'yesterday') and 1 value(s) "
        "are impossible dates (e.g. '32/13/2024'): fix them in the export to keep them; the "
        "others are read as dates"
    )
    # the derived format follows the values' separators and order, and reads them all
    assert ingest.guess_date_format(pd.Series(["05/01/2026", "25/12/2026"])) == "%d/%m/%Y"
    assert ingest.guess_date_format(pd.Series(["05/01/2026"]), dayfirst=True) == "%d/%m/%Y"
    assert ingest.guess_date_format(pd.Series(["05/01/2026"])) == "%m/%d/%Y"
    assert ingest.guess_date_format(pd.Series(["01/25/26", "1/5/26"])) == "%m/%d/%y"
    assert ingest.guess_date_format(pd.Series(["2026.1.5", "2026.12.25"])) == "%Y.%m.%d"
    assert ingest.guess_date_format(pd.Series(["2026年1月5日"])) == "%Y年%m月%d日"
    # written in several ways, or day above 12 in both places: no format
    assert ingest.guess_date_format(pd.Series(["2026-01-05", "05/01/2026"])) is None
    assert ingest.guess_date_format(pd.Series(["13/01/2026", "01/13/2026"])) is None


def test_a_time_without_a_date_is_no_date_not_today(client):
    """'12:00' in a date column: a lenient reader dates it today (the day of the run, a
    different value every day); it is a value that is not a date, and the hint says why."""
    assert ingest.parse_dates(pd.Series(["12:00", "9:30 pm", "2026-01-05"])).bad.tolist() == [
        True,
        True,
        False,
    ]
    _day_first_complaints(client, ["R98;1002;12:00;délai;non;"])
    p = _by_rule(_problems(client), "not a date")
    assert (p["source"], p["n_rows"], p["rows"]) == ("complaints", 1, [22])
    assert "1 value(s) are times of day without a date (e.g. '12:00')" in p["hint"]
    assert "not dates at all" not in p["hint"]


def test_dates_in_another_format_than_the_one_given(client):
    orders = client.parent / "orders.csv"
    _edit(orders, "A09,1001,S1,20240114", "A09,1001,S1,2024-01-14")
    p = _by_rule(_problems(client), "not a date in format %Y%m%d")
    assert p["severity"] == "warning"
    assert p["hint"] == (
        "set to missing on import, so 02_data drops these rows (rows without date cannot be used: "
        "date is required); 1 value(s) are dates in another format (e.g. '2024-01-14'): remove "
        "format: (each date is then read by its own shape); the others match '%Y%m%d'"
    )


def test_rows_that_become_exact_copies_once_values_are_mapped(client):
    """A05 twice, once with Status 'done' and once '已完成' (both cancelled: false): no exact
    copy in the export, but one on import - which 02_data drops as an exact duplicate. The
    messages say so, and count what 02_data drops."""
    orders = client.parent / "orders.csv"
    text = orders.read_text(encoding="utf-8")
    row = "A05,1004,S2,20240110,-¥20.00,1,否,done\n"
    assert text.count(row) == 2
    orders.write_text(text.replace(row + row, row + row.replace("done", "已完成")), "utf-8")
    _edit(client, "false: [done]", "false: [done, 已完成]")
    problems = _problems(client)
    dup = _by_rule(problems, "exact duplicate rows")
    assert dup["rule"] == "exact duplicate rows (once values are mapped)"
    assert (dup["severity"], dup["n_rows"], dup["rows"]) == ("warning", 1, [7])
    assert dup["hint"].startswith(
        "02_data drops the copies (keeps the first); they differ in the export only in values "
        "that become the same on import (client values mapped to one canonical value under "
        "values:"
    )
    # the repeated key is an exact copy once mapped: counted as a copy only, not as a key
    assert not [p for p in problems if p["rule"].startswith("key transaction_id")]
    # the same rows with a different amount are no copies: a key with differing contents
    _edit(
        orders,
        "A05,1004,S2,20240110,-¥20.00,1,否,已完成",
        "A05,1004,S2,20240110,-¥21.00,1,否,已完成",
    )
    problems = _problems(client)
    assert not [p for p in problems if p["rule"].startswith("exact duplicate")]
    key = _by_rule(problems, "key transaction_id is not unique")
    # both rows of A05 count (as in the report): 2 of 13, over the blocking share
    assert (key["n_rows"], key["rows"], key["severity"]) == (2, [6, 7], "error")
    assert key["hint"].startswith(
        "1 transaction_id value(s) on 2 rows with differing contents (exact copies counted "
        "once, as in the report's data-quality table); this many repeated keys mean"
    )


def test_exact_copies_that_get_their_own_generated_key_are_kept_and_said_so(client):
    """Without a key column every row is numbered by its file row: the copies then differ in
    the generated key and 02_data keeps them - the warning says so instead of 'drops'."""
    _edit(client, "    transaction_id: OrderNo\n", "")
    _edit(client, "features: auto", "features: none")
    p = _by_rule(_problems(client), "exact duplicate rows")
    assert (p["rule"], p["n_rows"], p["rows"]) == ("exact duplicate rows in the export", 1, [7])
    assert "02_data keeps the copies" in p["hint"] and "no transaction_id column" in p["hint"]


def test_a_value_that_is_no_number_in_a_required_column_keeps_the_blank_one_and_drops_both(
    client,
):
    """'abc' in one amount besides a blank one (A03, line 4): the not-a-number finding says the
    row is dropped (amount is required), as the blank one's does, and the blank one stays - the
    two are the rows the run's cleaning drops for a missing amount."""
    orders = client.parent / "orders.csv"
    _edit(orders, "A09,1001,S1,20240114,10,1", "A09,1001,S1,20240114,abc,1")
    problems = _problems(client)
    p = _by_rule(problems, "not a number")
    assert (p["severity"], p["n_rows"], p["rows"], p["examples"]) == ("warning", 1, [11], ["abc"])
    assert p["hint"] == (
        "set to missing on import, so 02_data drops these rows (rows without amount cannot be "
        "used: amount is required); numbers may have blanks, thousands separators, currency or "
        "% signs; for a decimal comma set decimal: ',' under data: transactions"
    )
    blank = _by_rule(problems, "required value amount is missing")
    assert (blank["column"], blank["severity"], blank["n_rows"], blank["rows"]) == (
        "Amount (amount)",
        "warning",
        1,
        [4],
    )
    assert blank["rule"] == "required value amount is missing (7.7% of 13)"
    tables = ingest.load(config.load_config(client)).tables
    _, notes = quality.clean_tables(tables, sources.case_rules("retail_satisfaction", tables))
    assert "transactions: 2 row(s) with missing amount dropped." in notes


def test_a_missing_required_value_is_a_warning_that_says_the_rows_are_dropped(client):
    """validate's severity says whether the run is blocked; the report's data-quality table
    calls the same blank amount an error meaning 'rows dropped': the warning says both."""
    prepared = ingest.load(config.load_config(client))
    p = _by_rule(prepared.problems, "required value amount is missing")
    assert (p["severity"], p["n_rows"], p["rows"]) == ("warning", 1, [4])
    assert p["hint"] == (
        "rows without amount cannot be used: 02_data drops them (amount is required), which the "
        "report's data-quality table lists as an error (rows dropped). Here it is only a "
        "warning, because an error here stops the run and "
        "these are under 10% of the rows, the others being used (10% or more would stop it, as "
        "a sign of a wrong mapping). Fill in amount in the export to keep these rows"
    )

    tables = prepared.tables
    report = quality.quality_report(tables, sources.case_rules("retail_satisfaction", tables))
    [finding] = report[(report["column"] == "amount") & (report["check"] == "missing")].to_dict(
        "records"
    )
    assert (finding["severity"], finding["n_rows"], finding["action"]) == (
        "error",
        1,
        "drop these rows",
    )


def _bank(tmp_path, dates: dict[int, str], n: int = 80, columns: str = "") -> Path:
    """A bank's customer list of ``n`` customers (C001 ...) opened on mixed-format dates, with
    the date of customer ``i`` replaced by ``dates[i]``; its config (dated shape) is returned."""
    shapes = ("2025/3/{d}", "2025年3月{d}日", "2025-03-{d:02d}", "202503{d:02d}")
    rows = [
        f"C{i:03d},{dates.get(i, shapes[i % 4].format(d=i % 28 + 1))},,大众客户,{i % 3 + 1}"
        for i in range(1, n + 1)
    ]
    (tmp_path / "bank.csv").write_text(
        "客户编号,开户日期,销户日期,客户等级,持有产品数\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "bank.yaml"
    cfg.write_text(
        "case: finance_churn\ndata:\n  customers: bank.csv\ncolumns:\n  customers:\n"
        "    customer_id: 客户编号\n    open_date: 开户日期\n    closure_date: 销户日期\n"
        "    segment: 客户等级\n    products_held: 持有产品数\n"
        "values:\n  segment: {mass: [大众客户]}\n" + columns,
        encoding="utf-8",
    )
    return cfg


def test_a_missing_required_value_counts_the_words_read_as_missing(tmp_path):
    """Opening dates left out as 'N/A' or 'null' are as missing in the imported table as blank
    ones: the warning counts them all, says how they were written and lists their rows; a value
    that is no date ('abc') is the raw pass's own problem, not counted twice."""
    cfg = _bank(tmp_path, {3: "", 10: "N/A", 20: " N/A ", 30: "", 40: "null", 50: "N/A", 60: "abc"})
    prepared = ingest.load(config.load_config(cfg))
    assert int(prepared.tables["customers"]["open_date"].isna().sum()) == 7
    p = _by_rule(prepared.problems, "required value open_date is missing")
    assert (p["column"], p["severity"], p["n_rows"]) == ("开户日期 (open_date)", "warning", 6)
    assert (
        p["rule"] == "required value open_date is missing (7.5% of 80): 2 blank, 3 'N/A', 1 'null'"
    )
    assert p["rows"] == [4, 11, 21, 31, 41]  # file lines: the header is line 1
    p = _by_rule(prepared.problems, "not a date")
    assert (p["n_rows"], p["rows"], p["examples"]) == (1, [61], ["abc"])
    # blanks only: the rule reads as before, without the breakdown
    cfg = _bank(tmp_path, {3: "", 30: ""})
    p = _by_rule(ingest.load(config.load_config(cfg)).problems, "required value open_date")
    assert (p["rule"], p["n_rows"]) == ("required value open_date is missing (2.5% of 80)", 2)


def test_text_in_closure_dates_blocks_at_any_share_because_blank_means_still_open(
    tmp_path, monkeypatch, capsys
):
    """A blank closure date means the account is still open: 3 of 40 closure dates written as
    '已销户' (7.5%, under the 10% that makes other date problems errors) would, set to missing,
    turn closed accounts into open ones - an error naming file, column, rows, values and what to
    write, and `crmlab validate` exits 2. The same share of bad opening dates stays a warning."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    cfg = _bank(tmp_path, {i: "abc" for i in range(50, 56)})  # 6 of 80: 7.5% as well
    bank = tmp_path / "bank.csv"
    rows = [r.split(",") for r in bank.read_text(encoding="utf-8").splitlines()]
    for i in range(1, 41):  # customers C001-C040 closed on 2025-06-01; C005-C007 as text
        rows[i][2] = "已销户" if i in (5, 6, 7) else "20250601"
    bank.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    prepared = ingest.load(config.load_config(cfg))
    closure = [p for p in prepared.problems if p["column"] == "销户日期"]
    assert len(closure) == 1, prepared.problems
    [p] = closure
    assert (p["severity"], p["n_rows"], p["rows"], p["examples"]) == (
        "error",
        3,
        [6, 7, 8],  # file lines: the header is line 1
        ["已销户"],
    )
    assert p["file"] == "bank.csv" and p["rule"].startswith("not a date (7.5% of 40)")
    assert p["hint"].startswith(
        "3 value(s) are not dates at all (e.g. '已销户'): a blank closure_date means the account "
        "is still open, so they cannot be set to missing"
    )
    assert (
        "write the date in 销户日期, or leave it blank only if the account is still open"
        in (p["hint"])
    )
    assert "set to missing on import" not in p["hint"] and "blank them" not in p["hint"]
    [opened] = [p for p in prepared.problems if p["column"] == "开户日期"]
    assert (opened["rule"], opened["severity"]) == ("not a date (7.5% of 80)", "warning")
    assert main(["validate", "--config", str(cfg)]) == 2
    out = capsys.readouterr()
    assert "1 error(s) block the run" in out.out and "'已销户'" in out.out
    assert "1 problem(s) block the run." in out.err


def test_a_churn_flag_mapped_to_amounts_says_it_is_probably_the_wrong_column(tmp_path):
    """churned: 余额 (balances such as '805,536.46元'): one problem, named by the field, whose
    hint says the column holds amounts, not yes/no values, names the mapping line to check and
    the file's yes/no columns - not 'counts whole things ... round the values' and a second
    'outside 0-1' for the same cause. Whole numbers (在网月数) likewise, as numbers; an
    integer field on amounts says amounts, not 'round them'."""
    rows = [
        f'C{i},"{i * 1000 + 0.46:,.2f}元",{"是" if i % 3 else "否"},{i - 1},{"是" if i % 2 else "否"}'
        for i in range(1, 11)
    ]
    (tmp_path / "c.csv").write_text(
        "客户编号,余额,是否流失,在网月数,代发工资\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "case: finance_churn\ndata:\n  customers: c.csv\ncolumns:\n  customers:\n"
        "    customer_id: 客户编号\n    churned: 余额\n    tenure_months: 在网月数\n",
        encoding="utf-8",
    )
    problems = _problems(cfg)
    assert [(p["column"], p["rule"], p["severity"], p["n_rows"]) for p in problems] == [
        ("余额 (churned)", "a number, not 1/0 or yes/no (100% of 10)", "error", 10)
    ]
    assert problems[0]["hint"] == (
        "余额 holds amounts (e.g. '1,000.46元', '2,000.46元'), not yes/no values: probably the "
        "wrong column is mapped; check the mapping first: columns: customers: churned: at "
        "c.yaml line 7 names 余额; the columns of the file that hold yes/no values: 是否流失, 代发工资"
    )
    _edit(cfg, "churned: 余额", "churned: 在网月数")
    [p] = _problems(cfg)
    assert (p["column"], p["rule"]) == (
        "在网月数 (churned)",
        "a number, not 1/0 or yes/no (80% of 10)",
    )
    assert p["hint"].startswith("在网月数 holds numbers other than 1/0 (e.g. '2', '3'), not yes/no")
    _edit(cfg, "churned: 在网月数", "churned: 是否流失\n    products_held: 余额")
    [p] = _problems(cfg)
    assert (p["column"], p["rule"]) == ("余额 (products_held)", "not a whole number (100% of 10)")
    assert p["hint"] == (
        "余额 holds amounts (e.g. '1,000.46元', '2,000.46元'), not whole numbers: probably the "
        "wrong column is mapped; check the mapping first: columns: customers: products_held: at "
        "c.yaml line 8 names 余额; else round the values in the export"
    )


def test_a_column_mapped_to_the_wrong_field_names_the_field_and_the_mapping(client):
    """date mapped to the amount column: not one value is a date. The row names the field
    (Amount (date), as the other rows do) and the hint the config line to check first, with the
    file's columns that hold dates - not 'fix them in the export'. The blank amount is no
    missing date (the column is wrong); as an amount it still is a missing amount."""
    _edit(client, 'date: {column: OrderDate, format: "%Y%m%d"}', "date: Amount")
    line = client.read_text(encoding="utf-8").splitlines().index("    date: Amount") + 1
    problems = _problems(client)
    p = _by_rule(problems, "not a date")
    assert (p["column"], p["rule"], p["severity"], p["n_rows"]) == (
        "Amount (date)",
        "not a date (100% of 13)",
        "error",
        13,
    )
    assert p["hint"] == (
        "none of the values are dates (e.g. '¥1,234.50', '(12.00)'): probably the wrong column "
        f"is mapped; check the mapping first: columns: transactions: date: at client.yaml line "
        f"{line} names Amount; the columns of the file that hold dates: OrderDate"
    )
    assert not [q for q in problems if q["rule"].startswith("required value date")]
    assert _by_rule(problems, "required value amount is missing")["rows"] == [4]
    # the same for a number: amount mapped to the store column
    _edit(client, "date: Amount", 'date: {column: OrderDate, format: "%Y%m%d"}')
    _edit(client, "amount: Amount", "amount: Shop")
    p = _by_rule(_problems(client), "not a number")
    assert (p["column"], p["severity"]) == ("Shop (amount)", "error")
    assert p["hint"].startswith(
        "none of the values are numbers: probably the wrong column is mapped; check the mapping "
        f"first: columns: transactions: amount: at client.yaml line {line + 1} names Shop; else "
    )
    # a few values that are not dates are no sign of a wrong column: the row and hint as before
    _edit(client, "amount: Shop", "amount: Amount")
    orders = client.parent / "orders.csv"
    _edit(orders, "A08,1004,S2,20240113", "A08,1004,S2,unknown")
    p = _by_rule(_problems(client), "not a date")
    assert p["column"] == "OrderDate" and "mapping" not in p["hint"]


def test_the_mapping_a_hint_names_is_where_the_config_maps_the_field(client):
    cfg = config.load_config(client)
    lines = client.read_text(encoding="utf-8").splitlines()
    spec = schemas.case_schema("retail_satisfaction")
    own = lines.index("    customer_id: MemberID") + 1
    every = lines.index("  customer_id: 会员编号") + 1
    driver = lines.index("    drivers: {staff_service: 服务态度, product_quality: 商品质量}") + 1
    path = ingest._mapping_path
    assert path(cfg, spec["transactions"], "customer_id", "config", "MemberID") == (
        f"columns: transactions: customer_id: at client.yaml line {own}"
    )
    assert path(cfg, spec["customers"], "customer_id", "config", "会员编号") == (
        f"columns: customer_id: at client.yaml line {every}"
    )
    assert path(cfg, spec["survey"], "staff_service", "config", "服务态度") == (
        f"columns: survey: drivers: staff_service: at client.yaml line {driver}"
    )
    assert path(cfg, spec["customers"], "gender", "same name", "gender") == (
        "columns: customers: gender: (not in client.yaml: the file's column 'gender' was taken "
        "for its name)"
    )


def test_a_few_bad_values_are_warnings_many_are_errors(client):
    orders = client.parent / "orders.csv"
    _edit(orders, "A08,1004,S2,20240113,7.5", "A08,1004,S2,2024-13-45,7.5")
    p = _by_rule(_problems(client), "not a date")
    assert (p["severity"], p["n_rows"], p["rows"], p["examples"]) == (
        "warning",
        1,
        [10],
        ["2024-13-45"],
    )
    _edit(orders, "A09,1001,S1,20240114", "A09,1001,S1,yesterday")
    p = _by_rule(_problems(client), "not a date")
    assert p["severity"] == "error" and p["n_rows"] == 2  # 2 of 14 >= 10%
    assert "14%" in p["rule"]


def test_wrong_scale_is_caught_by_the_range_check(client):
    # forgetting scale: on a 1-10 survey: most ratings are outside 1-5
    _edit(client, "[总体满意度, 再次满意度], scale: [1, 10], satisfied_at: 7}", "总体满意度}")
    p = _by_rule(_problems(client), "outside the allowed range 1-5")
    assert p["severity"] == "error" and p["n_rows"] == 3  # 10, 7, 6 of 4 answers
    assert "give it: columns: survey: satisfaction: {column: ..., scale: [1, 10]" in p["hint"]


def test_ids_that_do_not_match_are_an_error(client):
    # transactions mapped to the shop instead of the member number: no id is a customer
    _edit(client, "customer_id: MemberID", "customer_id: Shop")
    p = _by_rule(_problems(client), "customer_id not found in customers")
    assert p["severity"] == "error" and p["n_rows"] == 13
    assert p["examples"] == ["<redacted>"]  # customer ids are never shown


def test_category_labels_must_be_mapped(client):
    (client.parent / "pilot.csv").write_text("store,arm,from,to\nS1,实验组,2024-01-01,2024-03-31\n")
    _edit(client, "  complaints: {path", "  pilot: pilot.csv\n  complaints: {path")
    _edit(
        client,
        "columns:\n",
        "columns:\n  pilot: {store_id: store, group: arm, start_date: from, end_date: to}\n",
    )
    p = _by_rule(_problems(client), "not one of treatment, control")
    assert (p["severity"], p["examples"], p["rows"]) == ("error", ["实验组"], [2])
    assert "values: group: {treatment: [...], ...}" in p["hint"]
    _edit(client, "values:\n", "values:\n  group: {treatment: [实验组]}\n")
    assert not [p for p in _problems(client) if p["source"] == "pilot"]


def test_pii_listed_but_absent_and_global_mapping_absent_are_errors(client):
    _edit(client, "pii: [姓名]", "pii: [姓 名]")
    _edit(client, "  customer_id: 会员编号\n", "  customer_id: 会员号\n")
    problems = _problems(client)
    p = _by_rule(problems, "column listed under pii: is in none of the files")
    line = client.read_text(encoding="utf-8").splitlines().index("pii: [姓 名]") + 1
    assert p["column"] == "姓 名"
    assert p["hint"] == (
        f"is it '姓名'? check the spelling under pii: at client.yaml line {line}: a misspelt "
        "personal column would not be pseudonymized"
    )
    p = _by_rule(problems, "column mapped to customer_id is in none of the files")
    assert p["column"] == "会员号"


def test_a_misspelt_pii_name_gets_the_files_nearest_columns(tmp_path):
    """pii: [姓名, 手机, email] over a file with 客户姓名 and 手机号码: the near names are
    offered, as for a wrong column mapping; a name with none near lists the files' columns."""
    (tmp_path / "c.csv").write_text(
        "客户编号,客户姓名,手机号码,开户日期\nC1,王伟,13912345678,2024-01-02\n", encoding="utf-8"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "case: finance_churn\ndata:\n  customers: c.csv\ncolumns:\n  customer_id: 客户编号\n"
        "pii:\n  - 姓名\n  - 手机\n  - email\n",
        encoding="utf-8",
    )
    problems = [p for p in _problems(cfg) if "pii:" in p["rule"]]
    assert [(p["column"], p["severity"], p["hint"]) for p in problems] == [
        (
            "姓名",
            "error",
            "is it '客户姓名'? check the spelling under pii: at c.yaml line 7: a misspelt "
            "personal column would not be pseudonymized",
        ),
        (
            "手机",
            "error",
            "is it '手机号码'? check the spelling under pii: at c.yaml line 8: a misspelt "
            "personal column would not be pseudonymized",
        ),
        (
            "email",
            "error",
            "check the spelling under pii: at c.yaml line 9: a misspelt personal column would "
            "not be pseudonymized; the files have: 客户编号, 客户姓名, 手机号码, 开户日期",
        ),
    ]


def test_every_problem_at_once_across_sources(client):
    _edit(client, "members.csv", "member.csv")
    _edit(client, "recommend: 推荐", "recommend: 推荐意愿")
    (client.parent / "reclamations.csv").write_text("")
    problems = _problems(client)
    rules = {(p["source"], p["rule"]) for p in problems if p["severity"] == "error"}
    assert ("customers", "file not found") in rules
    assert ("complaints", "the file is empty (0 bytes)") in rules
    assert ("survey", "column named in the config is missing") in rules
    # the missing member list holds the personal columns the config lists: one cause, one
    # problem (no "listed under pii: is in none of the files" echoes of the missing file)
    assert not [p for p in problems if "in none of the files" in p["rule"]]


def test_problem_table_text():
    rows = [
        schemas.problem(
            "survey",
            "survey.csv",
            "满意度",
            "not a number",
            "map labels",
            "error",
            3,
            ["很好", "好"],
            [2, 5, 9],
        ),  # fmt: skip
        schemas.problem(
            "stores",
            "stores.csv",
            "*",
            "exact duplicate rows",
            "",
            "warning",
            7,
            [],
            [3, 4, 5, 6, 8],
        ),  # fmt: skip
    ]
    text = schemas.format_problems(rows)
    lines = text.splitlines()
    assert lines[0] == "1 error(s) block the run, 1 warning(s):"
    header = lines[1].split()
    assert header == ["#", "severity", "source", "file", "column", "rule", "n_rows", "examples",
                      "rows"]  # fmt: skip
    assert "ERROR" in lines[2] and "'很好', '好'" in lines[2] and "2, 5, 9" in lines[2]
    assert "3, 4, 5, 6, 8 (+2 more)" in lines[3]
    assert lines[-1] == "  1. map labels"
    assert schemas.format_problems([]) == "No problems found."


def test_personal_values_are_redacted_in_the_table(client):
    members = client.parent / "members.csv"
    _edit(
        members,
        "1001,王小明,13812345678,wxm@example.cn,20240105,是",
        "1001,王小明,13812345678,wxm@example.cn,20240105,也许",
    )
    p = _by_rule(_problems(client), "not a yes/no value")
    assert p["examples"] == ["也许"]  # a flag is not personal
    problems = ingest.load(config.load_config(client)).problems
    text = schemas.format_problems(problems)
    for value in ("王小明", "13812345678", "wxm@example.cn", "1001"):
        assert value not in text


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def test_cli_validate_ok_and_failing(client, capsys):
    assert main(["validate", "--config", str(client)]) == 0
    out = capsys.readouterr().out
    assert "0 error(s) block the run, 3 warning(s)" in out and "OK: `crmlab run --config" in out
    assert "Pseudonym key: from environment variable $CRMLAB_PSEUDONYM_KEY" in out
    _edit(client, 'format: "%Y%m%d"}\n    amount', 'format: "%d%m%Y"}\n    amount')
    assert main(["validate", "--config", str(client), "-v"]) == 2
    captured = capsys.readouterr()
    assert "1 problem(s) block the run." in captured.err
    assert "Conversions:" in captured.out and "not a date in format %d%m%Y" in captured.out


def test_cli_validate_without_a_key(client, capsys, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY")
    assert main(["validate", "--config", str(client)]) == 2
    assert "no pseudonymization key for client data" in capsys.readouterr().err


@pytest.mark.parametrize(
    "edit, message",
    [
        (("case: retail_satisfaction", "case: retail"), "has no input schema"),
        (("  n_boot: 20", "  n_boot: many"), "n_boot='many' is not a valid int"),
        (("  n_boot: 20", "  nboot: 20"), "unknown parameter 'nboot'"),
        (("OrderDate, format", "OrderDay, format"), "column named in the config is missing"),
    ],
)
def test_run_config_errors_stop_before_any_kernel(
    client, edit, message, tmp_path, capsys, monkeypatch
):
    from crmlab import runner

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner, "run_case", boom)
    _edit(client, *edit)
    assert main(["run", "--config", str(client), "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing was written


@pytest.mark.parametrize("command", ["validate", "run"])
def test_config_params_are_reported_with_the_other_config_problems_and_lines(
    client, command, tmp_path, capsys, monkeypatch
):
    """An unknown and a wrong-typed parameter under params: and a misspelt column: one run of
    `crmlab validate` / `crmlab run --config` reports all three, each with the config file and
    its line, exits 2 and starts no kernel; a valid params block passes."""
    from crmlab import runner

    ran = {}

    def fake_run_case(case, params, out_root=None, **kw):
        ran["params"] = params
        return runner.RunResult(case.name, out_root / case.name / "x", ok=True)

    monkeypatch.setattr(runner, "run_case", fake_run_case)
    out = ["--out", str(tmp_path / "r")] if command == "run" else []
    _edit(client, "    amount: Amount\n", "    amout: Amount\n")
    _edit(client, "params:\n  n_boot: 20\n", "params:\n  nboot: 20\n  seed: forty-two\n")
    lines = client.read_text(encoding="utf-8").splitlines()
    at = {
        text: lines.index(text) + 1
        for text in ("    amout: Amount", "  nboot: 20", "  seed: forty-two")
    }
    assert at["  seed: forty-two"] == at["  nboot: 20"] + 1 == len(lines)
    assert main([command, "--config", str(client), *out]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s) in the config" in err
    assert f"client.yaml line {at['    amout: Amount']}, columns.transactions.amout: " in err
    assert (
        f"client.yaml line {at['  nboot: 20']}, params.nboot: unknown parameter 'nboot' "
        "(did you mean 'n_boot'?)." in err
    )
    assert (
        f"client.yaml line {at['  seed: forty-two']}, params.seed: seed='forty-two' is not a "
        "valid int." in err
    )
    assert "`crmlab params retail_satisfaction` lists the valid parameters" in err
    assert "Valid parameters:" not in err
    assert not ran and not (tmp_path / "r").exists()
    # a valid params block: validated clean, and given to the stages typed
    _edit(client, "    amout: Amount\n", "    amount: Amount\n")
    _edit(client, "  nboot: 20\n  seed: forty-two\n", "  n_boot: 20\n  seed: 7\n  engine: pandas\n")
    assert main([command, "--config", str(client), *out]) == 0
    assert "3 problem(s)" not in capsys.readouterr().err
    if command == "run":
        assert ran["params"] == {"n_boot": 20, "seed": 7, "engine": "pandas"}
    else:  # -p is checked as before: the message lists the valid parameters
        assert main([command, "--config", str(client), "-p", "nboot=3"]) == 2
        err = capsys.readouterr().err
        assert "unknown parameter 'nboot' (did you mean 'n_boot'?)" in err
        assert "Valid parameters:\n" in err and "client.yaml line" not in err


def test_cli_process_exits_2_without_traceback(client, tmp_path):
    _edit(client, "members.csv", "nowhere/members.csv")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crmlab",
            "run",
            "--config",
            str(client),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("crmlab: error: ") and "Traceback" not in proc.stderr
    assert "file not found" in proc.stderr and "nowhere/members.csv" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_cli_run_config_rejects_data_dir_and_case_names(client, capsys):
    assert main(["run", "--config", str(client), "-p", "data_dir=/x"]) == 2
    assert "'data_dir' is set by the runner in a config run" in capsys.readouterr().err
    assert main(["run", "retail_satisfaction", "--config", str(client)]) == 2
    assert "do not name cases" in capsys.readouterr().err


def test_cli_new_then_validate(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # the next commands as typed from here
    assert main(["new", "acme", "--from", "retail_satisfaction", "--dir", str(tmp_path)]) == 0
    assert "next: crmlab validate --config acme/config.yaml\n" in capsys.readouterr().out
    cfg = tmp_path / "acme" / "config.yaml"
    # the starter points at files that are not there yet: validate lists each, with the key
    assert main(["validate", "--config", str(cfg)]) == 2
    out = capsys.readouterr().out
    assert out.count("file not found") == 6
    assert "Pseudonym key: from key file secret.key" in out
    pd.DataFrame({"customer_id": ["1"]}).to_csv(tmp_path / "acme" / "exports" / "x.csv")
    assert main(["new", "acme", "--from", "retail_satisfaction", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["new", "other", "--from", "no_such_case", "--dir", str(tmp_path)]) == 2
    assert "Unknown case 'no_such_case'" in capsys.readouterr().err


def test_run_on_other_data_without_a_key_warns_of_the_demo_key(tmp_path, monkeypatch, capsys):
    """`-p data_dir=` with no $CRMLAB_PSEUDONYM_KEY: the stages use the public demo key, so
    the command says so (and how to set a key); with a key or on the shipped data it is quiet,
    and a folder that does not exist gets its own error instead."""
    from crmlab import cli
    from crmlab.privacy import KEY_ENV_VAR

    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    cli._warn_demo_key({"data_dir": str(tmp_path)})
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "demo key" in err and f"${KEY_ENV_VAR}" in err
    for params in ({"seed": 1}, {"data_dir": str(tmp_path / "absent")}):
        cli._warn_demo_key(params)
        assert capsys.readouterr().err == ""
    monkeypatch.setenv(KEY_ENV_VAR, "a-project-secret-of-16+")
    cli._warn_demo_key({"data_dir": str(tmp_path)})
    assert capsys.readouterr().err == ""


def test_config_runs_go_beside_the_config_by_default(client, monkeypatch):
    """Without --out a client's runs go to runs/ beside its config (git-ignored by `crmlab new`),
    not into the project's reports/ where they would replace the demo's `latest`."""
    from crmlab import runner

    seen = {}

    def fake_run_case(case, params, out_root=None, **kw):
        seen["out"] = out_root
        return runner.RunResult(case.name, out_root / case.name / "x", ok=True)

    monkeypatch.setattr(runner, "run_case", fake_run_case)
    runner.run_config(client, progress=False)
    assert seen["out"] == (client.parent / "runs").resolve()
    runner.run_config(client, out_root=client.parent / "elsewhere", progress=False)
    assert seen["out"] == (client.parent / "elsewhere").resolve()


def _validate_process(cfg: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crmlab", "validate", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_validate_says_what_to_do_with_a_locked_or_binary_workbook(client):
    """End to end: a password-protected members.xlsx and an orders.xlsb each get one message
    a consultant can act on (remove the password; save as .xlsx or .csv), exit 2, no
    traceback - not 'an old .xls' or 'a zip archive'."""
    from tests.fixtures.office_files import (
        ENCRYPTED_XLSX,
        PASSWORD_HINT,
        PASSWORD_RULE,
        compound_file,
    )

    (client.parent / "members.xlsx").write_bytes(compound_file(ENCRYPTED_XLSX))
    _edit(client, "customers: members.csv", "customers: members.xlsx")
    proc = _validate_process(client)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "1 error(s) block the run" in proc.stdout
    [line] = [x for x in proc.stdout.splitlines() if " ERROR " in x]
    assert "customers members.xlsx" in line and PASSWORD_RULE in line
    assert f"1. {PASSWORD_HINT}" in proc.stdout
    assert ".xls" not in proc.stdout.replace(".xlsx", "") and "zip" not in proc.stdout

    _edit(client, "customers: members.xlsx", "customers: members.csv")
    _edit(client, "transactions: orders.csv", "transactions: orders.xlsb")
    proc = _validate_process(client)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "1 problem(s) in the config:" in proc.stderr
    assert (
        "data.transactions.path: 'orders.xlsb': .xlsb (Excel binary workbook): save it as .xlsx "
        "or .csv in Excel; use one of .csv, .tsv, .txt, .parquet, .xlsx, .xlsm." in proc.stderr
    )


def test_validate_and_the_report_count_duplicated_ids_alike(tmp_path, monkeypatch, capsys):
    """The hand-counted customers of tests/fixtures/duplicates (README there): exact copies on
    lines 4, 8, 10, 13; C03 and C04 with differing contents on lines 5, 6, 7, 9; C02 and C06
    repeated only as copies. `crmlab validate` and the report's data-quality table (on the
    table the run writes, pseudonymized) say 4 copies and 4 rows of 2 ids, on the same rows -
    not 6 'repeated keys' (lines 4, 6, 8, 9, 10, 13) in one and 4 in the other."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", KEY)
    shutil.copy(FIXTURES.parent / "duplicates" / "customers.csv", tmp_path / "customers.csv")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(
        "case: retail_satisfaction\ndata:\n  customers: customers.csv\n", encoding="utf-8"
    )
    problems = _problems(cfg_path)
    copies = _by_rule(problems, "exact duplicate rows")
    assert (copies["n_rows"], copies["rows"]) == (4, [4, 8, 10, 13])
    key = _by_rule(problems, "key customer_id is not unique")
    assert (key["n_rows"], key["rows"], key["severity"]) == (4, [5, 6, 7, 9], "error")
    assert key["rule"] == "key customer_id is not unique (31% of 13)"  # 4 of 13 ids
    assert key["hint"].startswith(
        "2 customer_id value(s) on 4 rows with differing contents (exact copies counted once, "
        "as in the report's data-quality table); 2 more repeat only as exact copies (counted "
        "under exact duplicate rows); this many repeated keys mean customer_id is probably "
        "mapped to the wrong column"
    )
    assert len(problems) == 2

    prepared = ingest.pseudonymize(ingest.load(config.load_config(cfg_path)), KEY.encode())
    ingest.write(prepared, tmp_path / "input")
    table = pd.read_parquet(tmp_path / "input" / "customers.parquet")
    report = quality.quality_report({"customers": table}, quality.RETAIL_RULES)
    found = {r.check: r for r in report.itertuples() if r.check.startswith("duplicate")}
    offset = 2  # row label 0 is line 2
    assert found["duplicate_rows"].n_rows == copies["n_rows"]
    assert [i + offset for i in found["duplicate_rows"].example_rows] == copies["rows"]
    assert found["duplicate_key"].n_rows == key["n_rows"]
    assert [i + offset for i in found["duplicate_key"].example_rows] == key["rows"]
    assert found["duplicate_key"].note.startswith("2 customer_id value(s) appear on more than")

    assert main(["validate", "--config", str(cfg_path)]) == 2
    out = capsys.readouterr().out
    assert "1 error(s) block the run, 1 warning(s)" in out
