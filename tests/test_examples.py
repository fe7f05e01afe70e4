"""The worked examples (`crmlab new NAME --from CASE --example`): a config and synthetic exports
of the shape it maps. Importing the exports must give back the synthetic data they were written
from - value for value, after every coercion (dates, money text, yes/no words, labels, scales).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab import cli, config, ingest
from crmlab.errors import ConfigError
from crmlab.synth import client_exports
from crmlab.synthetic import generate

SIZES = {
    "retail_satisfaction": {"n_customers": 400, "n_stores": 8, "responses_per_wave": 60},
    "finance_churn": {"n_customers": 400},
    "flag": {"n_customers": 500},
}


def _example(tmp_path, example: str):
    """The example's folder (config + exports) and the canonical synthetic data behind it."""
    folder = tmp_path / example
    client_exports.write_example_exports(example, folder / "exports", seed=3, **SIZES[example])
    (folder / "config.yaml").write_text(client_exports.example_config(example), encoding="utf-8")
    case = client_exports.EXAMPLES[example][0]
    canonical = tmp_path / "canonical"
    if example != "flag":
        generate(case, canonical, seed=3, **SIZES[example])
    return ingest.load(config.load_config(folder / "config.yaml")), canonical


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _same(a: pd.Series, b: pd.Series) -> None:
    """Equal values in the same order (indexes and dtypes aside: the import keeps file rows)."""
    if pd.api.types.is_datetime64_any_dtype(a):  # the same instants, whatever the unit
        a, b = a.astype("datetime64[ns]"), b.astype("datetime64[ns]")
    pd.testing.assert_series_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_names=False, check_dtype=False
    )


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace("", None), errors="coerce")


def test_retail_example_imports_back_to_the_synthetic_data(tmp_path):
    loaded, canonical = _example(tmp_path, "retail_satisfaction")
    assert loaded.ok, loaded.errors
    info = loaded.sources
    assert info["customers"]["encoding"] == "gbk (from the config)"
    assert info["transactions"]["encoding"] == "UTF-8 with byte-order mark (detected)"
    # the cancelled orders are dropped, every other row is kept
    assert info["transactions"]["rows_read"] - info["transactions"]["rows_kept"] == 25
    tx, raw_tx = loaded.tables["transactions"], _csv(canonical / "transactions.csv")
    assert tx["transaction_id"].tolist() == raw_tx["transaction_id"].tolist()
    # "¥1,234.50" and "(12.00)" back to the amounts, 20240501 back to the dates
    np.testing.assert_allclose(tx["amount"], _num(raw_tx["amount"]), equal_nan=True)
    assert (_num(raw_tx["amount"]) < 0).sum() > 0  # returns, written in brackets, come back < 0
    dates = pd.to_datetime(raw_tx["date"].replace("", None), errors="coerce")
    _same(tx["date"], dates)
    # 是/会员 and 否/非会员 back to yes/no
    cu, raw_cu = loaded.tables["customers"], _csv(canonical / "customers.csv")
    assert (cu["loyalty_member"].astype(bool) == (raw_cu["loyalty_member"] == "yes")).all()
    # two 1-10 questions, averaged and mapped, give the 1-5 rating back (out of scale: removed)
    sv, raw_sv = loaded.tables["survey"], _csv(canonical / "survey.csv")
    sat = _num(raw_sv["overall_satisfaction"])
    expected = sat.where(sat.between(1, 5))
    np.testing.assert_array_equal(sv["overall_satisfaction"].to_numpy(float), expected.to_numpy())
    np.testing.assert_array_equal(
        sv["staff_service"],
        _num(raw_sv["staff_service"]).where(_num(raw_sv["staff_service"]).between(1, 5)),
    )
    # complaints below a title line, dates day first: 05/01/2026 is 5 January
    cp, raw_cp = loaded.tables["complaints"], _csv(canonical / "complaints.csv")
    _same(cp["date"], pd.to_datetime(raw_cp["date"]))
    assert (
        (
            cp["resolved"].astype("boolean")
            == raw_cp["resolved"].map({"yes": True, "no": False}).astype("boolean")
        )
        .fillna(True)
        .all()
    )
    # the pilot through the SQL query, with the arm labels mapped
    assert (
        loaded.tables["pilot"]["group"].tolist() == _csv(canonical / "pilot.csv")["group"].tolist()
    )


def test_finance_example_imports_back_to_the_synthetic_data(tmp_path):
    loaded, canonical = _example(tmp_path, "finance_churn")
    assert loaded.ok, loaded.errors
    cu, raw = loaded.tables["customers"], _csv(canonical / "customers.csv")
    assert cu["segment"].tolist() == raw["segment"].tolist()  # 普通 and 大众客户 are both mass
    assert (cu["salary_deposit"].astype(bool) == (raw["salary_deposit"] == "yes")).all()
    closed = pd.to_datetime(raw["closure_date"].replace("", None))
    _same(cu["closure_date"], closed)
    sn, raw_sn = loaded.tables["snapshots"], _csv(canonical / "snapshots.csv")
    np.testing.assert_allclose(sn["balance"], _num(raw_sn["balance"]), equal_nan=True)
    assert sn["month"].astype(str).str[:7].tolist() == raw_sn["month"].tolist()
    pilot = loaded.tables["pilot"]
    offer = pd.to_datetime(_csv(canonical / "pilot.csv")["offer_date"])
    _same(pilot["offer_date"], offer)


def test_flag_example_imports_back_to_the_planted_flags(tmp_path):
    from crmlab.synth.finance_flag import telco_flag_table

    loaded, _ = _example(tmp_path, "flag")
    assert loaded.ok, loaded.errors
    table, truth = telco_flag_table(SIZES["flag"]["n_customers"], seed=3)
    churned = loaded.tables["customers"]["churned"].astype(bool)
    assert int(churned.sum()) == truth["n_churned"]
    assert loaded.tables["customers"]["tenure_months"].tolist() == table["在网月数"].tolist()


def test_new_with_example_writes_a_ready_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    code = cli.main(
        ["new", "telco", "--from", "finance_churn", "--example", "flag", "--dir", str(tmp_path)]
    )
    assert code == 0 and "then: crmlab run --config" in capsys.readouterr().out
    folder = tmp_path / "telco"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".gitignore",
        "config.yaml",
        "exports",
        "secret.key",
    ]
    cfg = config.load_config(folder / "config.yaml")
    assert cfg.case == "finance_churn" and cfg.key_file == folder / "secret.key"
    assert config.pseudonym_key(cfg)[1] == "key file secret.key"
    assert [p.name for p in (folder / "exports").iterdir()] == ["customers.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left
    # an unknown variant names the ones there are, and writes nothing
    assert (
        cli.main(
            [
                "new",
                "x",
                "--from",
                "retail_satisfaction",
                "--example",
                "flag",
                "--dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "use --example." in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_every_example_has_a_config_for_its_case():
    for example, (case, _) in client_exports.EXAMPLES.items():
        text = client_exports.example_config(example)
        assert f"case: {case}" in text and "\nkey_file: secret.key" in text
        assert "\n# key_file: secret.key" in client_exports.example_config(example, key_file=False)
    with pytest.raises(ConfigError, match="use --example or"):
        client_exports.example_for("finance_churn", "telco")
