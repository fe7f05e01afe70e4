"""The quality report finds exactly the planted problems; cleaning fixes them and says so."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlab.charts.customers import plot_quality_findings  # noqa: E402
from crmlab.errors import ConfigError, DataError  # noqa: E402
from crmlab.privacy import assert_no_pii  # noqa: E402
from crmlab.quality import (  # noqa: E402
    RETAIL_RULES,
    clean_tables,
    drop_exact_duplicates,
    duplicate_ids,
    flag_returns,
    quality_report,
    retail_rules,
    set_out_of_range_to_missing,
)


def planted_tables() -> dict[str, pd.DataFrame]:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "name": ["Ann Lee", "Bo Wang", "李娜", "Dan Ng", "Eve Ma"],
            "email": ["ann@example.com", "bo@example.com", "na@example.cn", "dan@example.com",
                      "eve@example.com"],
            "signup_date": ["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-20", "2024-02-01"],
            "region": ["north", "south", "north", "east", "east"],
            "loyalty_member": ["yes", "no", "yes", "maybe", "no"],  # row 3: invalid
        }
    )  # fmt: skip
    tx_rows = [
        # transaction_id, customer_id, date, amount, promotion
        ("T1", "C1", "2024-03-01", 10.0, 0),  # 0
        ("T2", "C1", "2024-03-02", 20.0, 1),  # 1
        ("T2", "C1", "2024-03-02", 20.0, 1),  # 2 exact copy of 1
        ("T3", "C2", "2024-03-03", -5.0, 0),  # 3 return
        ("T4", "C9", "2024-03-04", 7.0, 0),  # 4 orphan
        ("T5", "C3", "2024-03-05", None, 0),  # 5 missing amount
        ("T6", "C4", "2024-03-06", 12.0, 0),  # 6
        ("T6", "C4", "2024-03-06", 13.0, 0),  # 7 same key, different amount
        ("T7", "C8", "2024-03-07", 9.0, 1),  # 8 orphan
        ("T8", "C9", "2024-03-08", 4.0, 0),  # 9 orphan
        ("T9", "C5", "2024-03-09", 30.0, 0),  # 10
        ("T9", "C5", "2024-03-09", 30.0, 0),  # 11 exact copy of 10
        ("T9", "C5", "2024-03-09", 30.0, 0),  # 12 exact copy of 10
        ("T10", "C5", "2024-03-10", -8.0, 2),  # 13 return; promotion 2 out of range
    ]
    transactions = pd.DataFrame(
        tx_rows, columns=["transaction_id", "customer_id", "date", "amount", "promotion"]
    ).assign(store_id="S1")  # no stores table here: store ids are not checked
    survey = pd.DataFrame(
        {
            "response_id": [1, 2, 3, 4, 5, 6],
            "customer_id": ["C1", None, "C2", "C3", "C7", "C5"],  # 1 anonymous, 4 orphan
            "store_id": ["S1"] * 6,
            "date": ["2024-03-01", "2024-03-02", "2024-02-30", "2024-03-04", "2024-03-05",
                     "2024-03-06"],  # row 2: no such date
            "wave": [1] * 6,
            "overall_satisfaction": [4, 6, 0, 5, 3, 4],  # rows 1 and 2 out of 1-5
            "recommend": [9, 10, 8, 11, 7, 6],  # row 3 out of 0-10
            "drv_staff": [5, 4, 4, 9, 3, 4],  # row 3 out of 1-5
            "drv_price": [3, 3, 3, 3, 3, 3],
            "comment": ["fine", None, None, "good", None, "ok"],
        }
    )  # fmt: skip
    return {"customers": customers, "transactions": transactions, "survey": survey}


RULES = retail_rules(driver_cols=["drv_*"])


def _findings(report: pd.DataFrame) -> dict[tuple[str, str, str], tuple[int, list]]:
    return {
        (r.source, r.column, r.check): (r.n_rows, list(r.example_rows)) for r in report.itertuples()
    }


def test_report_finds_exactly_the_planted_problems():
    report = quality_report(planted_tables(), RULES)
    assert _findings(report) == {
        ("customers", "loyalty_member", "invalid_category"): (1, [3]),
        ("transactions", "*", "duplicate_rows"): (3, [2, 11, 12]),
        ("transactions", "transaction_id", "duplicate_key"): (2, [6, 7]),
        ("transactions", "amount", "missing"): (1, [5]),
        ("transactions", "promotion", "out_of_range"): (1, [13]),
        ("transactions", "customer_id", "orphan_key"): (3, [4, 8, 9]),
        ("transactions", "amount", "negative_amount"): (2, [3, 13]),
        ("survey", "customer_id", "missing"): (1, [1]),
        ("survey", "comment", "missing"): (3, [1, 2, 4]),
        ("survey", "date", "unparseable_date"): (1, [2]),
        ("survey", "overall_satisfaction", "out_of_range"): (2, [1, 2]),
        ("survey", "recommend", "out_of_range"): (1, [3]),
        ("survey", "drv_staff", "out_of_range"): (1, [3]),
        ("survey", "customer_id", "orphan_key"): (1, [4]),
    }
    row = report.set_index(["source", "column", "check"])
    assert row.loc[("transactions", "*", "duplicate_rows"), "share"] == pytest.approx(3 / 14)
    assert row.loc[("transactions", "amount", "missing"), "severity"] == "error"
    assert row.loc[("transactions", "amount", "negative_amount"), "severity"] == "info"
    assert row.loc[("survey", "customer_id", "missing"), "severity"] == "info"  # optional
    assert row.loc[("survey", "overall_satisfaction", "out_of_range"), "example_values"] == [
        "6", "0",
    ]  # fmt: skip
    assert "2 distinct" in row.loc[("transactions", "customer_id", "orphan_key"), "note"]


def test_report_redacts_personal_values_and_flags_absent_columns():
    tables = planted_tables()
    tables["customers"]["date_of_birth"] = ["1980-02-30", "1975-01-01", "1990-05-05",
                                            "1961-12-12", "2001-07-07"]  # fmt: skip
    rules = retail_rules(driver_cols=["drv_*"])
    rules["customers"]["dates"].append("date_of_birth")
    report = quality_report(tables, rules)
    row = report.set_index(["source", "column", "check"])
    assert row.loc[("customers", "date_of_birth", "unparseable_date"), "example_values"] == [
        "<redacted>"
    ]
    assert row.loc[("customers", "date_of_birth", "unparseable_date"), "example_rows"] == [0]
    assert row.loc[("customers", "loyalty_member", "invalid_category"), "example_values"] == [
        "maybe"
    ]
    assert_no_pii(report, tables["customers"][["name", "email", "date_of_birth"]])
    # a column named in the rules but absent is an error finding, not a crash
    tables["survey"] = tables["survey"].drop(columns="recommend")
    report = quality_report(tables, RULES)
    r = report.set_index(["source", "column", "check"]).loc[
        ("survey", "recommend", "missing_column")
    ]
    assert r["severity"] == "error"


def test_report_is_empty_on_clean_data():
    clean = {
        "customers": pd.DataFrame({"customer_id": ["A", "B"], "loyalty_member": ["yes", "no"]})
    }
    report = quality_report(
        clean, {"customers": {"key": "customer_id", "booleans": ["loyalty_member"]}}
    )
    assert report.empty and "note" in report.columns


def test_clean_tables_applies_documented_fixes():
    clean, notes = clean_tables(planted_tables(), RULES)
    tx = clean["transactions"]
    # 14 rows - 3 copies - 1 duplicate key - 1 missing amount - 3 orphans = 6
    assert tx["transaction_id"].tolist() == ["T1", "T2", "T3", "T6", "T9", "T10"]
    assert tx.index.tolist() == [0, 1, 3, 6, 10, 13]  # original row labels are kept
    assert tx.loc[6, "amount"] == 12.0  # first row of the duplicated key kept
    assert tx["is_return"].tolist() == [False, False, True, False, False, True]
    assert pd.isna(tx.loc[13, "promotion"])
    sv = clean["survey"]
    # the unparseable date row is dropped (date is required), the orphan C7 too
    assert sv["response_id"].tolist() == [1, 2, 4, 6]
    assert sv["overall_satisfaction"].isna().tolist() == [False, True, False, False]
    assert pd.isna(sv.loc[3, "recommend"]) and pd.isna(sv.loc[3, "drv_staff"])
    assert pd.isna(sv.loc[1, "customer_id"])  # anonymous answers are kept
    assert clean["customers"]["loyalty_member"].tolist()[:3] == [True, False, True]
    assert pd.isna(clean["customers"].loc[3, "loyalty_member"])
    assert notes == [
        "customers: 1 value(s) in loyalty_member that are not yes/no set to missing.",
        "transactions: 3 exact duplicate row(s) dropped (first copy kept).",
        "transactions: 1 row(s) with an already-seen transaction_id dropped "
        "(first row of each key kept).",
        "transactions: 1 out-of-range value(s) in promotion (allowed 0 to 1) set to missing.",
        "transactions: 1 row(s) with missing amount dropped.",
        "transactions: 3 row(s) whose customer_id is not in customers dropped "
        "(2 distinct unknown id(s)).",
        "transactions: 2 return(s) (negative amount) kept and marked as returns "
        "(counted after the drops above).",
        "survey: 1 unparseable date(s) in date set to missing.",
        "survey: 2 out-of-range value(s) in overall_satisfaction (allowed 1 to 5) set to missing.",
        "survey: 1 out-of-range value(s) in recommend (allowed 0 to 10) set to missing.",
        "survey: 1 out-of-range value(s) in drv_staff (allowed 1 to 5) set to missing.",
        "survey: 1 row(s) with missing date dropped.",
        "survey: 1 row(s) whose customer_id is not in customers dropped "
        "(1 distinct unknown id(s)).",
    ]
    # cleaning is idempotent: a second pass changes nothing and says nothing
    again, notes2 = clean_tables(clean, RULES)
    assert notes2 == [
        "transactions: 2 return(s) (negative amount) kept and marked as returns "
        "(counted after the drops above)."
    ]
    assert again["transactions"].equals(tx)


def test_cleaning_steps_are_pure_and_explicit():
    dups = pd.DataFrame({"a": [1, 1, 1], "r": [0, 0, 3]})
    out, notes = drop_exact_duplicates(dups, "t")
    assert len(dups) == 3 and out.index.tolist() == [0, 2]
    assert notes == ["t: 1 exact duplicate row(s) dropped (first copy kept)."]
    df = pd.DataFrame({"a": [1, 1, 2], "r": [0, 3, 9]})
    out, notes = set_out_of_range_to_missing(df, {"r": [1, 5]}, "t")
    assert out["r"].isna().tolist() == [True, False, True] and df["r"].notna().all()
    assert notes == ["t: 2 out-of-range value(s) in r (allowed 1 to 5) set to missing."]
    out, notes = set_out_of_range_to_missing(df, {"a": [0, None]}, "t")
    assert notes == [] and out["a"].dtype == "int64"
    out, notes = flag_returns(pd.DataFrame({"amount": [5.0, 3.0]}))
    assert notes == [] and not out["is_return"].any()
    with pytest.raises(DataError, match="match no column"):
        set_out_of_range_to_missing(df, {"zz": [0, 1]}, "t")
    with pytest.raises(ConfigError, match="unknown rule"):
        quality_report({"t": df}, {"t": {"keys": "a"}})


def test_quality_chart_one_bar_per_finding():
    report = quality_report(planted_tables(), RULES)
    ax = plot_quality_findings(report)
    bars = [p for p in ax.patches if p.get_width() == p.get_width()]  # skip NaN legend proxies
    assert [b.get_width() for b in bars] == report["n_rows"].tolist()
    # labelled in words, as the findings table reads ("overall satisfaction", "out of range")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(ax.figure)
    first = report.iloc[0]
    assert labels[0] == (
        f"{first['source']}: {first['column'].replace('_', ' ')} - "
        f"{first['check'].replace('_', ' ')}"
    )
    assert "survey: overall satisfaction - out of range" in labels
    assert not [t for t in labels if "_" in t], labels


def test_report_matches_the_generator_planted_faults(tmp_path):
    """On the synthetic retail data, the report counts exactly what the generator planted."""
    from crmlab.synth.retail import generate_retail

    truth = generate_retail(tmp_path, seed=3, n_customers=1500, months=12, responses_per_wave=150)
    names = ("stores", "customers", "transactions", "survey", "complaints")
    tables = {n: pd.read_csv(tmp_path / f"{n}.csv") for n in names}
    report = quality_report(tables).set_index(["source", "column", "check"])

    def count(source, column, check):
        key = (source, column, check)
        return int(report.loc[key, "n_rows"]) if key in report.index else 0

    planted = truth["fault_counts"]
    tx = planted["transactions"]
    assert count("transactions", "*", "duplicate_rows") == tx["duplicate_rows"]
    assert count("transactions", "amount", "missing") == tx["missing_amount"]
    assert count("transactions", "customer_id", "orphan_key") == tx["orphan_rows"]
    for col, n in planted["survey"]["out_of_range_by_column"].items():
        assert count("survey", col, "out_of_range") == n, col
    for col, n in planted["survey"]["blank_by_column"].items():
        assert count("survey", col, "missing") == n, col
    _, notes = clean_tables(tables)
    assert any(f"{tx['duplicate_rows']} exact duplicate row(s) dropped" in n for n in notes)


def test_show_findings_says_so_when_there_are_none(capsys):
    """A clean extract gets a sentence, not the header of an empty table; findings get the
    reader's columns."""
    from unittest import mock

    from crmlab import quality

    empty = pd.DataFrame(columns=[*quality.FINDING_COLUMNS, "examples"])
    with mock.patch("IPython.display.display") as shown:
        quality.show_findings(empty)
    shown.assert_not_called()
    assert quality.NO_FINDINGS in capsys.readouterr().out
    row = dict.fromkeys(quality.FINDING_COLUMNS, "x") | {"n_rows": 3, "share": 0.5}
    with mock.patch("IPython.display.display") as shown:
        quality.show_findings(pd.DataFrame([row | {"examples": "[1]"}]))
    [table] = shown.call_args.args
    assert list(table.cells.columns) == [
        "Source", "Column", "Check", "Severity", "Rows", "Share", "Note", "Action",
    ]  # fmt: skip


def test_findings_for_readers_name_columns_in_words():
    """The notes and actions a reader sees name the column as the Column cell does; the
    report keeps the column names; the Chinese report still reads them."""
    from crmlab import i18n, quality

    report = quality_report(planted_tables(), RULES)
    shown = quality.findings_for_readers(report)
    assert list(shown.columns) == quality.FINDING_COLUMNS
    notes = " ".join(shown["note"]) + " " + " ".join(shown["action"])
    assert "_" not in notes.replace("drv_", ""), notes  # drv_staff is a column the fixture names
    assert "missing value(s) in overall satisfaction" in notes or "overall satisfaction" in notes
    assert "refer to a customer id that is not in customers" in notes
    assert "keep; mark as returns (net spend subtracts them)" in set(shown["action"])
    assert "flag as is_return" in " ".join(report["action"])  # the report is unchanged
    for note in shown["note"]:
        assert i18n.has_cjk(i18n.translate(note, "zh")), note
    assert i18n.translate("keep; mark as returns (net spend subtracts them)") == (
        "保留；标记为退货（净消费额扣除退货）"
    )


def test_cleaning_notes_name_columns_in_words(capsys):
    """The cleaning notes a reader sees name columns in words; the Chinese report reads them."""
    from crmlab import i18n, quality

    _, notes = clean_tables(planted_tables(), RULES)
    quality.show_cleaning_notes(notes)
    shown = capsys.readouterr().out
    assert "out-of-range value(s) in overall satisfaction (allowed 1 to 5)" in shown
    assert "whose customer id is not in customers dropped" in shown
    assert "_" not in shown.replace("drv_", "")  # drv_staff: the fixture's own column name
    for line in shown.splitlines():
        if line.startswith("- "):
            assert i18n.has_cjk(i18n.translate(line[2:], "zh")), line
    quality.show_cleaning_notes([])
    assert "No changes were needed." in capsys.readouterr().out


def _finding_row(source, check, severity, n_rows, rows_in_table, note):
    return {
        "source": source,
        "column": "amount",
        "check": check,
        "severity": severity,
        "n_rows": n_rows,
        "share": n_rows / rows_in_table,
        "note": note,
        "action": "drop these rows",
    }


def test_the_stage_answer_calls_faults_few_only_when_they_are():
    """verdict(): faults are errors and warnings; few = none above 5% of its table's rows."""
    from crmlab.quality import verdict

    returns = _finding_row("transactions", "negative_amount", "info", 300, 1000, "300 returns.")
    assert verdict(pd.DataFrame([returns])) == (
        "No faults were found: every check of the rules passed; what the checks noted is "
        "expected and kept."
    )
    assert verdict(pd.DataFrame([], columns=list(returns))).startswith("No faults were found")
    few = [
        returns,
        _finding_row("transactions", "missing", "error", 7, 1000, "7 missing value(s) in amount."),
        _finding_row("survey", "out_of_range", "warning", 5, 100, "5 value(s) in price_value."),
    ]
    # the count is of the same table the stage records (3 findings): 2 faults and 1 note
    assert verdict(pd.DataFrame(few)) == (
        "The faults found are few: 2 of the 3 findings, none touching more than 5% of a table's "
        "rows - the largest: 5 value(s) in price value (5.0% of the survey rows). Each is fixed "
        "by the stated rule above. 1 of them is an error: 7 row(s) that cannot be used as they "
        "are, so the rule drops them. The other 1 finding(s) are notes (severity info: expected, "
        "such as returns) and are kept."
    )
    # without notes the faults are all the findings
    assert verdict(pd.DataFrame(few[1:])).startswith(
        "The faults found are few: 2 finding(s), none touching"
    )
    many = few + [
        _finding_row("customers", "duplicate_key", "error", 408, 5000, "408 rows share an id.")
    ]
    text = verdict(pd.DataFrame(many))
    assert text.startswith(
        "The faults are not few: 3 of the 4 findings, the largest: 408 rows share an id (8.2% of the "
        "customers rows). Each is handled by the stated rule above, but have the client's data "
        "owner explain the largest"
    )
    assert text.endswith(
        "2 of them are errors: 415 row(s) that cannot be used as they are, so the rule drops "
        "them. The other 1 finding(s) are notes (severity info: expected, such as returns) and "
        "are kept."
    )
    # a finding of an empty table has no share: said without one, and not called large
    empty = {**few[1], "share": float("nan")}
    assert verdict(pd.DataFrame([empty])).startswith(
        "The faults found are few: 1 finding(s), none touching more than 5% of a table's rows - "
        "the largest: 7 missing value(s) in amount. Each"
    )


def test_a_single_finding_gets_no_chart():
    """The finance data's one expected finding (blank closure dates) had a whole bar chart."""
    from crmlab.quality import worth_charting

    row = _finding_row("customers", "missing", "info", 2506, 5000, "2,506 missing values.")
    assert not worth_charting(pd.DataFrame([row]))
    assert not worth_charting(pd.DataFrame([], columns=list(row)))
    assert worth_charting(pd.DataFrame([row, {**row, "column": "age"}]))


DUPLICATES = Path(__file__).parent / "fixtures" / "duplicates" / "customers.csv"
"""13 customers rows, counted by hand in tests/fixtures/duplicates/README.md."""


def test_duplicated_ids_have_one_definition_counted_by_hand():
    """Lines 4, 8, 10, 13 (rows 2, 6, 8, 11) copy an earlier row; C02, C03, C04, C06 are on 10
    rows; C03 and C04 differ in contents, on 4 rows once the copies are dropped (lines 5, 6, 7,
    9); C02 and C06 repeat only as copies. The report says those numbers, and cleaning keeps
    one row per customer."""
    df = pd.read_csv(DUPLICATES, dtype=str, keep_default_na=False)
    d = duplicate_ids(df, "customer_id")
    assert (d.ids, d.rows, d.differing_ids, d.differing_rows, d.n_copies) == (4, 10, 2, 4, 4)
    assert d.copies[d.copies].index.tolist() == [2, 6, 8, 11]
    assert d.differing[d.differing].index.tolist() == [3, 4, 5, 7]
    report = quality_report({"customers": df}, {"customers": RETAIL_RULES["customers"]})
    found = {r.check: r for r in report.itertuples() if r.check.startswith("duplicate")}
    assert (found["duplicate_rows"].n_rows, found["duplicate_rows"].example_rows) == (
        4,
        [2, 6, 8, 11],
    )
    key = found["duplicate_key"]
    assert (key.n_rows, key.example_rows) == (4, [3, 4, 5, 7])
    assert key.note == "2 customer_id value(s) appear on more than one row with different contents."
    clean, notes = clean_tables({"customers": df}, {"customers": RETAIL_RULES["customers"]})
    assert clean["customers"]["customer_id"].tolist() == [f"C0{i}" for i in range(1, 8)]
    assert notes[:2] == [
        "customers: 4 exact duplicate row(s) dropped (first copy kept).",
        "customers: 2 row(s) with an already-seen customer_id dropped (first row of each key "
        "kept).",
    ]
    # without a key: only the copies
    d = duplicate_ids(df, None)
    assert (d.ids, d.differing_ids, d.n_copies, int(d.differing.sum())) == (0, 0, 4, 0)


def test_the_verdict_counts_the_findings_the_table_shows_and_the_stage_records():
    """The stage-2 answer said "20 finding(s)" under a table and a key figure of 24 (the 4
    notes were dropped without a word): the paragraph's counts add up to the table's rows."""
    import re

    from crmlab import i18n
    from crmlab.quality import verdict

    rows = [
        _finding_row("transactions", "duplicate_row", "warning", 190, 100_000, ""),
        _finding_row("transactions", "negative_amount", "info", 2500, 100_000, "2,500 returns."),
        _finding_row("customers", "missing", "info", 40, 5000, "40 missing value(s) in region."),
        _finding_row("survey", "missing", "warning", 3, 9600, "3 missing value(s) in price_value."),
        _finding_row("survey", "orphan_key", "error", 7, 9600, "7 missing value(s) in amount."),
    ]
    rows[0]["note"] = "190 rows are exact copies of an earlier row."
    table = pd.DataFrame(rows)
    text = verdict(table)
    faults, total = (int(x) for x in re.search(r"(\d+) of the (\d+) findings", text).groups())
    notes = int(re.search(r"The other (\d+) finding\(s\) are notes", text)[1])
    assert total == len(table) == 5  # what data.quality_findings records
    assert faults == int(table["severity"].isin(["error", "warning"]).sum()) == 3
    assert notes == int((table["severity"] == "info").sum()) == 2
    assert faults + notes == total
    zh = i18n.note(text)
    assert zh is not None and "5 项发现中有 3 项为问题" in zh and "其余 2 项为提示" in zh
