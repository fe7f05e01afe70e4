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
