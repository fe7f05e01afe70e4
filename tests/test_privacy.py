"""Pseudonymization, PII detection and the leak check."""

from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np
import pandas as pd
import pytest

from crmlab.errors import ParameterError
from crmlab.privacy import (
    PiiLeakError,
    assert_no_pii,
    demo_key,
    detect_pii_columns,
    key_from_env,
    pseudonym,
    pseudonymize,
)

KEY = b"a-test-key-that-is-not-secret"


def raw_customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [1001, 1002, 1003],
            "name": ["Ann Lee", "王伟", "Carl Diaz"],
            "email": ["ann.lee@example.com", "wangwei@example.cn", "carl@example.org"],
            "phone": ["(555) 234-5678", "+86 138 1234 5678", "(555) 987-6543"],
            "region": ["north", "east", "south"],
        }
    )


def test_pseudonym_is_the_keyed_hash():
    expected = "P-" + hmac.new(KEY, b"1001", hashlib.sha256).hexdigest()[:12]
    assert pseudonym(1001, KEY) == expected
    # 1001, 1001.0 and " 1001 " are the same id
    assert pseudonym(1001.0, KEY) == pseudonym(" 1001 ", KEY) == expected
    assert re.fullmatch(r"P-[0-9a-f]{12}", expected)
    assert pseudonym(1001, KEY, prefix="C-", length=10) == "C-" + expected[2:12]
    assert len(pseudonym(1001, KEY, length=16)) == 18


def test_pseudonymize_is_stable_across_tables_and_removes_pii():
    customers = raw_customers()
    tx = pd.DataFrame({"transaction_id": ["T1", "T2", "T3"], "customer_id": [1003, 1001, 1001],
                       "amount": [5.0, 6.0, 7.0]})  # fmt: skip
    # survey ids become floats when some are blank
    survey = pd.DataFrame({"customer_id": [1002.0, np.nan], "overall_satisfaction": [4, 5]})
    pc = pseudonymize(customers, "customer_id", ["name", "email", "phone"], KEY)
    pt = pseudonymize(tx, ["customer_id"], [], KEY)
    ps = pseudonymize(survey, "customer_id", [], KEY)
    assert list(pc.columns) == ["customer_id", "region"]
    assert pt["customer_id"].tolist() == [pc.loc[2, "customer_id"], pc.loc[0, "customer_id"],
                                          pc.loc[0, "customer_id"]]  # fmt: skip
    assert ps.loc[0, "customer_id"] == pc.loc[1, "customer_id"]
    assert pd.isna(ps.loc[1, "customer_id"])  # a blank id stays blank
    joined = pt.merge(pc, on="customer_id", how="left", validate="many_to_one")
    assert joined["region"].tolist() == ["south", "north", "north"]
    # inputs are untouched; outputs hold no personal value and no original id
    assert customers["customer_id"].tolist() == [1001, 1002, 1003]
    assert_no_pii(pc, customers[["name", "email", "phone"]])
    assert not pc["customer_id"].isin(["1001", "1002", "1003"]).any()


def test_another_key_gives_other_pseudonyms():
    a = pseudonymize(raw_customers(), "customer_id", key=KEY)
    b = pseudonymize(raw_customers(), "customer_id", key=b"another-key-entirely")
    assert not set(a["customer_id"]) & set(b["customer_id"])
    assert pseudonymize(raw_customers(), "customer_id", key=KEY).equals(a)  # deterministic
    assert demo_key(42) == demo_key(42) != demo_key(43)


def test_default_drops_detected_pii_columns():
    out = pseudonymize(raw_customers(), "customer_id", key=KEY)
    assert list(out.columns) == ["customer_id", "region"]


def test_bad_keys_and_columns():
    with pytest.raises(ParameterError, match="non-empty"):
        pseudonymize(raw_customers(), "customer_id", key=b"")
    with pytest.raises(ValueError, match="not found"):
        pseudonymize(raw_customers(), "client_no", key=KEY)


def test_key_from_env(monkeypatch):
    monkeypatch.delenv("CRMLAB_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ParameterError, match="CRMLAB_PSEUDONYM_KEY"):
        key_from_env()
    assert key_from_env(fallback_seed=7) == demo_key(7)
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "short")
    with pytest.raises(ParameterError, match="16 characters"):
        key_from_env()
    monkeypatch.setenv("CRMLAB_PSEUDONYM_KEY", "x" * 32)
    assert key_from_env() == b"x" * 32


def test_detect_pii_by_content_under_misleading_names():
    df = pd.DataFrame(
        {
            "notes": ["ann@example.com", "bo@example.org", "x.y+z@example.cn", "n/a"],
            "ref": ["(555) 234-5678", "(555) 987-6543", "555.123.4567", "+1 555 222 3333"],
            "code": ["11010519491231002X", "440524188001010014", "110101199003074477", None],
            "contact": ["+86 138 1234 5678", "13912345678", "+8615012345678", "136 0000 1111"],
            "mobile_int": [13812345678, 13987654321, 15012345678, 18800001111],
            # not personal data:
            "amount": ["1234567.25", "99.5", "10000000", "5"],
            "when": ["2024-03-01 10:00:00", "2024-03-02 11:30:00", "2024-03-03", "2024-03-04"],
            "store_name": ["Downtown", "Mall", "Airport", "Station"],
            "transaction_id": ["T000000001", "T000000002", "T000000003", "T000000004"],
            "rfm_cell": ["555", "431", "111", "245"],
            "big_id": [20240301000001, 20240301000002, 20240301000003, 20240301000004],
        }
    )
    found = detect_pii_columns(df)
    assert list(found) == ["notes", "ref", "code", "contact", "mobile_int"]
    assert "e-mail" in found["notes"] and "phone" in found["ref"]
    assert "national id" in found["code"] and found["notes"].startswith("content")


def test_detect_pii_by_column_name_english_and_chinese():
    cols = ["姓名", "电话", "手机号", "邮箱", "身份证号", "家庭住址", "客户姓名", "门店", "金额",
            "first_name", "Email Address", "phone_number", "national_id", "date_of_birth",
            "store_name", "segment_name", "region"]  # fmt: skip
    df = pd.DataFrame({c: ["x"] for c in cols})
    found = detect_pii_columns(df)
    assert list(found) == cols[:7] + cols[9:14]
    assert found["身份证号"] == "name: national id" and found["邮箱"] == "name: e-mail"


def test_account_holders_and_staff_are_people_too():
    """A bank's 户名 (account holder), the 客户经理 serving the customer and their English
    equivalents are names; store and segment names are not (found by a new-user trial)."""
    cols = ["户名", "账户户名", "账户名称", "持卡人", "客户经理", "理财经理", "微信号", "柜员",
            "account_manager", "relationship_manager_name", "employee_name",
            "门店名称", "store_name", "manager_level", "advisor", "首选联系方式",
            "是否绑定微信", "柜员机交易次数"]  # fmt: skip
    found = detect_pii_columns(pd.DataFrame({c: ["x"] for c in cols}))
    assert list(found) == cols[:11]
    assert found["户名"] == "name: person name" and found["客户经理"] == "name: staff name"
    assert found["微信号"] == "name: messenger id"


def test_a_staff_column_is_personal_unless_it_holds_yes_no_flags():
    """Named like a staff member: people's names or codes are personal, also when most
    customers have none (无, blank); yes/no flags are not - and then the content decides, so
    phone numbers under a staff name are still found (found by a code review)."""
    n = 10
    flags = pd.DataFrame(
        {
            "relationship_manager": ["yes", "no", "yes", "no", "yes"] * 2,
            "专属客户经理": ["是", "否", "否", "是", "否"] * 2,
            "account_manager": [True, False] * 5,
            "sales_rep": ["yes", "", "", "yes", ""] * 2,  # blanks: no rep
            "advisor_name": ["√", "×"] * 5,
        }
    )
    assert detect_pii_columns(flags) == {}
    people = pd.DataFrame(
        {
            "客户经理": ["张伟", "无", "李娜", "无", "无", "无", "张伟", "无", "-", ""],
            "relationship_manager": ["Li Na", "none", "", "", "", "", "", "", "Wang Wei", ""],
            "account_manager": [100231, 100232] * 5,  # staff codes
            "sales_rep": ["13912345678"] * n,
        }
    )
    found = detect_pii_columns(people)
    assert list(found) == list(people.columns)
    assert {r for r in found.values()} == {"name: staff name"}


def test_contact_details_inside_free_text_are_replaced():
    from crmlab.privacy import redact_contacts

    text = pd.Series(
        [
            "联系我 13912345678",
            "call +86 139-1234-5678 or mail li.na@example.cn",
            "身份证 11010519491231002X 办卡",
            "店员张三态度差",  # a name in text: no pattern tells it
            None,
            "订单 20240101123456 金额 138.50, 2024-03-01",  # numbers that are no phones
            "ring +44 20 7946 0958",
            "tel 010-62345678",  # a Beijing landline
            "微信：zhangwei_88",
            "张伟@qq.com 请回复",
            "price +15 20 30",  # no valid number
            "卡号 4111 1111 1111 1111",  # passes the Luhn test
            "单号 4111 1111 1111 1112",  # does not
        ],
        dtype="object",
    )
    out, counts = redact_contacts(text)
    assert out.tolist()[:4] == [
        "联系我 [phone]",
        "call [phone] or mail [e-mail]",
        "身份证 [id] 办卡",
        "店员张三态度差",
    ]
    assert out.isna().tolist()[4] and out.iloc[5] == text.iloc[5]
    assert out.tolist()[6:] == [
        "ring [phone]",
        "tel [phone]",
        "[messenger]",
        "[e-mail] 请回复",
        "price +15 20 30",
        "卡号 [card]",
        "单号 4111 1111 1111 1112",
    ]
    assert counts == {
        "e-mail": 2,
        "id number": 1,
        "messenger id": 1,
        "card number": 1,
        "phone": 4,
    }
    assert redact_contacts(pd.Series(["ok"], dtype="object"))[1] == {}


def test_assert_no_pii():
    known = raw_customers()[["name", "email", "phone"]]
    assert_no_pii("segment counts: champions 12, at_risk 3", known)
    with pytest.raises(PiiLeakError) as err:
        assert_no_pii(pd.DataFrame({"who": ["Customer ANN LEE bought"]}), known)
    assert "name" in str(err.value) and "Ann" not in str(err.value)  # never repeats the value
    with pytest.raises(PiiLeakError, match="email"):
        assert_no_pii("contact: wangwei@example.cn", known)
    with pytest.raises(PiiLeakError, match="name"):
        assert_no_pii("王伟的订单", known)  # two-character Chinese names are checked
    with pytest.raises(PiiLeakError):
        assert_no_pii(pd.Series(["(555) 987-6543"]), {"phone": known["phone"]})


def test_collisions_are_detected_not_silent():
    # 20,000 ids on 6 hex characters (24 bits): about 12 colliding pairs are expected
    ids = pd.DataFrame({"customer_id": np.arange(20_000)})
    with pytest.raises(ValueError, match="same pseudonym"):
        pseudonymize(ids, "customer_id", [], KEY, length=6)
    assert pseudonymize(ids, "customer_id", [], KEY)["customer_id"].is_unique


def test_assert_no_pii_matches_whole_tokens_only():
    from crmlab.privacy import PiiLeakError, assert_no_pii

    assert_no_pii("the lifecycle stage of P-3f9a", {"name": ["He Li"]})
    assert_no_pii("order 1380013800099", {"phone": ["13800138000"]})
    with pytest.raises(PiiLeakError):
        assert_no_pii("customer He Li bought", {"name": ["He Li"]})
    with pytest.raises(PiiLeakError):
        assert_no_pii("客户王小明的订单", {"name": ["王小明"]})
    with pytest.raises(PiiLeakError):
        assert_no_pii("mail: ann@example.com.", {"email": ["ann@example.com"]})


def test_already_pseudonymized_ids_are_kept_and_pii_still_dropped():
    """A config run's input folder holds pseudonyms already: pseudonymizing them again would give
    ids the client cannot recompute from its customer numbers (HMAC of an HMAC)."""
    from crmlab.privacy import ALREADY_PSEUDONYMIZED

    imported = raw_customers()
    imported["customer_id"] = [pseudonym(i, KEY) for i in (1001, 1002, 1003)]
    imported.loc[2, "customer_id"] = "  "  # blank: missing, as for any id
    out = pseudonymize(imported, ["customer_id"], None, ALREADY_PSEUDONYMIZED)
    assert list(out.columns) == ["customer_id", "region"]  # name, e-mail, phone dropped
    assert out["customer_id"].tolist()[:2] == [pseudonym(1001, KEY), pseudonym(1002, KEY)]
    assert out["customer_id"].isna().tolist() == [False, False, True]
    assert str(out["customer_id"].dtype) == str(
        pseudonymize(raw_customers(), "customer_id", [], KEY)["customer_id"].dtype
    )
    assert pseudonym(" P-0a1b2c3d4e5f ", ALREADY_PSEUDONYMIZED) == "P-0a1b2c3d4e5f"
