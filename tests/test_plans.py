"""Plans: months are calendar arithmetic, projections are linear ramps, every segment is kept."""

from __future__ import annotations

import pytest

from crmlab import plans
from crmlab.errors import ParameterError


def test_add_months_crosses_years():
    assert plans.add_months("2026-10", 3) == "2027-01"
    assert plans.add_months("2026-01", 0) == "2026-01"


def test_segment_action_plan_keeps_unknown_segments_and_sorts_by_start():
    plan = plans.segment_action_plan(
        {"loyal": 10, "at_risk": 5, "mystery": 1}, plans.RETAIL_PLAYBOOK, "2026-10"
    )
    assert list(plan["segment"]) == ["at_risk", "mystery", "loyal"]
    row = plan.set_index("segment").loc["loyal"]
    assert row["start"] == "2026-11" and row["customers"] == 10
    assert plan.set_index("segment").loc["mystery", "action"] == "No specific action"


def test_implementation_plan_milestones():
    plan = plans.implementation_plan("2026-10", 6, ["staff_service"], ["S1", "S2"], kpi="CSAT")
    assert plan["month"].iloc[0] == "2026-10" and plan["month"].iloc[-1] == "2027-04"
    assert "staff service" in plan["milestone"].iloc[1]
    assert "(2)" in plan["milestone"].iloc[2]
    with pytest.raises(ParameterError):
        plans.implementation_plan("2026-10", 2, [], [], kpi="CSAT")


def test_projected_path_is_a_linear_ramp():
    path = plans.projected_path(0.80, 0.06, "2026-10", 6, ramp_months=3)
    assert list(path["projected"].round(6)) == [0.80, 0.82, 0.84, 0.86, 0.86, 0.86, 0.86]
    assert path["month"].iloc[-1] == "2027-04"


def test_plan_texts_in_english_are_unchanged():
    plan = plans.implementation_plan("2026-10", 6, ["staff_service", "price_value"], ["S1"], "CSAT")
    assert list(plan["milestone"]) == [
        "Kick-off; owners named; baseline frozen",
        "Training material on staff service, price value",
        "Train staff in pilot units (1)",
        "Monthly survey wave sized for the goal",
        "Roll-out wave 1: half of the remaining units",
        "Roll-out wave 2: all units; refresher training",
        "Evaluation against the goal; next cycle",
    ]
    assert list(plan["check"]) == [
        "CSAT baseline",
        "course, workshop, cases",
        "attendance 100%",
        "answers per wave",
        "CSAT on path",
        "CSAT on path",
        "CSAT target",
    ]
    assert list(plan["month"]) == [
        "2026-10",
        "2026-10",
        "2026-11",
        "2026-11",
        "2027-01",
        "2027-02",
        "2027-04",
    ]
    assert plan["owner"].iloc[0] == "Programme lead"
    empty = plans.implementation_plan("2026-10", 6, [], [], "CSAT")
    assert empty["milestone"].iloc[1] == "Training material on the key drivers"
    loop = plans.feedback_loop(195, ["staff_service"], "monthly")
    assert loop["what"].iloc[1] == "Driver ratings: staff service"
    assert list(loop["how_often"]) == ["monthly", "monthly", "after closure", "quarterly"] + [
        "quarterly"
    ]
    assert list(loop["answers_needed"].iloc[:2]) == [195, 195]
    assert loop["answers_needed"].iloc[2:].isna().all()


def test_plans_have_a_chinese_variant():
    plan = plans.implementation_plan(
        "2026-10", 6, ["staff_service", "price_value"], ["S1", "S2"], "CSAT", lang="zh"
    )
    assert plan["milestone"].iloc[1] == "编写培训材料：员工服务、性价比"
    assert plan["milestone"].iloc[2] == "培训试点单位员工（2 个）"
    assert plan["check"].iloc[0] == "满意度（CSAT）基线"
    assert plan["owner"].iloc[0] == "项目负责人"
    assert list(plan["month"]) == list(
        plans.implementation_plan("2026-10", 6, ["x"], ["S1", "S2"], "CSAT")["month"]
    )
    loop = plans.feedback_loop(195, ["staff_service", "checkout_speed"], lang="zh")
    assert loop["what"].iloc[1] == "驱动因素评分：员工服务、结账速度"
    assert list(loop["how_often"]) == ["每月", "每月", "结案后", "每季度", "每季度"]
    with pytest.raises(ParameterError):
        plans.feedback_loop(10, [], lang="fr")


@pytest.mark.parametrize("focus", [["staff_service", "product_quality"], []])
def test_an_english_plan_table_reads_back_into_its_chinese_variant(focus):
    """The Chinese report translates the notebook's English plan cell by cell: it must give the
    same text as the plan written in Chinese at the source."""
    from crmlab import i18n

    args = ("2026-10", 6, focus, ["S1", "S2", "S3"], "CSAT")
    for en, zh, text in [
        (
            plans.implementation_plan(*args),
            plans.implementation_plan(*args, lang="zh"),
            ["milestone", "owner", "check"],
        ),
        (
            plans.feedback_loop(195, focus),
            plans.feedback_loop(195, focus, lang="zh"),
            ["what", "who", "how_often"],
        ),
    ]:
        for col in text:
            assert [i18n.translate(v) for v in en[col]] == list(zh[col]), col
            assert all(i18n.has_cjk(v) for v in zh[col]), col
