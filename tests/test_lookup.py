"""`crmlab lookup`: pseudonyms back to the client's customer numbers and contacts.

The expected pseudonyms are computed here from the definition (HMAC-SHA256 of the member number
with the key, ``crmlab.privacy.pseudonym``), the expected contacts read from the fixture export.
"""

from __future__ import annotations

import json
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
