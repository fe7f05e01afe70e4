"""Reading messy client exports: one test per kind of mess in issue 5, with hand-computed answers.

Encoded variants (GBK, GB18030, UTF-8 with BOM, Latin-1, UTF-16) are made in a temp folder from
the UTF-8 fixtures in tests/fixtures/byod/.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmlab import config, ingest, privacy, quality, schemas, sources
from crmlab.errors import ConfigError, DataError
from tests.fixtures.office_files import (
    ENCRYPTED_XLSX,
    PASSWORD_HINT,
    PASSWORD_RULE,
    compound_file,
)

FIXTURES = Path(__file__).parent / "fixtures" / "byod"
KEY = b"test-key-for-pseudonyms-0123"


@pytest.fixture
def client(tmp_path):
    """The fixture export, re-encoded like real exports: GBK members, UTF-8-with-BOM orders,
    Latin-1 (Windows-1252) complaints; returns the config path."""
    folder = tmp_path / "client"
    shutil.copytree(FIXTURES, folder)

    def recode(name, encoding):
        text = (FIXTURES / name).read_text(encoding="utf-8")
        (folder / name).write_bytes(text.encode(encoding))

    recode("members.csv", "gbk")
    recode("orders.csv", "utf-8-sig")
    recode("reclamations.csv", "cp1252")
    return folder / "client.yaml"


@pytest.fixture
def loaded(client):
    return ingest.load(config.load_config(client))


def _series(*values) -> pd.Series:
    return pd.Series(list(values), dtype="object")


def _sha(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


# --------------------------------------------------------------------------------------------
# encodings
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding, expected",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
    ],
)
def test_detect_encoding_of_chinese_text(encoding, expected):
    text = "会员编号,姓名,区域\n1001,王小明,华东\n1002,李华,华北\n"
    assert ingest.detect_encoding(text.encode(encoding))[0] == expected


def test_latin1_text_is_not_mistaken_for_gbk():
    # 'Müller' in Latin-1 is also a valid GB18030 byte string (0xFC 0x6C is a rare character)
    text = "id;nom;ville\n1;Müller;Köln\n2;Besançon;Dürrenmatt\n"
    data = text.encode("latin-1")
    data.decode("gb18030")  # decodable, yet not Chinese
    codec, _ = ingest.detect_encoding(data)
    assert codec == "cp1252" and data.decode(codec) == text


def test_encodings_are_detected_and_reported(loaded):
    info = loaded.sources
    assert info["customers"]["encoding"] == "GB18030/GBK (Chinese) (detected)"
    assert info["transactions"]["encoding"] == "UTF-8 with byte-order mark (detected)"
    assert info["complaints"]["encoding"] == "Windows-1252 (Latin-1) (detected)"
    assert info["complaints"]["separator"] == ";"
    # Chinese names and values and French accents arrive intact
    assert loaded.tables["customers"]["region"].tolist() == ["华东", "华北", "华东", "华南"]
    assert loaded.tables["complaints"]["category"].tolist() == ["qualité", "délai", "qualité"]
    assert info["complaints"]["columns"]["complaint_id"] == "N° réclamation"


def test_explicit_encoding_wins_and_a_wrong_one_is_a_clear_problem(tmp_path):
    (tmp_path / "s.csv").write_bytes("门店,日期\nS1,2024-01-01\n".encode("gbk"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "case: retail_satisfaction\ndata: {stores: {path: s.csv, encoding: utf-8}}\n"
        "columns: {stores: {store_id: 门店}}\n",
        encoding="utf-8",
    )
    prepared = ingest.load(config.load_config(cfg))
    [p] = prepared.problems
    assert p["severity"] == "error" and p["file"] == "s.csv"
    assert p["rule"] == (
        "cannot be read as utf-8: line 1, the header, holds bytes that are not utf-8 (0xC3)"
    )
    assert p["hint"].startswith("the file reads as GB18030/GBK (Chinese): set encoding: gb18030")
    # UTF-8 with one line saved in Latin-1: no one encoding reads it; the line is named
    (tmp_path / "s.csv").write_bytes(
        "门店,日期\nS1,2024-01-01\n".encode() + "Café,2024-01-02\n".encode("latin-1")
    )
    cfg.write_text(cfg.read_text(), encoding="utf-8")
    [p] = ingest.load(config.load_config(cfg)).problems
    # the column the bytes are in, never the line's values (a customer's name or phone)
    assert p["rule"] == (
        "cannot be read as utf-8: line 3, column '门店', holds bytes that are not utf-8 (0xE9)"
    )
    assert p["hint"].startswith("the file mixes encodings")
    (tmp_path / "s.csv").write_bytes("门店,日期\nS1,2024-01-01\n".encode("gbk"))
    cfg.write_text(cfg.read_text().replace("utf-8", "gbk"), encoding="utf-8")
    prepared = ingest.load(config.load_config(cfg))
    assert prepared.ok and prepared.tables["stores"]["store_id"].tolist() == ["S1"]


# --------------------------------------------------------------------------------------------
# numbers stored as text
# --------------------------------------------------------------------------------------------
def test_numbers_as_text():
    s = _series(
        "1,234.50", "¥1,234.50", "(12.00)", "", "N/A", "-¥20", "USD 3,000", "12%", "￥８８",
        "abc", "  7 ", 5, "1 234",
    )  # fmt: skip
    p = ingest.parse_numbers(s)
    expected = [1234.5, 1234.5, -12.0, np.nan, np.nan, -20.0, 3000.0, 0.12, 88.0, np.nan, 7.0,
                5.0, 1234.0]  # fmt: skip
    np.testing.assert_allclose(p.values.to_numpy(), expected)
    assert p.bad.tolist() == [False] * 9 + [True] + [False] * 3  # only 'abc'
    assert p.counts == {
        "blank": 1,
        "na_word": 1,
        "thousands": 3,
        "currency": 4,
        "percent": 1,
        "parentheses": 1,
    }


def test_the_conversion_examples_show_the_values_as_stored():
    """'805,536.46元' is stored as 805536.46: the note says so, not '-> 805536' (six digits)."""
    notes: list[str] = []
    s = _series("805,536.46元", "1,234,567.891", "33.3%")
    ingest._number_notes(ingest.parse_numbers(s), "customers: column 余额", notes)
    assert notes == [
        "customers: column 余额: 2 value(s) had thousands separators removed "
        "(e.g. '805,536.46元' -> 805536.46).",
        "customers: column 余额: 1 value(s) had a currency sign or code removed "
        "(e.g. '805,536.46元' -> 805536.46).",
        "customers: column 余额: 1 value(s) were percentages, divided by 100 "
        "(e.g. '33.3%' -> 0.333).",
    ]


def test_ids_with_spaces_around_them_are_trimmed_and_counted():
    p = ingest.parse_ids(_series(" C001", "C002\t", "C003", "", "N/A", "C 4"))
    assert p.values.tolist()[:3] == ["C001", "C002", "C003"] and p.values.tolist()[5] == "C 4"
    assert p.values[3:5].isna().all()
    assert p.counts == {"blank": 1, "na_word": 1, "trimmed": 2}  # an inner space stays


def test_trimmed_ids_are_reported_in_the_import_notes(client):
    """Nothing is changed silently: padded member ids in the orders are trimmed and said so."""
    orders = client.parent / "orders.csv"
    lines = orders.read_text(encoding="utf-8-sig").splitlines()
    lines[1] = lines[1].replace(",1001,", ", 1001,")
    lines[2] = lines[2].replace(",1001,", ",1001  ,")
    orders.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    loaded = ingest.load(config.load_config(client))
    assert any("2 id(s) with spaces around them trimmed" in n for n in loaded.notes)
    assert loaded.tables["transactions"]["customer_id"].head(2).tolist() == ["1001", "1001"]


def test_decimal_comma_numbers():
    p = ingest.parse_numbers(_series("1.234,50", "1,5", "€ 2.000", "3"), decimal=",")
    np.testing.assert_allclose(p.values.to_numpy(), [1234.5, 1.5, 2000.0, 3.0])
    assert not p.bad.any()


def test_amounts_in_the_export_and_the_report_sentences(loaded):
    tx = loaded.tables["transactions"]
    # A04 is cancelled and dropped; A05 is in the file twice (02_data drops the copy)
    assert tx["transaction_id"].tolist() == [
        "A01", "A02", "A03", "A05", "A05", "A06", "A07", "A08", "A09", "A10", "A11", "A12", "A13",
    ]  # fmt: skip
    np.testing.assert_allclose(
        tx["amount"].to_numpy(),
        [1234.5, -12, np.nan, -20, -20, 3000, 88, 7.5, 10, 20, 30, 40, 5],
    )
    notes = "\n".join(loaded.notes)
    assert (
        "transactions: column Amount (amount): 1 blank value(s) in a numeric column set to missing."
        in notes
    )
    assert "2 value(s) had thousands separators removed (e.g. '¥1,234.50' -> 1234.5)" in notes
    assert "6 value(s) had a currency sign or code removed" in notes
    assert "1 value(s) in parentheses read as negative" in notes
    assert "transactions: 3 negative amount(s) kept: returns (02_data flags them)." in notes


# --------------------------------------------------------------------------------------------
# yes/no flags
# --------------------------------------------------------------------------------------------
def test_yes_no_words():
    s = _series("是", "否", "Yes", "n", "TRUE", "0", 1, "", "maybe", "√")
    p = ingest.parse_bools(s)
    assert p.values.tolist() == [True, False, True, False, True, False, True, pd.NA, pd.NA, True]
    assert p.bad.tolist() == [False] * 8 + [True, False]


def test_yes_no_with_values_mapping_and_yaml_bools():
    # values: {true: [Yes, 会员], false: [No, 非会员]} - YAML turns the bare Yes/No into bools
    mapping = {True: [True, "会员"], False: [False, "非会员"]}
    p = ingest.parse_bools(_series("会员", "非会员", "yes", "OFF", "vip"), mapping)
    assert p.values.tolist() == [True, False, True, False, pd.NA]
    assert p.counts["mapped"] == 4


def test_flags_in_the_export(loaded):
    assert loaded.tables["customers"]["loyalty_member"].tolist() == [True, False, True, False]
    assert loaded.tables["complaints"]["resolved"].tolist() == [True, False, True]
    # promotion: Y/N/是/否 -> 1/0 (A04, the 是, was cancelled)
    assert loaded.tables["transactions"]["promotion"].tolist() == [1] + [0] * 12


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------
def test_dates_in_every_format():
    s = _series(
        "2024-01-05", "20240106", 20240107, 45299, "45300", "2024年1月10日", "Jan 11, 2024", "",
        pd.Timestamp("2024-01-12"), "not a date",
    )  # fmt: skip
    p = ingest.parse_dates(s)
    expected = pd.to_datetime(
        [
            "2024-01-05",
            "2024-01-06",
            "2024-01-07",
            "2024-01-08",
            "2024-01-09",
            "2024-01-10",
            "2024-01-11",
            None,
            "2024-01-12",
            None,
        ]  # fmt: skip
    )
    assert p.values.tolist() == list(expected)
    assert p.bad.tolist() == [False] * 9 + [True]
    c = p.counts
    assert (c["yyyymmdd"], c["excel_serial"], c["chinese"], c["native"]) == (2, 2, 1, 1)


def test_day_first_is_detected_and_ambiguity_reported():
    p = ingest.parse_dates(_series("05/01/2024", "13/01/2024", "02/02/2024"))
    assert p.values.dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-01-13", "2024-02-02"]
    assert p.counts["dayfirst_detected"] == 1 and p.counts["ambiguous"] == 1
    us = ingest.parse_dates(_series("05/01/2024", "01/13/2024"))  # month first
    assert us.values.dt.strftime("%Y-%m-%d").tolist() == ["2024-05-01", "2024-01-13"]
    forced = ingest.parse_dates(_series("05/01/2024"), dayfirst=True)
    assert forced.values.iloc[0] == pd.Timestamp("2024-01-05")


def test_year_first_text_that_is_no_date_stays_invalid_with_day_first():
    """'2024-13-01' has no month 13: with dayfirst (a day-first column) it must not be read
    as 13 January (year, day, month) but be reported, as it is without dayfirst."""
    for dayfirst in (False, True):
        p = ingest.parse_dates(
            _series("2024-13-01", "2024-02-30", "2024-03-04", "05/03/2024"), dayfirst=dayfirst
        )
        assert p.bad.tolist() == [True, True, False, False], dayfirst
        assert p.values.iloc[2] == pd.Timestamp("2024-03-04")  # ISO is year-month-day either way
    assert ingest.parse_dates(_series("05/03/2024"), dayfirst=True).values.iloc[0] == pd.Timestamp(
        "2024-03-05"
    )


def test_ids_and_years_out_of_range_are_not_dates():
    """A date mapped to an order-number column must not stop the import with a traceback nor
    read the numbers as years: 'T000000001' (a time in year 1 to a lenient reader), 'T000000032'
    (the year 2032), a bare '2024' and dates pandas cannot hold are values that are not dates."""
    values = ("T000000001", "T000000032", "2024", "0001-01-01", "1/1/0001", "01/01/9999")
    p = ingest.parse_dates(_series(*values, "2024-05-01", "Jan 11, 2024", "20240106"))
    assert p.bad.tolist() == [True] * 6 + [False] * 3
    assert p.values.iloc[6:].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-05-01",
        "2024-01-11",
        "2024-01-06",
    ]
    assert ingest.parse_dates(_series("00010101", "20240101"), fmt="%Y%m%d").bad.tolist() == [
        True,
        False,
    ]


def test_explicit_format_for_yyyymmdd_numbers_and_text():
    p = ingest.parse_dates(_series(20240501, "20240502", "2024-05-03", 20241301), fmt="%Y%m%d")
    assert p.values.iloc[:2].tolist() == [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-02")]
    assert p.bad.tolist() == [False, False, True, True]  # other formats are not that format


def test_dates_in_the_export(loaded):
    sv = loaded.tables["survey"]
    # ISO, 2024/01/06, Chinese, an Excel serial and a YYYYMMDD number in one column
    assert sv["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08", "2024-01-09",
    ]  # fmt: skip
    assert sv["wave"].tolist() == ["2024-01"] * 5  # derived from the date, and reported
    cp = loaded.tables["complaints"]
    assert cp["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-01-13", "2024-02-02"]
    notes = "\n".join(loaded.notes)
    assert "survey: no wave column; wave = month of the answer date (YYYY-MM)." in notes
    assert "1 date(s) were Excel serial day numbers" in notes
    assert "values such as 13/01/2024 show the dates are written day first" in notes


# --------------------------------------------------------------------------------------------
# satisfaction scales, averaging, drivers
# --------------------------------------------------------------------------------------------
def test_satisfaction_to_five_keeps_who_is_satisfied():
    ten = pd.Series(np.arange(1, 11, dtype=float))
    assert ingest.satisfaction_to_five(ten, (1, 10), 7).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    five = pd.Series([1.0, 2, 3, 4, 5])
    assert ingest.satisfaction_to_five(five, (1, 5), 4).tolist() == [1, 2, 3, 4, 5]  # identity
    seven = pd.Series(np.arange(1, 8, dtype=float))
    assert ingest.satisfaction_to_five(seven, (1, 7), 5).tolist() == [1, 2, 2, 3, 4, 5, 5]
    # a mean just under the threshold stays unsatisfied, whatever the rounding
    assert ingest.satisfaction_to_five(pd.Series([3.5, 3.99, 6.9]), (1, 5), 4).tolist()[:2] == [
        3,
        3,
    ]
    assert ingest.satisfaction_to_five(pd.Series([6.9]), (1, 10), 7).iloc[0] == 3
    # CSAT is unchanged for every threshold on 0-10
    x = pd.Series(np.arange(0, 11, dtype=float))
    for t in range(1, 11):
        mapped = ingest.satisfaction_to_five(x, (0, 10), t)
        assert ((mapped >= 4) == (x >= t)).all(), t
        assert mapped.between(1, 5).all()


def test_rescale_linear():
    np.testing.assert_allclose(
        ingest.rescale_linear(pd.Series([1.0, 5.5, 10]), (1, 10)), [1.0, 3.0, 5.0]
    )


def test_satisfaction_in_the_export_is_averaged_and_mapped(loaded):
    sv = loaded.tables["survey"]
    # means on 1-10: 9.5, 6.5, 6, 1.5, 8 (Q5 has only the second question answered)
    assert sv["overall_satisfaction"].tolist() == [5, 3, 3, 1, 4]
    # CSAT on 1-5 (4+) equals the share of means at 7 or more on 1-10: 2 of 5
    from crmlab import metrics

    assert metrics.csat(sv["overall_satisfaction"]) == pytest.approx(0.4)
    assert loaded.survey["mapping"]["6"] == 3 and loaded.survey["mapping"]["7"] == 4
    assert loaded.drivers == ["staff_service", "product_quality"]
    assert sv["staff_service"].tolist()[:4] == [5, 4, 3, 1] and pd.isna(sv["staff_service"][4])


# --------------------------------------------------------------------------------------------
# Excel, Parquet, SQL, empty files, wrong paths
# --------------------------------------------------------------------------------------------
def _one_source_config(tmp_path, data: str, columns: str = "") -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"case: retail_satisfaction\ndata:\n{data}\n{columns}", encoding="utf-8")
    return cfg


def _load_one(tmp_path, data: str, columns: str = ""):
    """:func:`crmlab.ingest.load` of a one-source retail config (see ``_one_source_config``)."""
    return ingest.load(config.load_config(_one_source_config(tmp_path, data, columns)))


def test_excel_sheet_by_name_with_native_dates(tmp_path):
    with pd.ExcelWriter(tmp_path / "book.xlsx", engine="openpyxl") as xw:
        pd.DataFrame({"说明": ["导出"]}).to_excel(xw, sheet_name="说明", index=False)
        pd.DataFrame(
            {"门店": ["S1", "S2"], "开业": [pd.Timestamp("2020-03-01"), pd.Timestamp("2021-04-02")]}
        ).to_excel(xw, sheet_name="门店表", index=False)
    cfg = _one_source_config(
        tmp_path,
        "  stores: {path: book.xlsx, sheet: 门店表}",
        "columns: {stores: {store_id: 门店, opened_date: 开业}}\n",
    )
    prepared = ingest.load(config.load_config(cfg))
    assert prepared.ok, prepared.problems
    st = prepared.tables["stores"]
    assert st["store_id"].tolist() == ["S1", "S2"]
    assert st["opened_date"].tolist() == [pd.Timestamp("2020-03-01"), pd.Timestamp("2021-04-02")]
    assert prepared.sources["stores"]["sheet"] == "门店表"
    cfg.write_text(cfg.read_text().replace("sheet: 门店表", "sheet: 门店"), encoding="utf-8")
    [p] = ingest.load(config.load_config(cfg)).problems
    assert p["rule"] == "sheet '门店' not found" and "'说明', '门店表'" in p["hint"]


def test_sql_query_over_files(tmp_path):
    (tmp_path / "a.csv").write_text("shop,arm\nS1,treatment\nS2,control\nS3,test\n")
    cfg = _one_source_config(
        tmp_path,
        "  stores:\n    query: SELECT shop AS store_id FROM 'a.csv' WHERE arm <> 'test'",
    )
    prepared = ingest.load(config.load_config(cfg))
    assert prepared.tables["stores"]["store_id"].tolist() == ["S1", "S2"]
    cfg.write_text(cfg.read_text().replace("SELECT shop", "COPY (SELECT shop"), encoding="utf-8")
    cfg.write_text(cfg.read_text().replace("'test'", "'test') TO 'x.csv'"), encoding="utf-8")
    [p] = ingest.load(config.load_config(cfg)).problems
    assert "exactly one SELECT" in p["rule"] and not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "content, rule",
    [
        (b"", "the file is empty (0 bytes)"),
        (b"store_id,store_name\n", "the table has a header but no rows"),
        (b"\n\n  \n", "the file holds no text"),
    ],
)
def test_empty_files(tmp_path, content, rule):
    (tmp_path / "stores.csv").write_bytes(content)
    prepared = _load_one(tmp_path, "  stores: stores.csv")
    [p] = prepared.problems
    assert (p["source"], p["file"], p["rule"], p["severity"]) == (
        "stores",
        "stores.csv",
        rule,
        "error",
    )


def test_an_excel_workbook_saved_with_a_csv_name_is_read_as_excel(tmp_path):
    """A workbook renamed to .csv: read as the workbook it is (its first sheet), said in the
    source's line and the import notes, instead of pandas' 'Error tokenizing data' on its
    bytes; an old .xls workbook or a zip archive under a .csv name gets what to do."""
    pd.DataFrame({"store_id": ["S1", "S2"], "store_name": ["南京路店", "西湖店"]}).to_excel(
        tmp_path / "stores.csv", index=False, sheet_name="门店"
    )
    prepared = _load_one(tmp_path, "  stores: stores.csv")
    assert prepared.ok, prepared.problems
    assert prepared.tables["stores"]["store_name"].tolist() == ["南京路店", "西湖店"]
    note = "an Excel workbook saved with a .csv name, read as Excel: rename it to .xlsx"
    assert prepared.sources["stores"]["note"] == note
    assert f"stores: stores.csv is {note}." in prepared.notes
    assert f"stores        stores.csv; {note}; sheet 门店; 2 rows read, 2 kept" in (
        prepared.summary()
    )
    (tmp_path / "stores.csv").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    [p] = _load_one(tmp_path, "  stores: stores.csv").problems
    assert (p["rule"], p["hint"]) == (
        "this is an old Excel workbook (.xls) saved with a .csv name, which cannot be read",
        "open it in Excel and save it as .xlsx (Excel Workbook), or export the sheet as CSV; "
        "then give that file under data:",
    )
    import zipfile

    with zipfile.ZipFile(tmp_path / "stores.csv", "w") as zf:
        zf.writestr("stores.csv", "store_id\nS1\n")
    [p] = _load_one(tmp_path, "  stores: stores.csv").problems
    assert (p["rule"], p["hint"]) == (
        "this is a zip archive saved with a .csv name, not a table",
        "unzip it and give the CSV or Excel file inside under data:",
    )


@pytest.mark.parametrize("name", ["members.xlsx", "members.csv"])
def test_a_password_protected_workbook_is_said_to_be_one(tmp_path, name):
    """An .xlsx with a password to open is an encrypted package in an OLE2 container, the
    container of an old .xls: it is told to remove the password (whatever its name), not to
    save an old .xls again as .xlsx."""
    (tmp_path / name).write_bytes(compound_file(ENCRYPTED_XLSX))
    assert ingest._ole2_names(tmp_path / name) == {"Root Entry", *ENCRYPTED_XLSX}
    [p] = _load_one(tmp_path, f"  customers: {name}").problems
    assert (p["source"], p["file"], p["column"], p["severity"]) == (
        "customers",
        name,
        "*",
        "error",
    )
    assert (p["rule"], p["hint"]) == (PASSWORD_RULE, PASSWORD_HINT)


@pytest.mark.parametrize(
    "names, rule",
    [
        (
            ["Workbook", "SummaryInformation"],
            "this is an old Excel workbook (.xls) saved with a .xlsx name, which cannot be read",
        ),
        (
            ["Book"],
            "this is an old Excel workbook (.xls) saved with a .xlsx name, which cannot be read",
        ),
        (
            ["WordDocument", "1Table"],
            "this is a Word document (.doc) saved with a .xlsx name, not a table",
        ),
        (
            ["Contents"],
            "this is an Office file that is not an Excel workbook, which cannot be read",
        ),
    ],
)
def test_other_ole2_files_are_told_apart_by_their_streams(tmp_path, names, rule):
    (tmp_path / "stores.xlsx").write_bytes(compound_file(names))
    [p] = _load_one(tmp_path, "  stores: stores.xlsx").problems
    assert p["rule"] == rule


def test_an_ole2_file_whose_directory_cannot_be_read_is_an_old_xls(tmp_path):
    """A truncated container (the directory sector missing): the first bytes say OLE2, nothing
    more - said as before, an old .xls."""
    data = compound_file(ENCRYPTED_XLSX)
    (tmp_path / "stores.xlsx").write_bytes(data[:1024])  # header and FAT, no directory
    assert ingest._ole2_names(tmp_path / "stores.xlsx") is None
    [p] = _load_one(tmp_path, "  stores: stores.xlsx").problems
    assert p["rule"].startswith("this is an old Excel workbook (.xls)")


def test_an_excel_binary_workbook_is_told_to_be_saved_as_xlsx(tmp_path):
    """An .xlsb is a zip like an .xlsx but with xl/workbook.bin: renamed .xlsx (the config
    takes no .xlsb name) it is said to be an .xlsb, not 'a zip archive: unzip it'."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "stores.xlsx", "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
        zf.writestr("xl/worksheets/sheet1.bin", b"\x81\x01\x00")
    [p] = _load_one(tmp_path, "  stores: stores.xlsx").problems
    assert (p["rule"], p["hint"]) == (
        "this is an Excel binary workbook (.xlsb) saved with a .xlsx name, which cannot be read",
        "open it in Excel and save it as .xlsx (File > Save As > Excel Workbook) or .csv; then "
        "give that file under data:",
    )
    with zipfile.ZipFile(tmp_path / "stores.xlsx", "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>")
    [p] = _load_one(tmp_path, "  stores: stores.xlsx").problems
    assert p["rule"] == (
        "this is an OpenDocument spreadsheet (.ods) saved with a .xlsx name, which cannot be read"
    )


def test_a_row_with_more_fields_than_the_header_is_said_in_words(tmp_path):
    """An unquoted 1,234.50 on line 3: the rule says which line and how many fields, with no
    pandas wording and no line break (shown as a literal \\n in the table)."""
    (tmp_path / "stores.csv").write_text("store_id,area\nS1,80\nS2,1,234.50\n", encoding="utf-8")
    [p] = _load_one(tmp_path, "  stores: stores.csv").problems
    assert p["rule"] == "cannot be read as a table: line 3 has 3 fields, the header 2"
    assert p["hint"] == (
        "a value holding the separator ',' (a number like 1,234.50, a comma in a name) must be "
        "in quotes in the export; or the separator or the header row is another one: check "
        "sep: (the column separator) and header_row: under data:"
    )
    assert "\\n" not in schemas.format_problems([p]) and "tokenizing" not in p["rule"]


def test_wrong_path_names_the_folder_and_a_near_file(tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "stores_2026.csv").write_text("store_id\nS1\n")
    cfg = _one_source_config(tmp_path, "  stores: exports/stores_2025.csv")
    [p] = ingest.load(config.load_config(cfg)).problems
    assert p["rule"] == "file not found" and p["file"] == "exports/stores_2025.csv"
    assert "relative to the config's folder" in p["hint"]
    assert "Did you mean 'stores_2026.csv'?" in p["hint"]
    # the files listed are those of the folder the path points into, named as such
    assert f"files in {tmp_path / 'exports'}: stores_2026.csv." in p["hint"]


def test_a_missing_file_suggests_only_a_really_close_one_and_running_without_it(tmp_path):
    """stores.xlsx deleted: orders.csv is not offered ('Did you mean' across unrelated names);
    the source is optional, so the hint says the case runs without it."""
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "orders.csv").write_text("OrderNo,MemberID\nA1,C1\n")
    cfg = _one_source_config(
        tmp_path, "  stores: exports/stores.xlsx\n  transactions: exports/orders.csv"
    )
    [p] = [p for p in ingest.load(config.load_config(cfg)).problems if p["source"] == "stores"]
    assert p["rule"] == "file not found"
    assert "Did you mean" not in p["hint"]
    assert p["hint"].endswith(
        "files in " + str(tmp_path / "exports") + ": orders.csv. "
        "Or remove `stores:` from data: (the case runs without it)."
    )
    # the same name with another extension is offered
    (tmp_path / "exports" / "stores.csv").write_text("store_id\nS1\n")
    [p] = [p for p in ingest.load(config.load_config(cfg)).problems if p["source"] == "stores"]
    assert "Did you mean 'stores.csv'?" in p["hint"]
    # the only source of the config: no way to run without it
    cfg = _one_source_config(tmp_path, "  stores: exports/store.xlsx")
    [p] = ingest.load(config.load_config(cfg)).problems
    assert "Did you mean 'stores.csv'?" in p["hint"] and "runs without it" not in p["hint"]
    assert ingest._near_file("stores.xlsx", ["orders.csv", "pilot_plan.csv"]) is None
    assert ingest._near_file("members.csv", ["member.csv", "numbers.csv"]) == "member.csv"


def test_header_row_and_text_labels_for_ratings(tmp_path):
    (tmp_path / "s.csv").write_text(
        "Survey export 2026\nid,store,day,score,nps\n1,S1,2024-01-01,满意,9\n"
        "2,S1,2024-01-02,非常满意,10\n3,S2,2024-01-03,一般,5\n",
        encoding="utf-8",
    )
    prepared = _load_one(
        tmp_path,
        "  survey: {path: s.csv, header_row: 2}",
        "columns: {survey: {response_id: id, store_id: store, date: day, satisfaction: score, "
        "recommend: nps}}\nvalues: {satisfaction: {5: [非常满意], 4: [满意], 3: [一般]}}\n",
    )
    assert prepared.ok, prepared.problems
    assert prepared.tables["survey"]["overall_satisfaction"].tolist() == [4, 5, 3]


def test_drivers_under_client_names_are_kept_in_range_on_import(tmp_path):
    # 02_data's cleaning rules know the standard driver names only; a driver under another name
    # has its out-of-range ratings set to missing on import, with a note (standard names: in 02)
    parking = [5, 9, 0] + [1, 2, 3, 4, 5] * 4
    staff = [6, 4, 3] + [1, 2, 3, 4, 5] * 4
    rows = [
        f"{i},2024-01-{i:02d},4,{p},{st}"
        for i, (p, st) in enumerate(zip(parking, staff, strict=True), 1)
    ]
    (tmp_path / "s.csv").write_text("id,day,score,parking,staff\n" + "\n".join(rows) + "\n")
    prepared = _load_one(
        tmp_path,
        "  survey: s.csv",
        "columns: {survey: {response_id: id, date: day, satisfaction: score, "
        "drivers: {parking: parking, staff_service: staff}}}\n",
    )
    assert prepared.ok, prepared.problems
    sv = prepared.tables["survey"]
    assert sv["parking"][[1, 2]].isna().all() and sv["parking"].notna().sum() == 21
    assert sv["staff_service"].tolist()[:3] == [6, 4, 3]  # standard name: left for 02_data
    notes = "\n".join(prepared.notes)
    assert "column parking: 2 rating(s) outside 1-5 set to missing." in notes


# --------------------------------------------------------------------------------------------
# duplicates, returns, cancelled orders: imported as they are, reported
# --------------------------------------------------------------------------------------------
def test_duplicates_orphans_and_cancelled_orders(loaded):
    by_rule = {(p["column"], p["rule"].split(" (")[0]): p for p in loaded.problems}
    dup = by_rule[("*", "exact duplicate rows")]
    assert (dup["severity"], dup["n_rows"], dup["rows"]) == ("warning", 1, [7])
    # A05 twice, the same row: an exact copy, not a key with differing contents
    assert ("OrderNo (transaction_id)", "key transaction_id is not unique") not in by_rule
    orphan = by_rule[("MemberID (customer_id)", "customer_id not found in customers")]
    assert orphan["rows"] == [15] and orphan["examples"] == ["<redacted>"]  # ids not shown
    assert loaded.ok  # warnings only: 02_data cleans them and reports each change
    assert "transactions: 1 cancelled order(s) dropped (Status (cancelled) = yes)." in loaded.notes
    assert "cancelled" not in loaded.tables["transactions"].columns


def test_generated_keys_when_the_export_has_none(tmp_path):
    (tmp_path / "c.csv").write_text("cust,day,ok\n1,2024-01-01,yes\n2,2024-01-02,no\n")
    prepared = _load_one(
        tmp_path,
        "  complaints: c.csv",
        "columns: {complaints: {customer_id: cust, date: day, resolved: ok, days_to_resolve: cust}}\n",
    )
    assert prepared.tables["complaints"]["complaint_id"].tolist() == [
        "complaints-2",
        "complaints-3",
    ]
    assert prepared.sources["complaints"]["columns"]["complaint_id"] == "generated from row numbers"


# --------------------------------------------------------------------------------------------
# personal data, writing, raw files untouched
# --------------------------------------------------------------------------------------------
def test_pseudonymized_the_same_way_in_every_source(loaded):
    members = pd.read_csv(FIXTURES / "members.csv", dtype=str)
    ingest.pseudonymize(loaded, KEY, "test key")
    cu, tx = loaded.tables["customers"], loaded.tables["transactions"]
    assert loaded.pseudonymized["customers"] == ["customer_id", "姓名", "手机", "邮箱"]
    assert cu["customer_id"].iloc[0] == privacy.pseudonym("1001", KEY)
    assert tx["customer_id"].iloc[0] == cu["customer_id"].iloc[0]  # joins still work
    assert cu["姓名"].iloc[0] == privacy.pseudonym("王小明", KEY)
    privacy.assert_no_pii(pd.concat(loaded.tables.values()), members[["姓名", "手机", "邮箱"]])


def test_contact_details_in_free_text_are_replaced_on_import(loaded):
    """A comment column (kept as text, not personal by its name) holding a phone number and an
    e-mail address: replaced on import and told in the notes; ids are codes, left alone."""
    cu = loaded.tables["customers"]
    cu["备注"] = ["请联系 13912345678", "ok", None, "mail wang@example.com"][: len(cu)] + [
        "ok"
    ] * max(0, len(cu) - 4)
    ingest.pseudonymize(loaded, KEY, "test key")
    cu = loaded.tables["customers"]
    shown = cu["备注"].head(4)
    assert shown.isna().tolist() == [False, False, True, False]
    assert shown.dropna().tolist() == ["请联系 [phone]", "ok", "mail [e-mail]"]
    assert "备注" not in loaded.pseudonymized["customers"]
    [note] = [n for n in loaded.notes if "备注" in n]
    assert note.startswith(
        "customers.备注: contact details in the text replaced (1 e-mail, 1 phone)"
    )


def test_prepare_needs_a_key_and_stops_on_errors(client, monkeypatch, tmp_path):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    cfg = config.load_config(client)
    with pytest.raises(ConfigError, match="no pseudonymization key"):
        ingest.prepare(cfg)
    broken = client.parent / "orders.csv"
    broken.write_text(broken.read_text(encoding="utf-8-sig").replace("2024011", "2024131"))
    monkeypatch.chdir(client.parent.parent)  # a consultant one folder above the project
    with pytest.raises(ingest.IngestError) as err:
        ingest.prepare(cfg, KEY)
    assert isinstance(err.value, DataError)
    text = str(err.value)
    assert "OrderDate" in text and "not a date in format %Y%m%d" in text and "ERROR" in text
    assert err.value.problems and not (tmp_path / "input").exists()
    # the command to check again works from where the user is
    shown = f"{client.parent.name}/{client.name}"
    assert text.rstrip().endswith(f"`crmlab validate --config {shown}`."), text[-200:]


def test_write_canonical_input_and_report(client, tmp_path):
    before = _sha(client.parent)
    for f in client.parent.iterdir():
        f.chmod(0o444)  # crmlab only reads the client's files
    prepared = ingest.prepare(config.load_config(client), KEY)
    out = ingest.write(prepared, tmp_path / "run" / "input")
    assert _sha(client.parent) == before
    assert sorted(p.name for p in out.iterdir()) == [
        "complaints.parquet",
        "customers.parquet",
        "ingest_report.json",
        "survey.parquet",
        "transactions.parquet",
    ]
    report = sources.ingest_report(out)
    assert report["case"] == "retail_satisfaction" and report["pseudonym_key"] == "given key"
    assert report["drivers"] == ["staff_service", "product_quality"]
    assert report["sources"]["transactions"]["rows_read"] == 14
    assert report["sources"]["transactions"]["rows_kept"] == 13
    assert any(
        "blank value(s) in a numeric column set to missing" in n for n in report["coercions"]
    )
    members = pd.read_csv(FIXTURES / "members.csv", dtype=str)
    privacy.assert_no_pii((out / "ingest_report.json"), members[["姓名", "手机", "邮箱"]])
    # the notebooks read the folder as a data_dir, and its cleaning rules apply
    tables = sources.load_sources("retail_satisfaction", out)
    assert set(tables) == {"customers", "transactions", "survey", "complaints"}
    clean, notes = quality.clean_tables(tables, sources.case_rules("retail_satisfaction", tables))
    assert len(clean["transactions"]) == 10  # minus the copy of A05, the orphan, blank amount
    assert sources.survey_drivers(out, clean["survey"]) == ["staff_service", "product_quality"]
    # dates as microsecond timestamps: Spark cannot read pandas' default nanoseconds
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = {
        f"{p.stem}.{f.name}": f.type.unit
        for p in out.glob("*.parquet")
        for f in pq.read_schema(p)
        if pa.types.is_timestamp(f.type)
    }
    assert stamps["transactions.date"] == "us" and stamps["customers.signup_date"] == "us"
    assert set(stamps.values()) == {"us"}
    orders = pd.read_parquet(out / "transactions.parquet")
    assert str(orders["date"].min().date()) == "2024-01-05"  # 20240105 in the export


def test_write_refuses_tables_that_are_not_pseudonymized(loaded, tmp_path):
    with pytest.raises(DataError, match="pseudonymize the tables first"):
        ingest.write(loaded, tmp_path / "input")


def test_features_list_keeps_only_named_columns(client):
    text = client.read_text(encoding="utf-8").replace("features: auto", "features: [手机]")
    client.write_text(text, encoding="utf-8")
    prepared = ingest.load(config.load_config(client))
    cu = prepared.tables["customers"]
    # 姓名 is kept because it is listed under pii: (it is pseudonymized, 02_data drops it)
    assert list(cu.columns) == [
        "customer_id", "signup_date", "region", "loyalty_member", "姓名", "手机",
    ]  # fmt: skip
    assert any("not listed under features: left out (邮箱)" in n for n in prepared.notes)


def test_other_columns_are_typed_automatically_and_reported(tmp_path):
    (tmp_path / "c.csv").write_text(
        "id,tier,spend,vip,since,email\n"
        '1,gold,"1,000",yes,2024-01-02,a@example.com\n'
        "2,silver,,no,2024/2/3,b@example.com\n",
        encoding="utf-8",
    )
    cfg = _one_source_config(tmp_path, "  customers: c.csv", "columns: {customer_id: id}\n")
    prepared = ingest.load(config.load_config(cfg))
    cu = prepared.tables["customers"]
    assert prepared.sources["customers"]["extra_columns"] == {
        "tier": "text",
        "spend": "number",
        "vip": "yes/no",
        "since": "date",
        "email": "personal data (pseudonymized)",
    }
    assert cu["spend"].tolist()[0] == 1000.0 and pd.isna(cu["spend"][1])
    assert cu["vip"].tolist() == [True, False]
    assert cu["since"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-02-03")]
    assert (
        "customers: extra column spend: 1 blank value(s) in a numeric column set to missing."
        in (prepared.notes)
    )
    ingest.pseudonymize(prepared, KEY)
    assert prepared.pseudonymized["customers"] == ["customer_id", "email"]
    assert prepared.tables["customers"]["email"][0] == privacy.pseudonym("a@example.com", KEY)


def test_an_extra_column_of_dates_in_mixed_formats_is_read_as_the_mapped_one_is(tmp_path):
    """开户日期 left unmapped under features: auto, written four ways with blanks and 'N/A':
    a date column, read exactly as the same column mapped to open_date (crmlab.ingest.
    parse_dates), not text with one value per customer. A few values that are no dates (1 of
    21) are set to missing with a note; many (3 of 21), a month or an age band stay text."""
    shapes = ["2025/3/{d}", "2025年3月{d}日", "2025-03-{d:02d}", "202503{d:02d}"]
    opened = [shapes[i % 4].format(d=i + 1) for i in range(20)] + ["", "N/A"]
    rows = [f"C{i:02d},{v},{i % 3 + 1}" for i, v in enumerate(opened)]
    (tmp_path / "c.csv").write_text(
        "客户编号,开户日期,产品数\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    cfg = _one_source_config(tmp_path, "  customers: c.csv", "columns: {customer_id: 客户编号}\n")
    prepared = ingest.load(config.load_config(cfg))
    assert prepared.sources["customers"]["extra_columns"]["开户日期"] == "date"
    auto = prepared.tables["customers"]["开户日期"]
    expected = [pd.Timestamp(2025, 3, d) for d in range(1, 21)] + [pd.NaT, pd.NaT]
    assert auto.tolist() == expected
    assert auto.equals(ingest.parse_dates(pd.Series(opened, dtype="object")).values)
    assert "customers: extra column 开户日期: 5 date(s) were written like 2024年5月1日." in (
        prepared.notes
    )
    # one value of 21 that is no date: still a date column, the value set to missing
    (tmp_path / "c.csv").write_text(
        "客户编号,开户日期\n" + "\n".join(f"C{i},{v}" for i, v in enumerate(opened[:20] + ["不详"]))
    )
    prepared = ingest.load(config.load_config(cfg))
    assert prepared.sources["customers"]["extra_columns"]["开户日期"] == "date"
    assert int(prepared.tables["customers"]["开户日期"].isna().sum()) == 1
    assert (
        "customers: extra column 开户日期: 1 value(s) that are not dates set to missing."
        in prepared.notes
    )
    # three of 21: text; so are months and bands, which a lenient reading takes for dates
    for values in (
        opened[:18] + ["不详", "未知", "?x"],
        [f"2025-{m:02d}" for m in range(1, 13)],
        ["18-24", "25-34", "35-44"],
    ):
        (tmp_path / "c.csv").write_text(
            "客户编号,开户日期\n" + "\n".join(f"C{i},{v}" for i, v in enumerate(values))
        )
        prepared = ingest.load(config.load_config(cfg))
        assert prepared.sources["customers"]["extra_columns"]["开户日期"] == "text", values


# --------------------------------------------------------------------------------------------
# the data fingerprint of a run's input# --------------------------------------------------------------------------------------------
# the data fingerprint of a run's input
# --------------------------------------------------------------------------------------------
def test_the_fingerprint_of_a_config_run_includes_the_files_a_query_reads(tmp_path):
    """The pilot read by a DuckDB query: its file (and files matched by a glob) are input files
    of the run, so a changed pilot plan changes the fingerprint."""
    from crmlab import runner

    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "stores.csv").write_text("store_id\nS1\nS2\n")
    (exports / "pilot_plan.csv").write_text(
        "store,arm,from,to\nS1,treatment,2024-01-01,2024-03-31\nS2,control,2024-01-01,2024-03-31\n"
    )
    (exports / "complaints_2025.csv").write_text("id,cust,day\nQ1,C1,2025-01-02\n")
    (exports / "complaints_2026.csv").write_text("id,cust,day\nQ2,C1,2026-01-02\n")
    cfg_path = _one_source_config(
        tmp_path,
        "  stores: exports/stores.csv\n"
        "  pilot:\n    query: >-\n"
        '      SELECT store AS store_id, arm AS "group", "from" AS start_date, "to" AS end_date\n'
        "      FROM 'exports/pilot_plan.csv' WHERE arm <> 'test'\n"
        "  complaints:\n    query: SELECT id AS complaint_id, cust AS customer_id, day AS date "
        "FROM read_csv('exports/complaints_*.csv')",
    )
    prepared = ingest.load(config.load_config(cfg_path))
    assert prepared.tables["pilot"]["group"].tolist() == ["treatment", "control"]
    before = runner._fingerprint_later(tmp_path, prepared).result()  # as a run records it
    assert [f["name"] for f in before["files"]] == [
        "exports/complaints_2025.csv",
        "exports/complaints_2026.csv",
        "exports/pilot_plan.csv",
        "exports/stores.csv",
    ]
    plan = exports / "pilot_plan.csv"
    plan.write_text(plan.read_text().replace("2024-03-31", "2024-04-30"))
    after = runner._fingerprint_later(tmp_path, prepared).result()
    assert after["sha256"] != before["sha256"]
    # named relative to the config's folder; quoted values and aliases name no file
    files = ingest.input_files(prepared.cfg)
    assert files["exports/pilot_plan.csv"] == exports / "pilot_plan.csv" and len(files) == 4


def test_the_fingerprint_of_a_synthetic_folder_leaves_out_the_planted_truth(tmp_path):
    """truth.json and truth_customers.csv are the generator's answers, which no case reads."""
    from crmlab import report

    data = tmp_path / "retail_satisfaction"
    data.mkdir()
    (data / "customers.csv").write_text("customer_id\nC1\n")
    (data / "truth.json").write_text('{"csat": 0.8}')
    (data / "truth_customers.csv").write_text("customer_id,planted\nC1,1\n")
    fp = report.data_fingerprint(data)
    assert [f["name"] for f in fp["files"]] == ["customers.csv"]
    # another truth changes nothing; another input does
    (data / "truth.json").write_text('{"csat": 0.7}')
    assert report.data_fingerprint(data)["sha256"] == fp["sha256"]
    (data / "customers.csv").write_text("customer_id\nC2\n")
    assert report.data_fingerprint(data)["sha256"] != fp["sha256"]
    # a client's folder without the generator's truth.json keeps every file
    (data / "truth.json").unlink()
    assert [f["name"] for f in report.data_fingerprint(data)["files"]] == [
        "customers.csv",
        "truth_customers.csv",
    ]


def test_an_extra_text_column_is_normalized_once(monkeypatch):
    """A free-text extra column: each value goes through the text normalization (NFKC, trim)
    once - not about six times as yes/no, number, date and text readers each redid it - plus
    the first 200 for the look at dates; the result is the text as before."""
    comments = pd.Series(
        [f"服务很好 ＯＫ {i}" if i % 7 else (" " if i % 2 else "N/A") for i in range(1000)],
        dtype="str",
    )
    seen = []
    text = ingest._text
    monkeypatch.setattr(ingest, "_text", lambda s, *a: seen.append(len(s)) or text(s, *a))
    notes = []
    values, kind = ingest._auto_type(comments, ".", "customers: extra column 备注", notes)
    assert kind == "text" and notes == []
    assert sum(seen) <= len(comments) + 200, seen
    assert values[1] == "服务很好 ＯＫ 1" and values[0] == "N/A" and pd.isna(values[7])


@pytest.mark.parametrize(
    "values, kind",
    [
        (["1,234.50"] * 300 + ["see note"], "text"),  # a word after the first 200 numbers
        (["1,234.50", "(3.00)", "12%", "", "n/a"] * 60, "number"),
    ],
)
def test_an_extra_column_is_a_number_column_only_when_every_value_is_a_number(values, kind):
    assert ingest._auto_type(pd.Series(values, dtype="str"), ".", "x", [])[1] == kind
