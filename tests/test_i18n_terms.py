"""The term table of the Chinese deliverables (crmlab.i18n.TERMS_ZH): one entry per term, and
the lookups for pandas-shortened cells, lists of terms and patterns with a translated part."""

from __future__ import annotations

import ast
import inspect
from collections import Counter

from crmlab import i18n


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
