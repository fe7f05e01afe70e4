"""Plans: months are calendar arithmetic, projections are linear ramps, every segment is kept."""

from __future__ import annotations

import pandas as pd
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


def test_due_dates_count_the_days_of_the_wording_into_the_actions_month():
    """One rule for both cases: days into the month the plan gives the action, never past its
    end; no days in the wording: the month's last day."""
    assert plans.days_in_wording("Personal win-back call or voucher within 2 weeks") == 14
    assert plans.days_in_wording("complaint follow-up within 3 days") == 3
    assert plans.days_in_wording("call within a week") == 7
    assert plans.days_in_wording("Welcome offer for a first purchase") is None
    d = pd.Timestamp
    assert plans.due_date("2026-10", 0, 14) == d("2026-10-15").date()
    assert plans.due_date("2026-10", 1, 7) == d("2026-11-08").date()
    assert plans.due_date("2026-10", 1, 30) == d("2026-11-30").date()  # not 12-01
    assert plans.due_date("2026-12", 2) == d("2027-02-28").date()
    assert plans.due_date(d("2026-10-01"), 0, 0) == d("2026-10-01").date()
    with pytest.raises(ParameterError, match="2027-01"):
        plans.due_date("next month", 0, 3)


def test_no_finance_customer_is_contacted_before_the_callers_are_trained():
    """The retention plan trains the callers in its first month and calls wave 1 the month
    after: the finance playbooks start no customer contact in the first month, and the at-risk
    retention offer starts with wave 1 (found by a consultant: due 10-31 while wave 1 was in
    2026-11)."""
    from crmlab import targeting

    plan = targeting.retention_plan("2026-10", 12, [], 501)
    [wave] = plan.loc[plan["milestone"].str.startswith("Wave 1"), "month"]
    for book in (plans.FINANCE_PLAYBOOK, plans.CHURN_FLAG_PLAYBOOK):
        by_stage = plans.segment_action_plan(
            {s: 1 for s in book}, book, "2026-10", contacts={}
        ).set_index("segment")["start"]
        assert by_stage["at_risk"] == wave == "2026-11"
        assert by_stage.min() == "2026-11"


def test_implementation_plan_milestones():
    plan = plans.implementation_plan("2026-10", 6, ["staff_service"], ["S1", "S2"], kpi="CSAT")
    assert plan["month"].iloc[0] == "2026-10" and plan["month"].iloc[-1] == "2027-04"
    assert "staff service" in plan["milestone"].iloc[1]
    assert "(2)" in plan["milestone"].iloc[2]
    with pytest.raises(ParameterError):
        plans.implementation_plan("2026-10", 2, [], [], kpi="CSAT")


def test_a_plan_after_the_pilot_does_not_train_the_pilot_units_again():
    """Stage 5 plans the roll-out after the pilot of stage 4: the pilot units' staff were
    trained for it, so they keep the practice and coach the roll-out (in both languages)."""
    before = plans.implementation_plan("2026-10", 6, ["staff_service"], ["S1", "S2"], "CSAT")
    after = plans.implementation_plan(
        "2026-10", 6, ["staff_service"], ["S1", "S2"], "CSAT", pilot_done=True
    )
    changed = before.compare(after)
    assert list(changed.index) == [2]  # the one milestone, same month and owner
    assert after.loc[2, "milestone"] == (
        "Pilot units (2) keep the practice; their staff coach the roll-out"
    )
    assert after.loc[2, "check"] == "CSAT of the pilot units holds"
    assert not after["milestone"].str.contains("Train staff").any()
    zh = plans.implementation_plan(
        "2026-10", 6, ["staff_service"], ["S1", "S2"], "CSAT", lang="zh", pilot_done=True
    )
    assert zh.loc[2, "milestone"] == "试点单位（2 个）保持新做法；其员工辅导推广"
    from crmlab import i18n

    assert i18n.translate(after.loc[2, "milestone"], "zh") == zh.loc[2, "milestone"]
    assert i18n.translate(after.loc[2, "check"], "zh") == zh.loc[2, "check"]


def test_a_plan_without_pilot_units_chooses_them_rather_than_training_none():
    """No pilot table: the plan does not train "pilot units (0)" (a trial's Chinese report
    read 培训试点单位员工（0 个）); it chooses them first."""
    plan = plans.implementation_plan("2026-10", 6, [], [], "CSAT")
    assert plan.loc[2, "milestone"] == "Choose pilot units and train their staff"
    assert not plan["milestone"].str.contains(r"\(0\)").any()
    zh = plans.implementation_plan("2026-10", 6, [], [], "CSAT", lang="zh")
    assert zh.loc[2, "milestone"] == "选定试点单位并培训其员工"
    from crmlab import i18n

    assert i18n.translate(plan.loc[2, "milestone"], "zh") == zh.loc[2, "milestone"]


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


def test_an_owner_that_is_a_tiers_contact_reads_by_value_tier():
    """The finance playbook's "Relationship manager" stands for each customer's own contact
    (the action list gives a tier B or C customer's action to the service team or marketing
    automation): the plan table says so, with the contacts of the case spec."""
    from crmlab import actions, casespec, i18n

    contacts = actions.tier_contacts(casespec.load_spec("finance_churn")["actions"])
    assert contacts == plans.spec_contacts(plans.FINANCE_PLAYBOOK)
    plan = plans.segment_action_plan(
        {"at_risk": 221, "mature": 1350, "declining": 126, "new": 494},
        plans.FINANCE_PLAYBOOK,
        "2026-10",
    ).set_index("segment")
    by_tier = "By value tier: relationship manager (A), service team (B), marketing automation (C)"
    assert plan.loc["at_risk", "owner"] == plan.loc["mature", "owner"] == by_tier
    assert plan.loc["declining", "owner"] == "Branch advisor"  # not a tier's contact: as it is
    assert plan.loc["at_risk", "action"] == "Retention offer from the customer's contact"
    assert i18n.translate(by_tier) == "按价值等级：客户经理（A）、服务团队（B）、自动化营销（C）"
    assert i18n.translate(plan.loc["at_risk", "action"]) == "由客户的对接人提供挽留优惠"
    # contacts given: they decide; none: every owner as the playbook names it
    plain = plans.segment_action_plan({"at_risk": 1}, plans.FINANCE_PLAYBOOK, "2026-10", {})
    assert plain["owner"].tolist() == ["Relationship manager"]
    retail = plans.segment_action_plan({"loyal": 1}, plans.RETAIL_PLAYBOOK, "2026-10")
    assert retail["owner"].tolist() == ["CRM manager"]


def test_no_playbook_action_promises_a_call_that_a_tiers_contact_cannot_make():
    """Tier C's contact is marketing automation: an action owned by whoever contacts the
    customer must not promise a personal call."""
    for book in (plans.FINANCE_PLAYBOOK, plans.CHURN_FLAG_PLAYBOOK):
        personal = set(plans.spec_contacts(book).values())
        assert personal
        for action, owner, _ in book.values():
            if owner in personal:
                assert "call" not in action.lower() and "personal" not in action.lower(), action


def test_a_churn_flag_run_gets_a_playbook_and_contacts_without_bank_products():
    from crmlab import casespec, i18n

    assert plans.run_playbook("finance_churn", {}) is plans.FINANCE_PLAYBOOK
    assert plans.run_playbook("finance_churn", {"churn.basis": "dates"}) is plans.FINANCE_PLAYBOOK
    flag = plans.run_playbook("finance_churn", {"churn.basis": "flag"})
    assert flag is plans.CHURN_FLAG_PLAYBOOK and set(flag) == set(plans.FINANCE_PLAYBOOK)
    bank_words = ("salary", "digital banking", "branch", "deposit", "rates", "relationship")
    for action, owner, _ in flag.values():
        assert not any(w in f"{action} {owner}".lower() for w in bank_words), (action, owner)
        for text in (action, owner):
            assert i18n.has_cjk(i18n.translate(text)), text
    section = casespec.load_spec("finance_churn")["actions"]
    applied = casespec.for_run(section, {"churn.basis": "flag"})
    assert applied["playbook"] == "CHURN_FLAG_PLAYBOOK" and "when" not in applied
    assert applied["contact"]["A"] == "account_manager"
    assert casespec.for_run(section, {})["contact"]["A"] == "relationship_manager"
    assert section["playbook"] == "FINANCE_PLAYBOOK"  # the spec itself is unchanged
    assert plans.spec_contacts(plans.CHURN_FLAG_PLAYBOOK)["A"] == "Account manager"
    with pytest.raises(ParameterError):
        plans.playbook("TIER_OWNER")


def test_a_churn_flag_campaign_calls_with_the_extracts_own_contacts():
    """The campaign's tier actions for a flag extract: who calls is the flag playbook's contact
    of that tier (an account manager, not a relationship manager), and no bank words."""
    from crmlab import casespec, i18n, targeting

    section = casespec.for_run(
        casespec.load_spec("finance_churn")["actions"], {"churn.basis": "flag"}
    )
    owners = {tier: owner for tier, (_, owner, _) in targeting.FLAG_TIER_ACTIONS.items()}
    assert owners == section["contact"]
    bank_words = ("relationship", "fee", "branch", "deposit", "salary")
    for action, _, _ in targeting.FLAG_TIER_ACTIONS.values():
        assert not any(w in action for w in bank_words), action
        assert i18n.has_cjk(i18n.translate(action)), action
    # the days until due are the bank's (the urgency of a tier does not depend on the business)
    assert [d for *_, d in targeting.FLAG_TIER_ACTIONS.values()] == [
        d for *_, d in targeting.DEFAULT_TIER_ACTIONS.values()
    ]
    scored = pd.DataFrame(
        {
            "customer_id": ["P-1", "P-2", "P-3"],
            "churn_prob": [0.5, 0.4, 0.9],
            "value": [1000.0, 100.0, 10.0],
            "tier": ["A", "B", "C"],
        }
    )
    work = targeting.action_list(
        scored, 3, as_of="2026-10-01", tier_actions=targeting.FLAG_TIER_ACTIONS
    )
    assert work.set_index("pseudo_id")["owner_role"].to_dict() == {
        "P-1": "account_manager",
        "P-2": "service_team",
        "P-3": "marketing_automation",
    }
    assert list(work["pseudo_id"]) == ["P-1", "P-2", "P-3"]  # by expected loss: 500, 40, 9


def test_a_plan_that_starts_after_the_goal_ends_at_its_deadline():
    """plan_start later than the goal's start leaves fewer months: the plan is fitted into
    them; too few say why there is no plan."""
    assert plans.plan_window("2026-10", "2026-10", 6) == (6, None)
    assert plans.plan_window("2027-01", "2026-10", 6) == (3, None)  # deadline 2027-04
    plan = plans.implementation_plan("2027-01", 3, ["staff service"], ["S1"], kpi="CSAT")
    assert plan["month"].max() == "2027-04"
    months, why = plans.plan_window("2027-03", "2026-10", 6)
    assert months == 1 and "1 month(s) before the goal's deadline (2027-04)" in why
    assert plans.plan_window("2027-08", "2026-10", 6)[1].startswith("It would start in 2027-08, 0")
    assert plans.plan_window("2027-01", "2026-10", 12, minimum=6) == (9, None)
    assert plans.plan_window(None, "2026-10", 6) == (6, None)
    assert plans.plan_window("2027-01", None, 6) == (6, None)
