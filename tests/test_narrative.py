"""Reader tables (crmlab.narrative.present / describe) and the KPI scorecard view
(crmlab.metrics.scorecard_view): what a reader sees, checked cell by cell."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from crmlab import i18n, metrics
from crmlab.narrative import MISSING, describe, label, loaded, present, value_label


def _rows(table) -> list[list[str]]:
    return table.cells.to_numpy().tolist()


def test_present_labels_formats_and_keeps_whole_text():
    note = "A quality note that is much longer than the fifty characters pandas shows. " * 2
    df = pd.DataFrame(
        {
            "segment": ["at_risk", "loyal_customers"],
            "n_at_risk": [2616, 15],
            "churn_rate": [0.25731, 0.0],  # a share by name (SHARES)
            "ci_low": [0.2412, np.nan],
            "p_value": [0.00004, 0.2049],
            "ph_ok": [True, False],
            "note": [note, None],
        }
    )
    t = present(df, percent=["ci_low"])
    assert list(t.cells.columns) == [
        "Segment",
        "Open at start",
        "Churn rate",
        "CI low",
        "p-value",
        "Proportional hazards hold",
        "Note",
    ]
    assert _rows(t) == [
        ["at risk", "2,616", "25.7%", "24.1%", "< 0.001", "yes", note],
        ["loyal customers", "15", "0.0%", MISSING, "0.205", "no", MISSING],
    ]
    # a RangeIndex is not shown; numbers right-aligned, text left-aligned
    assert t.numeric == [False, True, True, True, True, False, False]
    html = t._repr_html_()
    assert "&lt; 0.001" in html and "< 0.001" not in html  # escaped
    assert note.strip() in html and "..." not in html
    assert not re.search(r"<th[^>]*>\s*0\s*</th>", html)  # no row numbers
    assert "td.col1 {\n  text-align: right;\n  white-space: nowrap;" in html
    assert "td.col0 {\n  text-align: left;\n}" in html
    assert html == present(df, percent=["ci_low"])._repr_html_()  # same table, same page
    assert "25.7%" in repr(t) and "Open at start" in repr(t)


def test_present_decimals_follow_digits_and_whole_numbers_lose_them():
    df = pd.DataFrame({"odds_ratio": [1.98712, 0.0344], "answers_needed": [385.0, np.nan]})
    assert _rows(present(df, digits=3)) == [["1.987", "385"], ["0.034", MISSING]]
    assert _rows(present(df)) == [["1.99", "385"], ["0.03", MISSING]]
    money = pd.DataFrame({"value": [17498661.924]})
    assert _rows(present(money)) == [["17,498,661.92"]]
    assert _rows(present(money, digits=0)) == [["17,498,662"]]


def test_present_shows_a_meaningful_index_only():
    by_driver = pd.DataFrame({"coef": [0.2361]}, index=pd.Index(["staff_service"], name="driver"))
    assert list(present(by_driver).cells.columns) == ["Driver", "Coefficient"]
    assert _rows(present(by_driver)) == [["staff service", "0.24"]]
    leftover = pd.DataFrame({"rate": [0.5, 0.25]}, index=[19, 4])  # after tail() / sort
    assert list(present(leftover).cells.columns) == ["Rate"]
    counts = pd.Series([3828, 966], index=pd.Index(["mass", "affluent"], name="segment"))
    t = present(counts.rename("n_customers"))
    assert _rows(t) == [["mass", "3,828"], ["affluent", "966"]]
    assert list(t.cells.columns) == ["Segment", "Customers"]
    assert list(present(leftover, index=True).cells.columns) == ["", "Rate"]


def test_present_dates_labels_and_errors():
    df = pd.DataFrame(
        {"last_date": pd.to_datetime(["2026-10-31", None]), "rate": [0.8, 0.9]},
    )
    t = present(df, percent=["rate"], labels={"rate": "CSAT"})
    assert list(t.cells.columns) == ["Last date", "CSAT"]
    assert (
        t.dates == [True, False]
        and "td.col0 {\n  text-align: left;\n  white-space: nowrap;" in t._repr_html_()
    )
    assert _rows(t) == [["2026-10-31", "80.0%"], [MISSING, "90.0%"]]
    tiny = present(pd.DataFrame({"share": [0.0004, 0.0, 0.0005, -0.0001]}))
    assert _rows(tiny) == [["< 0.1%"], ["0.0%"], ["0.1%"], ["> -0.1%"]]
    assert tiny.numeric == [True]
    with pytest.raises(KeyError, match="rat"):
        present(df, percent=["rat"])
    assert label("mean_value") == "Mean value" and label("n_rows") == "Rows"


def test_describe_by_definition():
    df = pd.DataFrame(
        {"x": [1.0, 2.0, 6.0, np.nan], "n": [1, 2, 3, 4], "flag": [True, False, True, True]}
    )
    df = df.rename(columns={"n": "n_transactions"})
    d = describe(df)
    assert list(d.index) == ["x", "n_transactions"]  # the yes/no flag is not a number
    assert d.loc["x"].tolist() == [3, 3.0, 1.0, 2.0, 6.0]  # with a value, mean, min, median, max
    assert d.loc["n_transactions"].tolist() == [4, 2.5, 1.0, 2.5, 4.0]
    assert _rows(present(d)) == [
        ["X", "3", "3.00", "1", "2.00", "6"],  # whole-number columns without decimals
        ["Transactions", "4", "2.50", "1", "2.50", "4"],  # row names read as labels
    ]
    assert describe(pd.DataFrame({"t": ["a"]})).empty


def test_scorecard_view_shows_each_kpi_in_its_unit():
    kpis = pd.DataFrame(
        {
            "kpi": ["CSAT", "NPS", "Days to resolve"],
            "actual": [0.8, 35.25, 4.411],
            "target": [0.9, 45.0, 3.0],
            "higher_is_better": [True, True, False],
        }
    )
    board = metrics.kpi_scorecard(kpis)
    board["unit"] = ["share", "score", "days"]
    view = metrics.scorecard_view(board)
    assert view[["kpi", "actual", "target"]].to_numpy().tolist() == [
        ["CSAT", "80.0%", "90.0%"],
        ["NPS", "35.2", "45.0"],
        ["Days to resolve", "4.4", "3.0"],
    ]
    # attainment: actual / target, or target / actual where lower is better
    assert view["attainment"].tolist() == pytest.approx([0.8 / 0.9, 35.25 / 45.0, 3.0 / 4.411])
    assert view["met"].tolist() == [False, False, False]
    board["format"] = ["{:.2%}", None, None]  # an explicit format wins over the unit
    assert metrics.scorecard_view(board)["actual"].tolist() == ["80.00%", "35.2", "4.4"]
    shown = present(view)
    assert _rows(shown)[0] == ["CSAT", "80.0%", "90.0%", "88.9%", "no"]
    assert shown.numeric == [False, True, True, True, False]


def test_loaded_names_each_table_with_its_size():
    assert loaded({"customers": (5000, 14), "pilot": (802, 3)}) == (
        "Loaded: customers (5,000 rows, 14 columns); pilot (802 rows, 3 columns)."
    )
    assert loaded({}) == "No source tables were found."


def test_identifier_values_read_as_words():
    from crmlab.narrative import value_label

    assert value_label("at_risk") == "at risk" and value_label("cant_lose") == "can't lose"
    assert value_label("Retail (CNY)") == "Retail (CNY)" and value_label("A") == "A"
    table = present(pd.DataFrame({"segment": ["cant_lose", "at_risk"], "n": [1, 2]}))
    assert _rows(table) == [["can't lose", "1"], ["at risk", "2"]]


def test_money_shows_with_its_currency(monkeypatch):
    """Spend per customer on the scorecard and the amounts of the retail tables (net spend,
    revenue, mean value) name the run's currency; their decimals stay; other columns do not."""
    from crmlab import narrative

    monkeypatch.setattr(narrative, "_currency", "CNY")
    kpis = pd.DataFrame(
        {
            "kpi": ["Spend per customer", "CSAT"],
            "actual": [326.634, 0.8],
            "target": [366.8151, 0.9],
            "higher_is_better": [True, True],
        }
    )
    board = metrics.kpi_scorecard(kpis)
    board["unit"] = ["currency", "share"]
    view = metrics.scorecard_view(board)
    assert view[["actual", "target"]].to_numpy().tolist() == [
        ["CNY 326.63", "CNY 366.82"],
        ["80.0%", "90.0%"],
    ]
    table = pd.DataFrame(
        {
            "net_spend": [1234.5, 20.25],
            "revenue": [10.5, 2.0],
            "mean_value": [3.25, 1.5],
            "customers": [3, 4],
        }
    )
    narrative.set_currency("HKD")
    shown = present(table)
    assert list(shown.cells.columns) == [
        "Net spend (HKD)",
        "Revenue (HKD)",
        "Mean value (HKD)",
        "Customers",
    ]
    assert _rows(shown)[0] == ["1,234.50", "10.50", "3.25", "3"]
    assert metrics.scorecard_view(board)["actual"].tolist()[0] == "HKD 326.63"
    assert present(view).numeric == [False, True, True, True, False]  # "CNY 326.63" too


def test_money_rows_of_a_table_of_columns_name_the_currency(monkeypatch):
    """describe() of the customer features lists columns as rows: a money column's row says
    its currency ("Monetary (CNY)"), a count's does not."""
    from crmlab import narrative

    monkeypatch.setattr(narrative, "_currency", "HKD")
    df = pd.DataFrame({"monetary": [10.5, 20.0], "n_transactions": [1, 2], "balance": [5.0, 7.5]})
    shown = present(describe(df))
    assert [row[0] for row in _rows(shown)] == ["Monetary (HKD)", "Transactions", "Balance (HKD)"]


def test_the_cox_models_rolling_covariates_read_in_words():
    """'fee_rise_6m' read "fee rise 6m" in the tables and the summary; it is a fee rise in the
    month or the five before (crmlab.engine.finance_case.ROLLING)."""
    from crmlab import report
    from crmlab.engine.finance_case import ROLLING

    for column, (months, _) in ROLLING.items():
        name = f"{column}_{months}m"
        shown = value_label(name)
        assert shown == f"{column.replace('_', ' ')} (last {months} months)"
        assert report._reader_text(name, "en") == shown
        assert i18n.translate(shown) == i18n.translate(name) and i18n.has_cjk(i18n.translate(shown))
