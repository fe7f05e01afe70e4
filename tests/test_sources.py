"""Loading a case's files: absent sources are skipped, bad files name themselves, personal
columns are dropped and ids pseudonymized the same way in every table."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlab import sources
from crmlab.errors import DataError


def test_load_sources_skips_absent_and_reports_empty(tmp_path):
    pd.DataFrame({"customer_id": ["01", "02"], "x": [1, 2]}).to_csv(
        tmp_path / "customers.csv", index=False
    )
    tables = sources.load_sources("retail_satisfaction", tmp_path)
    assert list(tables) == ["customers"]
    assert tables["customers"]["customer_id"].tolist() == ["01", "02"]  # ids stay text
    (tmp_path / "survey.csv").write_text("")
    with pytest.raises(DataError, match="survey.csv: the file is empty"):
        sources.load_sources("retail_satisfaction", tmp_path)


def test_missing_folder_and_no_sources(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        sources.load_sources("retail_satisfaction", tmp_path / "nope")
    with pytest.raises(DataError, match="none of the retail_satisfaction sources"):
        sources.load_sources("retail_satisfaction", tmp_path)


def test_pseudonymize_tables_joins_and_drops_pii():
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "name": ["Ann Lee", "王小明"],
            "email": ["ann@example.com", "wxm@example.cn"],
            "region": ["N", "S"],
        }
    )
    tx = pd.DataFrame({"customer_id": ["C2", "C1", "C2"], "amount": [1.0, 2.0, 3.0]})
    out, dropped = sources.pseudonymize_tables(
        {"customers": customers, "transactions": tx}, "k" * 16
    )
    assert dropped == {"customers": ["name", "email"]}
    assert set(out["customers"].columns) == {"customer_id", "region"}
    assert out["transactions"]["customer_id"].iloc[0] == out["customers"]["customer_id"].iloc[1]
    assert out["customers"]["customer_id"].str.startswith("P-").all()
    assert customers["customer_id"].tolist() == ["C1", "C2"]  # input untouched


def test_customers_from_transactions_keeps_first_seen_order():
    tx = pd.DataFrame({"customer_id": ["b", "a", "b", None]})
    assert sources.customers_from_transactions(tx)["customer_id"].tolist() == ["b", "a"]
