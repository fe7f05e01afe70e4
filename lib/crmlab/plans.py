"""Plans that turn analysis into work: actions per segment, the implementation and training plan
with milestones, the feedback loop, and the projected path to a goal.

The playbooks are plain, documented data (segment -> action, owner role, timing) so that a
consultant can edit them per client; the functions only combine them with the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from crmlab.errors import ParameterError
from crmlab.goals import month_label


def add_months(start: str, months: int) -> str:
    """``add_months("2026-10", 3) == "2027-01"`` (calendar months, "YYYY-MM")."""
    return str(pd.Period(month_label(start), freq="M") + int(months))


#: Retail customer classes -> (action, owner role, start in months from plan start).
RETAIL_PLAYBOOK: dict[str, tuple[str, str, int]] = {
    "loyal": ("Thank-you programme: member events, early access, points bonus", "CRM manager", 1),
    "active": ("Cross-sell on the next visit; invite to the loyalty programme", "Store manager", 1),
    "at_risk": ("Personal win-back call or voucher within 2 weeks", "Customer service lead", 0),
    "churned": ("Low-cost reactivation e-mail series; ask why they left", "Marketing", 2),
    "potential": ("Welcome offer for a first purchase", "Marketing", 1),
}

#: Bank lifecycle stages -> (action, owner role, start month).
FINANCE_PLAYBOOK: dict[str, tuple[str, str, int]] = {
    "at_risk": (
        "Retention offer and a call from the relationship manager",
        "Relationship manager",
        0,
    ),
    "declining": ("Needs review: fees, rates, product fit", "Branch advisor", 1),
    "new": ("Onboarding journey: salary deposit and digital banking", "Onboarding team", 0),
    "growing": ("Offer a second product matched to needs", "Sales", 1),
    "mature": ("Loyalty recognition; periodic review", "Relationship manager", 2),
    "churned": ("Exit survey; win-back after 6 months", "Customer service", 3),
}

#: Extra emphasis by value tier (ABC, seed 004): who owns the relationship.
TIER_OWNER = {
    "A": "dedicated account manager",
    "B": "regular contact team",
    "C": "automated marketing",
}


def first_day(month: str) -> pd.Timestamp:
    """The first day of ``month`` (``"YYYY-MM"``): where a plan that starts that month counts
    its due dates from."""
    try:
        return pd.Period(str(month), freq="M").start_time
    except ValueError:
        raise ParameterError(f"A plan month must look like 2027-01, got {month!r}.") from None


def segment_action_plan(
    counts: Mapping[str, int] | pd.Series,
    playbook: Mapping[str, tuple[str, str, int]],
    start: str,
) -> pd.DataFrame:
    """One row per segment: who (segment and size), what action, owner role, and when (month).

    Segments absent from the playbook get "no specific action" so nothing silently drops out.
    ``start`` is the plan's first month ("YYYY-MM").
    """
    rows = []
    for segment, n in pd.Series(counts).items():
        action, owner, offset = playbook.get(str(segment), ("No specific action", "-", 0))
        rows.append(
            {
                "segment": segment,
                "customers": int(n),
                "action": action,
                "owner": owner,
                "start": add_months(start, offset),
            }
        )
    return pd.DataFrame(rows).sort_values(["start", "customers"], ascending=[True, False])


def implementation_plan(
    start: str,
    deadline_months: int,
    focus: Sequence[str],
    pilot_units: Sequence[str],
    kpi: str,
) -> pd.DataFrame:
    """The implementation and staff-training plan as milestones (seed 000 steps 4-6).

    Phases: prepare (training material on the ``focus`` drivers or risk factors), train the pilot
    units' staff, extend the pilot, roll out in waves, review against the ``kpi`` every month, and
    a final evaluation at the deadline. Months are counted from ``start`` ("YYYY-MM").
    """
    if deadline_months < 3:
        raise ParameterError("An implementation plan needs at least 3 months to the deadline.")
    focus_text = ", ".join(str(f).replace("_", " ") for f in focus) or "the key drivers"
    mid = max(2, deadline_months // 2)
    rows = [
        (0, "Kick-off; owners named; baseline frozen", "Programme lead", f"{kpi} baseline"),
        (0, f"Training material on {focus_text}", "Training lead", "course, workshop, cases"),
        (1, f"Train staff in pilot units ({len(pilot_units)})", "Training lead", "attendance 100%"),
        (1, "Monthly survey wave sized for the goal", "Insights analyst", "answers per wave"),
        (mid, "Roll-out wave 1: half of the remaining units", "Operations", f"{kpi} on path"),
        (mid + 1, "Roll-out wave 2: all units; refresher training", "Operations", f"{kpi} on path"),
        (
            deadline_months,
            "Evaluation against the goal; next cycle",
            "Programme lead",
            f"{kpi} target",
        ),
    ]
    plan = pd.DataFrame(rows, columns=["month", "milestone", "owner", "check"])
    plan["month"] = [add_months(start, m) for m in plan["month"]]
    return plan


def feedback_loop(n_per_wave: int, topics: Sequence[str], cadence: str = "monthly") -> pd.DataFrame:
    """What to ask, whom, how often: the evaluation and feedback loop (seed 000 step 6)."""
    rows = [
        (
            "Overall satisfaction (1-5) and recommend (0-10)",
            "sample of recent customers",
            cadence,
            n_per_wave,
        ),
        (
            "Driver ratings: " + ", ".join(t.replace("_", " ") for t in topics),
            "same respondents",
            cadence,
            n_per_wave,
        ),
        ("Complaint follow-up: was it resolved?", "every complainant", "after closure", None),
        ("Staff panel: what blocks better service?", "store staff", "quarterly", None),
        ("Customer panel / interviews", "10-15 customers per segment", "quarterly", None),
    ]
    return pd.DataFrame(rows, columns=["what", "who", "how_often", "answers_needed"])


def projected_path(
    baseline: float,
    effect: float,
    start: str,
    deadline_months: int,
    ramp_months: int | None = None,
) -> pd.DataFrame:
    """Projected monthly metric if an intervention worth ``effect`` is phased in linearly over
    ``ramp_months`` (default: the whole period), starting from ``baseline``."""
    ramp = ramp_months or deadline_months
    rows = [
        {
            "month": add_months(start, m),
            "months_from_start": m,
            "projected": baseline + effect * min(m, ramp) / ramp,
        }
        for m in range(deadline_months + 1)
    ]
    return pd.DataFrame(rows)
