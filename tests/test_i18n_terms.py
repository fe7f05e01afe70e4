"""The term table of the Chinese deliverables (crmlab.i18n.TERMS_ZH): one entry per term, and
the lookups for pandas-shortened cells, lists of terms and patterns with a translated part."""

from __future__ import annotations

import ast
import inspect
import re
from collections import Counter

import pandas as pd
import pytest

from crmlab import i18n, modeling, quality, targeting


def test_each_term_has_one_entry():
    """A repeated key in the dict literal would silently drop the first translation."""
    tree = ast.parse(inspect.getsource(i18n))
    [table] = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "TERMS_ZH"
    ]
    keys = Counter(i18n._term_key(k.value) for k in table.keys)
    assert len(keys) > 400
    assert [k for k, n in keys.items() if n > 1] == []


def test_finance_features_and_kpis_have_chinese_labels():
    assert i18n.translate("products_held") == "持有产品数"
    assert i18n.translate("Salary-deposit share") == "工资代发客户占比"
    assert i18n.translate("churn_rate_12m") == "12 个月流失率"
    assert i18n.translate("10+ years") == "10 年以上"
    assert i18n.translate("products_held", "en") == "products_held"


def test_a_cell_cut_short_by_pandas_is_found_by_its_start():
    cut = "relationship-manager call with a personalised ..."  # pandas: 47 characters + "..."
    assert i18n.translate(cut) == "客户经理致电并提供个性化挽留优惠"
    assert i18n.translate("Fix root causes: complaint follow-up within 3 ...").startswith("Fix")
    assert i18n.translate("service ...") == "service ..."  # too short to be sure


def test_a_list_of_terms_becomes_a_chinese_list():
    assert i18n.translate("segment_affluent, segment_private") == "富裕客群、私人银行客群"
    cut = "region_beijing, region_hubei, region_shanghai,..."
    assert i18n.translate(cut) == "地区：北京、地区：湖北、地区：上海等"
    assert i18n.translate("products_held, something else") == "products_held, something else"


def test_a_pattern_can_translate_its_captured_term():
    assert i18n.translate("3 levels; reference level: mass") == "3 个水平；参照水平：大众客群"
    assert i18n.translate("6 levels; reference level: Guangdong") == "6 个水平；参照水平：广东"


# the texts the library writes from templates (crmlab.i18n.TEMPLATES_ZH, crmlab.plans.TEXTS):
# generated here by the library's own functions, so a changed English sentence shows up
LATIN_OK = {"AUC"}
"""Latin words a Chinese text may keep (a proper noun of the method)."""


def _english_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_OK


def _all_chinese(table, columns) -> list[str]:
    """The cells of ``columns`` whose translation still holds an English word."""
    left = []
    for col in columns:
        for value in table[col]:
            shown = i18n.translate(str(value))
            if _english_words(shown) or not i18n.has_cjk(shown):
                left.append(f"{col}: {value!r} -> {shown!r}")
    return left


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model_auc": 0.663, "cost_per_saved_customer": 3588.4},
        {"model_auc": None, "cost_per_saved_customer": float("nan"), "holdout_share": 0.2},
    ],
)
def test_the_monitoring_plan_reads_chinese(kwargs):
    plan = targeting.monitoring_plan(0.2058, **kwargs)
    assert _all_chinese(plan, ["metric", "definition", "frequency", "owner", "act_when"]) == []
    rules = [i18n.translate(v) for v in plan["act_when"]]
    assert rules[0] == "连续两个月高于目标路径（截止时目标为 20.6%）"
    if kwargs["model_auc"]:
        assert rules[4] == "AUC 低于 0.61（测试集 AUC 0.66 - 0.05）：重新拟合模型"
        assert rules[6] == "每挽留一名客户的成本超过 3,588 元（试点的成本）：重新评估优惠方案"
        assert plan["act_when"].iloc[6].startswith("above CNY 3,588 per saved customer")
    else:
        assert i18n.translate(plan["definition"].iloc[3]) == (
            "已联系客户的流失率对比清单中随机留出、不予联系的 20% 客户的流失率"
        )
    assert i18n.translate(plan["definition"].iloc[0]) == (
        "过去 12 个月的销户数 / 12 个月前的在网账户数"
    )


def test_a_flag_extracts_monitoring_plan_has_no_bank_words_and_reads_chinese():
    plan = targeting.monitoring_plan(0.2, model_auc=0.7, cost_per_saved_customer=100.0, flag=True)
    text = " ".join(plan.astype(str).to_numpy().ravel())
    for bank in ("accounts", "closure", "balance", "relationship-manager", "12-month"):
        assert bank not in text.lower(), bank
    assert _all_chinese(plan, ["metric", "definition", "frequency", "owner", "act_when"]) == []
    dated = targeting.monitoring_plan(0.2, model_auc=0.7, cost_per_saved_customer=100.0)
    assert list(dated["metric"])[2:5] == list(plan["metric"])[2:5]  # the campaign rows agree
    assert "closures in the last 12 months" in dated["definition"].iloc[0]


@pytest.mark.parametrize("focus", [["balance_change", "salary_deposit", "products_held"], []])
def test_the_retention_plan_reads_chinese(focus):
    plan = targeting.retention_plan("2026-10", 12, focus, 1501)
    assert _all_chinese(plan, ["milestone", "owner", "check"]) == []
    milestones = [i18n.translate(v) for v in plan["milestone"]]
    assert milestones[3] == "第一批：联系行动清单上的 1,501 名客户；随机留出 10% 不联系，作为对照组"
    reasons = "余额变化、工资代发、持有产品数" if focus else "主要流失驱动因素"
    assert milestones[1] == f"培训材料：客户为何离开（{reasons}）；优惠规则；通话脚本"


def test_the_design_notes_of_the_feature_typing_read_chinese():
    df = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "open_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01"]),
            "opened": ["2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01"],
            "skip_me": [1, 2, 3, 4],
            "constant": [1, 1, 1, 1],
            "age": [30.0, None, 50.0, 41.0],
            "flag": [True, False, True, True],
            "yes_no": ["yes", "no", None, "yes"],
            "answered": ["yes", "no", None, "yes"],
            "as_text": ["1", "2", "3", "4"],
            "city": ["x", "y", "z", "w"],
            "segment": ["m", "m", "a", "p"],
        }
    )
    design = modeling.auto_features(df, exclude=["skip_me"], max_categories=3)
    notes = dict(zip(design.report["column"], design.report["note"], strict=True))
    assert _all_chinese(design.report, ["kind", "note"]) == []
    assert i18n.translate(notes["skip_me"]) == "已排除：本案例不将其作为模型输入"
    assert i18n.translate(notes["flag"]) == "是 = 1，否 = 0"
    assert i18n.translate(notes["answered"]).startswith("是/否文本：是 = 1，否 = 0")
    # a category's features are its levels but the reference one, as a reader knows them
    features = dict(zip(design.report["column"], design.report["features"], strict=True))
    assert features["segment"] == "a, p" and features["age"] == "age"
    assert i18n.translate(notes["age"]) == "数值；1 个缺失值以中位数 41 填补"
    assert i18n.translate(notes["city"]) == "已排除：有 4 个不同的文本值（超过 3 个）"
    assert i18n.translate(notes["segment"]) == "3 个水平；参照水平：m"


def test_the_cleaning_notes_read_chinese():
    tx = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c9", "c2", "c3"],
            "amount": [10.0, 10.0, 5.0, -3.0, None],
            "overall_satisfaction": [3, 3, 9, 2, 1],
        }
    )
    notes = []
    tx, n = quality.drop_exact_duplicates(tx, "transactions")
    notes += n
    tx, n = quality.set_out_of_range_to_missing(
        tx, {"overall_satisfaction": (1, 5)}, "transactions"
    )
    notes += n
    tx, n = quality.drop_missing(tx, ["amount"], "transactions")
    notes += n
    tx, n = quality.drop_orphans(tx, "customer_id", ["c1", "c2"], "transactions", "customers")
    notes += n
    assert len(notes) == 4, notes
    shown = [i18n.translate(n) for n in notes]
    assert [n for n in shown if _english_words(n)] == []
    assert shown[0] == "交易表：删除 1 行完全重复的记录（保留第一条）。"
    assert shown[1] == "交易表：总体满意度中 1 个超出允许范围（1 至 5）的值设为缺失。"
    assert shown[2] == "交易表：删除 1 行缺少金额的记录。"
    assert shown[3] == (
        "交易表：删除 1 行客户编号（假名）不在客户表中的记录（涉及 1 个不同的未知编号）。"
    )


def test_the_realism_message_reads_chinese():
    message = (
        "needs +1.7 pts/month for 6 months; history's best 6-month run (2024-11 to 2025-05) "
        "gained 1.0 pts/month: ambitious, needs intervention"
    )
    assert i18n.translate(message) == (
        "需要每月 +1.7 个百分点、持续 6 个月；历史上最好的连续 6 个月（2024-11 至 2025-05）"
        "每月提升 1.0 个百分点：目标偏高，需要干预措施"
    )


def test_a_money_header_keeps_its_currency():
    assert i18n.translate("Net value (CNY)") == "净价值（元）"
    assert i18n.translate("Cost (GBP)") == "成本（GBP）"
    assert i18n.translate("Something else (CNY)") == "Something else (CNY)"
    # money on the KPI scorecard reads as the report's other amounts do
    assert i18n.translate("CNY 326.63") == "326.63 元"
    assert i18n.translate("HKD 1,326.63") == "1,326.63 港元"
    assert i18n.translate("GBP 3.50") == "3.50 GBP"


def test_a_template_field_never_swallows_another_part_of_a_note():
    assert i18n.translate("number; 3 missing filled with the median 2") == (
        "数值；3 个缺失值以中位数 2 填补"
    )
    assert i18n.translate("number; something unknown") == "number; something unknown"


def test_a_clients_dummy_column_with_a_chinese_level_reads_chinese():
    """A client's region levels are Chinese: the model's dummy columns region_江苏 (or region
    江苏 once underscores are spaces) read 地区：江苏, also inside a list of signals and the
    training milestone that names them (found by a new-user trial)."""
    assert i18n.translate("region_江苏") == "地区：江苏"
    assert i18n.translate("region 江苏") == "地区：江苏"
    assert i18n.translate("Region_江苏") == "地区：江苏"
    assert i18n.translate("products_held_江苏") == "持有产品数：江苏"
    assert i18n.translate("products held, salary deposit, region 江苏") == (
        "持有产品数、工资代发、地区：江苏"
    )
    assert (
        i18n.translate(
            "Training material: why customers leave (products held, region 江苏); offer rules; "
            "call scripts"
        )
        == "培训材料：客户为何离开（持有产品数、地区：江苏）；优惠规则；通话脚本"
    )
    # an unknown column, or a level that is no Chinese word, stays as it is
    assert i18n.translate("foo_江苏") == "foo_江苏"
    assert i18n.translate("segment_private_banking") == "segment_private_banking"


def test_a_dummy_of_a_clients_own_chinese_column_reads_column_and_level():
    """A telecom's own column 合约类型 with the level 两年: its dummy 合约类型_两年 (or 合约类型
    两年 in a table, underscores shown as spaces) reads 合约类型：两年 as 地区：江苏 does - in a
    cell, a list of signals, the training milestone and a note (found by a consultant)."""
    assert i18n.translate("合约类型_两年") == "合约类型：两年"
    assert i18n.translate("合约类型 两年") == "合约类型：两年"
    assert i18n.translate("合约_类型_两年") == "合约_类型：两年"  # the level after the last _
    assert (
        i18n.translate("合约类型 两年, 月费, 合约类型 一年")
        == "合约类型：两年、月费、合约类型：一年"
    )
    assert (
        i18n.translate(
            "Training material: why customers leave (合约类型 两年, 月费, 合约类型 一年); offer "
            "rules; call scripts"
        )
        == "培训材料：客户为何离开（合约类型：两年、月费、合约类型：一年）；优惠规则；通话脚本"
    )
    assert i18n.note("Strongest signals: 合约类型_两年, 合约类型_一年, 月费.") == (
        "最强的信号：合约类型：两年、合约类型：一年、月费。"
    )
    # a Chinese text that is no dummy stays as it is
    for text in ("不满 1 年", "近 6 个月投诉", "RFM 细分", "月费", "5-10 年"):
        assert i18n.translate(text) == text


def test_the_retail_sources_columns_and_the_flag_basis_read_chinese():
    from crmlab import schemas

    for spec in schemas.CASE_SCHEMAS["retail_satisfaction"].values():
        for f in spec.fields:
            assert i18n.has_cjk(i18n.translate(f.name)), f.name
    assert i18n.translate("21 missing value(s) in signup date.") == "注册日期有 21 个缺失值。"
    assert i18n.translate("churn within 12 months (period stated in the config)") == (
        "12 个月内流失（期间由配置说明）"
    )
    assert (
        i18n.translate(
            "share of the customers in the extract flagged as churned (no period stated)"
        )
        == "提取数据中标记为已流失的客户占比（未说明期间）"
    )
