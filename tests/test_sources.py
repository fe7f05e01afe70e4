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


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_reading_only_customer_ids_keeps_the_same_customers_and_survey(tmp_path, fmt):
    # a messy customer list: an exact duplicate, a repeated id with other fields, a padded copy
    # of an id, a missing and a blank id, an unparseable date; survey answers of known, unknown
    # (orphan) and anonymous customers
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C2", "C3", " C3 ", None, "", "C4", "C4"],
            "name": ["A B", "C D", "C D", "E F", "E F", "G H", "I J", "K L", "K L"],
            "signup_date": ["2024-01-05", "2024-02-01", "2024-02-01", "bad", "2024-03-01"]
            + ["2024-04-01", "2024-05-01", "2024-06-01", "2024-06-01"],
            "loyalty_member": ["yes", "no", "no", "maybe", "yes", "no", "yes", "no", "no"],
        }
    )
    survey = pd.DataFrame(
        {
            "response_id": ["R1", "R2", "R3", "R4", "R5"],
            "customer_id": ["C1", "C9", None, "C4", "C3"],
            "date": ["2025-01-10", "2025-01-11", "2025-01-12", "2025-02-10", "2025-02-11"],
            "wave": [1, 1, 1, 2, 2],
            "overall_satisfaction": [5, 4, 3, 2, 5],
        }
    )
    for name, df in {"customers": customers, "survey": survey}.items():
        if fmt == "csv":
            df.to_csv(tmp_path / f"{name}.csv", index=False)
        else:
            df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    key = b"test-key"
    full, _ = sources.load_clean("retail_satisfaction", tmp_path, key)
    ids_only, _ = sources.load_clean(
        "retail_satisfaction", tmp_path, key, columns={"customers": ["customer_id"]}
    )
    assert list(ids_only["customers"].columns) == ["customer_id"]
    assert len(full["customers"]) == 4  # C1, C2, C3, C4: by hand
    assert (
        ids_only["customers"]["customer_id"].tolist() == full["customers"]["customer_id"].tolist()
    )
    pd.testing.assert_frame_equal(ids_only["survey"], full["survey"])
    assert len(full["survey"]) == 4  # the unknown customer's answer is dropped, anonymous kept


def test_pseudonym_key_keeps_ids_a_config_run_imported(tmp_path, monkeypatch):
    """The stages' key: the demo key (or $CRMLAB_PSEUDONYM_KEY) for a plain folder, and "keep
    the ids" for a config run's input folder, whose ids the import pseudonymized."""
    import json

    from crmlab import privacy

    monkeypatch.delenv(privacy.KEY_ENV_VAR, raising=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert sources.pseudonym_key(plain, 7) == privacy.demo_key(7)
    monkeypatch.setenv(privacy.KEY_ENV_VAR, "k" * 20)
    assert sources.pseudonym_key(plain, 7) == b"k" * 20
    imported = tmp_path / "input"
    imported.mkdir()
    report = {"pseudonymized": {"customers": ["customer_id", "name"], "survey": ["customer_id"]}}
    (imported / "ingest_report.json").write_text(json.dumps(report), encoding="utf-8")
    assert sources.pseudonym_key(imported, 7) is privacy.ALREADY_PSEUDONYMIZED
    # an import that pseudonymized personal columns only (no customer ids) keeps the key
    report = {"pseudonymized": {"customers": ["name"]}}
    (imported / "ingest_report.json").write_text(json.dumps(report), encoding="utf-8")
    assert sources.pseudonym_key(imported, 7) == b"k" * 20


def test_a_file_named_in_other_case_is_an_error_not_left_out(tmp_path):
    """`Transactions.CSV` is not `transactions.csv` on Linux: say so instead of running the case
    without its transactions."""
    from crmlab import runner

    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "Transactions.CSV").write_text("customer_id,date,amount\nC1,2026-01-02,5\n")
    assert sources.source_path(tmp_path, "customers") == tmp_path / "customers.csv"
    assert sources.source_path(tmp_path, "survey") is None  # absent: no error
    with pytest.raises(DataError, match="named 'Transactions.CSV'.*Rename it to transactions.csv"):
        sources.source_path(tmp_path, "transactions")
    [problem] = runner._misnamed_sources("retail_satisfaction", str(tmp_path))
    assert "Rename it to transactions.csv" in problem
    # the exact name wins over a look-alike beside it
    (tmp_path / "transactions.parquet").write_bytes(b"")
    assert sources.source_path(tmp_path, "transactions") == tmp_path / "transactions.parquet"


def test_a_file_without_a_required_column_stops_the_run_before_any_kernel(tmp_path):
    """A data folder whose transactions lack `amount`: the run stops at once, naming the file,
    the column and what it has (before, stage 2 failed half-way naming only the table)."""
    import pandas as pd

    from crmlab import runner
    from crmlab.errors import ParameterError

    (tmp_path / "customers.csv").write_text("customer_id,region\nC1,north\n")
    (tmp_path / "transactions.csv").write_text("customer_id,date,items\nC1,2026-01-02,3\n")
    pd.DataFrame({"customer_id": ["C1"], "date": ["2026-01-02"]}).to_parquet(
        tmp_path / "complaints.parquet"
    )
    problems = runner._missing_required_columns("retail_satisfaction", str(tmp_path))
    assert problems == [
        f"{tmp_path / 'transactions.csv'}: required column(s) ['amount'] missing (the file has: "
        "customer_id, date, items). Add them with these names, or map the export's own column "
        "names through a case config (`crmlab new`, docs/config.md)."
    ]  # customers and complaints (Parquet) have what they need; absent sources are no error
    with pytest.raises(
        ParameterError, match=r"transactions.csv: required column\(s\) \['amount'\]"
    ):
        runner.plan(["retail_satisfaction"], {"data_dir": str(tmp_path)})
