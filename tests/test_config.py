"""Case configs: loading, checking (every problem at once, with file, line and key), the
pseudonymization key, and the starter folder of `crmlab new`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from crmlab import config
from crmlab.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "byod"


def _write(tmp_path: Path, text: str, name: str = "client.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_fixture_config_is_read_completely():
    cfg = config.load_config(FIXTURES / "client.yaml")
    assert cfg.case == "retail_satisfaction" and cfg.title == "Fixture client"
    assert list(cfg.sources) == ["customers", "transactions", "survey", "complaints"]
    assert cfg.sources["customers"].path == (FIXTURES / "members.csv").resolve()
    assert cfg.sources["complaints"].decimal == ","
    assert cfg.global_columns["customer_id"].columns == ("会员编号",)
    sat = cfg.columns["survey"]["overall_satisfaction"]  # `satisfaction:` is the alias
    assert sat.columns == ("总体满意度", "再次满意度") and sat.averaged
    assert sat.scale == (1.0, 10.0) and sat.satisfied_at == 7
    assert cfg.columns["transactions"]["date"].format == "%Y%m%d"
    assert list(cfg.drivers) == ["staff_service", "product_quality"]
    # YAML reads `true:` as a bool key
    assert cfg.values_for("complaints", "resolved") == {True: ["oui"], False: ["non"]}
    assert cfg.pii == ["姓名"] and cfg.params == {"n_boot": 20}
    assert cfg.features_for("survey") == "auto"


def test_every_problem_is_reported_at_once_with_line_and_key(tmp_path):
    p = _write(
        tmp_path,
        "case: retail_satisfaction\n"  # line 1
        "data:\n"
        "  transactons: orders.csv\n"  # line 3: misspelt source
        "  survey: {path: s.xlsx, sheet: [1, 2]}\n"  # line 4: wrong type
        "columns:\n"
        "  transactions:\n"
        "    amout: Amount\n"  # line 7: misspelt column
        "  survey:\n"
        "    satisfaction: {column: Q1, scale: [1, 10]}\n"  # line 9: no satisfied_at
        "colums: {}\n"  # line 10: unknown top-level key
        "params: {data_dir: /x}\n",
    )
    with pytest.raises(ConfigError) as err:
        config.load_config(p)
    text = str(err.value)
    assert str(p) in text and "6 problem(s)" in text
    assert "client.yaml line 3, data.transactons: not a source" in text
    assert "Did you mean 'transactions'?" in text
    assert "line 4, data.survey.sheet: expected a sheet name or number" in text
    assert "line 7, columns.transactions.amout: not a column of transactions" in text
    assert "Did you mean 'amount'?" in text
    assert "columns.survey.satisfaction.satisfied_at: on a 1-10 scale say which rating" in text
    assert "line 10, colums: unknown key. Did you mean 'columns'?" in text
    assert "line 11, params.data_dir: is set by the runner" in text


def test_runner_parameters_cannot_be_set_in_a_config(tmp_path):
    p = _write(tmp_path, "case: retail_satisfaction\ndata: {survey: s.csv}\nparams: {run_dir: x}\n")
    with pytest.raises(ConfigError, match=r"params.run_dir: is set by the runner"):
        config.load_config(p)


def test_params_are_checked_with_the_rest_of_the_config_with_lines(tmp_path):
    """Unknown names, wrong types and values outside their choices under ``params:`` are config
    problems (file, line, key), listed with the others; one hint names `crmlab params`."""
    p = _write(
        tmp_path,
        "case: retail_satisfaction\n"  # line 1
        "data:\n"
        "  survey: s.csv\n"
        "columns:\n"
        "  transactions:\n"
        "    amout: Amount\n"  # line 6: misspelt column
        "params:\n"
        "  targt: 0.95\n"  # line 8: unknown parameter
        "  alpha: 0.1\n"  # line 9: fine
        "  deadline_months: six\n"  # line 10: not an int
        "  engine: spork\n",  # line 11: not one of its choices
    )
    with pytest.raises(ConfigError) as err:
        config.load_config(p)
    text = str(err.value)
    assert "4 problem(s) in the config" in text
    assert "client.yaml line 6, columns.transactions.amout: not a column of transactions" in text
    assert (
        "client.yaml line 8, params.targt: unknown parameter 'targt' (did you mean 'target'?)."
        in text
    )
    assert (
        "client.yaml line 10, params.deadline_months: deadline_months='six' is not a valid int."
        in text
    )
    assert (
        "client.yaml line 11, params.engine: engine='spork' is not one of duckdb, spark, pandas."
        in text
    )
    assert "alpha" not in text
    # the valid parameters: one line naming the command, not the whole list per problem
    assert text.count("`crmlab params retail_satisfaction` lists the valid parameters") == 1
    assert "Valid parameters:" not in text and "deadline_months: int" not in text


def test_a_valid_params_block_loads_clean(tmp_path):
    p = _write(
        tmp_path,
        "case: retail_satisfaction\ndata: {survey: s.csv}\n"
        "params: {target: 0.92, deadline_months: 4, engine: pandas, n_boot: '50'}\n",
    )
    cfg = config.load_config(p)
    assert cfg.params == {"target": 0.92, "deadline_months": 4, "engine": "pandas", "n_boot": "50"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping"),
        ("case: [\n", "not valid YAML"),
        ("case: nope\ndata: {}\n", "has no input schema; known cases: retail_satisfaction"),
        ("data: {survey: s.csv}\n", "case: name the case to run"),
        ("case: finance_churn\n", "data: say where the client's files are"),
        (
            "case: finance_churn\ndata: {customers: {path: c.csv, query: 'SELECT 1'}}\n",
            "give exactly one of path: (a file) or query:",
        ),
        ("case: finance_churn\ndata: {customers: c.doc}\n", "unsupported file type"),
        (
            "case: finance_churn\ndata: {customers: {path: c.csv, encoding: klingon}}\n",
            "unknown encoding",
        ),
        (
            "case: finance_churn\ndata: {customers: {path: c.csv, header_row: 0}}\n",
            "header_row: expected a row number",
        ),
        (
            "case: retail_satisfaction\ndata: {survey: s.csv}\n"
            "columns: {survey: {satisfaction: {column: Q, scale: [1, 10], satisfied_at: 11}}}\n",
            "11 is not inside the scale [1.0, 10.0]",
        ),
        (
            "case: retail_satisfaction\ndata: {survey: s.csv}\n"
            "columns: {survey: {recommend: {column: Q, satisfied_at: 7}}}\n",
            "only applies to satisfaction",
        ),
        (
            "case: retail_satisfaction\ndata: {survey: s.csv}\ncolumns: {survey: {drivers: [a, b]}}\n",
            "columns.survey.drivers: expected a mapping driver_name",
        ),
        (
            "case: retail_satisfaction\ndata: {survey: s.csv}\nfeatures: 3\n",
            "expected auto, none, or a list",
        ),
        (
            "case: retail_satisfaction\ndata: {survey: s.csv}\nvalues: {resolved: [yes]}\n",
            "expected {canonical value",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, message):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load_config(p)
    assert message in str(err.value)


def test_wrong_config_path_suggests_a_near_name(tmp_path):
    _write(tmp_path, "case: finance_churn\n", "client.yaml")
    with pytest.raises(ConfigError, match=r"not found.*Did you mean 'client.yaml'\?"):
        config.load_config(tmp_path / "cliant.yaml")


def test_data_folder_form_finds_the_canonical_files(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "survey.csv").write_text("date\n2024-01-01\n")
    (tmp_path / "in" / "stores.parquet").write_bytes(b"")
    cfg = config.load_config(_write(tmp_path, "case: retail_satisfaction\ndata: in\n"))
    assert list(cfg.sources) == ["survey", "stores"]
    assert cfg.sources["survey"].display == "in/survey.csv"


def test_global_and_per_source_columns_and_drivers_with_a_shared_scale(tmp_path):
    p = _write(
        tmp_path,
        "case: retail_satisfaction\ndata: {survey: s.csv}\n"
        "columns:\n  satisfaction: Q1\n  date: 日期\n"
        "  drivers: {scale: [1, 10], speed: Q5, staff_service: {column: [Q3, Q4], scale: [0, 4]}}\n",
    )
    cfg = config.load_config(p)
    assert cfg.global_columns["overall_satisfaction"].columns == ("Q1",)
    assert cfg.global_columns["date"].columns == ("日期",)
    assert cfg.drivers["speed"].scale == (1.0, 10.0)  # the drivers' shared scale
    assert cfg.drivers["staff_service"].scale == (0.0, 4.0)  # its own scale wins
    assert "scale" not in cfg.drivers


# --------------------------------------------------------------------------------------------
# the key
# --------------------------------------------------------------------------------------------
def test_key_from_environment_first(tmp_path, monkeypatch):
    cfg = config.load_config(_write(tmp_path, "case: finance_churn\ndata: {pilot: p.csv}\n"))
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "k" * 20)
    assert config.pseudonym_key(cfg) == (b"k" * 20, "environment variable $CRMLAB_PSEUDONYM_KEY")
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "short")
    with pytest.raises(ConfigError, match="only 5 characters"):
        config.pseudonym_key(cfg)


def test_missing_key_is_a_clear_error_for_client_data(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    cfg = config.load_config(_write(tmp_path, "case: finance_churn\ndata: {pilot: p.csv}\n"))
    with pytest.raises(ConfigError, match=r"no pseudonymization key for client data.*key_file"):
        config.pseudonym_key(cfg)
    cfg = config.load_config(
        _write(tmp_path, "case: finance_churn\ndata: {pilot: p.csv}\nkey_file: secret.key\n")
    )
    with pytest.raises(ConfigError, match="secret.key not found"):
        config.pseudonym_key(cfg)
    (tmp_path / "secret.key").write_text("too short\n")
    with pytest.raises(ConfigError, match="holds 9 characters"):
        config.pseudonym_key(cfg)
    (tmp_path / "secret.key").write_text("a-long-enough-project-secret\n")
    assert config.pseudonym_key(cfg) == (b"a-long-enough-project-secret", "key file secret.key")
    # the same key in the environment is fine; a different one is an error, not a silent choice
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "a-long-enough-project-secret")
    assert config.pseudonym_key(cfg)[0] == b"a-long-enough-project-secret"
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "another-long-enough-secret")
    with pytest.raises(ConfigError, match="hold different keys.*unset"):
        config.pseudonym_key(cfg)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_key_file_in_a_git_work_tree_must_be_ignored(tmp_path, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    repo = tmp_path / "repo"  # a throw-away repository, not the project's
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "secret.key").write_text("x" * 32)
    cfg = config.load_config(
        _write(repo, "case: finance_churn\ndata: {pilot: p.csv}\nkey_file: secret.key\n")
    )
    with pytest.raises(ConfigError, match="not git-ignored"):
        config.pseudonym_key(cfg)
    (repo / ".gitignore").write_text("secret.key\n")
    assert config.pseudonym_key(cfg)[0] == b"x" * 32


# --------------------------------------------------------------------------------------------
# crmlab new
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["retail_satisfaction", "finance_churn"])
def test_starter_folder_is_a_loadable_config(tmp_path, case, monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    folder = config.write_starter("acme", case, tmp_path)
    assert folder == tmp_path / "acme"
    assert (folder / "exports").is_dir()
    assert "secret.key" in (folder / ".gitignore").read_text()
    key = folder / "secret.key"
    assert len(key.read_text().strip()) == 64 and oct(key.stat().st_mode)[-3:] == "600"
    cfg = config.load_config(folder / "config.yaml")
    assert cfg.case == case and cfg.title == "acme"
    assert set(cfg.sources) == set(config.case_schema(case))
    # the required columns are active, mapped to themselves; the optional ones commented out
    spec = config.case_schema(case)["customers"]
    required = {f.name for f in spec.fields if f.required}
    assert set(cfg.columns["customers"]) == required
    raw = yaml.safe_load((folder / "config.yaml").read_text())
    assert raw["key_file"] == "secret.key" and raw["features"] == "auto"
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        config.write_starter("acme", case, tmp_path)


def test_starter_folder_uses_the_environment_key_when_one_is_set(tmp_path, monkeypatch):
    """A consultant who keeps $CRMLAB_PSEUDONYM_KEY set gets no secret.key (a second key beside
    it would stop every run with 'hold different keys'): the environment key is the key."""
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "k" * 32)
    folder = config.write_starter("acme", "retail_satisfaction", tmp_path)
    assert not (folder / "secret.key").exists()
    text = (folder / "config.yaml").read_text()
    assert "# key_file: secret.key  # $CRMLAB_PSEUDONYM_KEY is set" in text
    cfg = config.load_config(folder / "config.yaml")
    assert cfg.key_file is None
    assert config.pseudonym_key(cfg)[0] == b"k" * 32


def test_client_name_is_read_and_checked(tmp_path):
    from crmlab.config import load_config
    from crmlab.errors import ConfigError

    base = "case: retail_satisfaction\ndata:\n  customers: c.csv\n"
    (tmp_path / "c.csv").write_text("customer_id\nC1\n")
    good = tmp_path / "good.yaml"
    good.write_text(base + "title: Review\nclient: ACME Retail Ltd.\n", encoding="utf-8")
    cfg = load_config(good)
    assert (cfg.title, cfg.client) == ("Review", "ACME Retail Ltd.")
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "client: [a, b]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="client: expected text"):
        load_config(bad)
