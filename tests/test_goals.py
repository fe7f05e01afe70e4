"""SMART goals: target arithmetic, the monthly path, and the realism check against history."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlab.charts.satisfaction import plot_goal_path  # noqa: E402
from crmlab.errors import DataError, ParameterError  # noqa: E402
from crmlab.goals import SmartGoal, month_ordinals, realism_check  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_relative_goal_cut_churn_20_percent():
    g = SmartGoal.relative("churn_rate", 0.25, -0.2, deadline_months=12, start="2024-01")
    assert g.target == pytest.approx(0.20)
    assert g.gap_points == pytest.approx(-5.0)
    assert g.direction == "decrease"
    assert g.relative_change == pytest.approx(-0.2)
    assert g.deadline == "2025-01"


def test_absolute_goal_and_points_goal_agree():
    a = SmartGoal.absolute("csat", 0.81, 0.90, 6, "2024-03")
    p = SmartGoal.points("csat", 0.81, 9, 6, "2024-03")
    assert p.target == pytest.approx(a.target)
    assert a.gap_points == pytest.approx(9.0)
    assert a.required_monthly_points == pytest.approx(1.5)


def test_monthly_path_arithmetic():
    g = SmartGoal.absolute("csat", 0.81, 0.90, 6, pd.Timestamp("2024-01-15"))
    path = g.monthly_path()
    assert g.start == "2024-01"
    assert path["month"].tolist() == [f"2024-{m:02d}" for m in range(1, 8)]
    assert path["months_from_start"].tolist() == list(range(7))
    # 9 points over 6 months = 1.5 points a month: 81.0, 82.5, 84.0, ... 90.0
    expected = [0.81 + 0.015 * k for k in range(7)]
    assert path["target_value"].tolist() == pytest.approx(expected, abs=1e-12)


def test_to_record_flat_figures():
    g = SmartGoal.absolute("csat", 0.81, 0.90, 6, "2024-01", baseline_ci=(0.78, 0.84))
    rec = g.to_record()
    assert rec["goal.metric"] == "csat"
    assert rec["goal.baseline"] == 0.81
    assert (rec["goal.baseline_low"], rec["goal.baseline_high"]) == (0.78, 0.84)
    assert rec["goal.target"] == 0.90
    assert rec["goal.deadline_months"] == 6
    assert rec["goal.gap_points"] == pytest.approx(9.0)
    assert rec["goal.deadline"] == "2024-07"
    assert all(k.startswith("goal.") for k in rec)


def test_nps_goal_in_points():
    g = SmartGoal.absolute("nps", 12.0, 20.0, 4, "2024-01", scale=1.0)
    assert g.gap_points == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline": 81, "target": 90}, "not a share"),
        ({"baseline": 0.8, "target": 0.8}, "equals the baseline"),
        ({"baseline": 0.8, "target": 0.9, "deadline_months": 0}, "deadline_months"),
        ({"baseline": 0.8, "target": 0.9, "baseline_ci": (0.82, 0.85)}, "does not contain"),
        ({"baseline": 0.8, "target": 0.9, "start": "soon"}, "as a month"),
    ],
)
def test_goal_validation(kwargs, match):
    args = {"metric": "csat", "deadline_months": 6, "start": "2024-01", **kwargs}
    with pytest.raises(ParameterError, match=match):
        SmartGoal(**args)


# ---- realism check ---------------------------------------------------------------------------
def _history():
    # flat at 80% for Jan-Apr 2023, +0.9 points a month Apr -> Oct, then flat again
    values = [0.80] * 4 + [0.80 + 0.009 * k for k in range(1, 7)] + [0.854] * 2
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    return pd.DataFrame({"wave": months, "rate": values})


def test_realism_check_ambitious():
    goal = SmartGoal.absolute("csat", 0.81, 0.91, 6, "2024-01")
    chk = realism_check(_history(), goal)
    assert chk.required_monthly_points == pytest.approx(10 / 6)
    assert chk.best_monthly_points == pytest.approx(0.9)
    assert (chk.best_run_start, chk.best_run_end, chk.window_months) == ("2023-04", "2023-10", 6)
    assert chk.ratio == pytest.approx((10 / 6) / 0.9)
    assert chk.verdict == "ambitious, needs intervention"
    assert "needs +1.7 pts/month" in chk.message and "gained 0.9 pts/month" in chk.message


def test_realism_check_realistic_and_comfortable():
    h = _history()
    assert realism_check(h, SmartGoal.absolute("csat", 0.81, 0.86, 6, "2024-01")).verdict == (
        "realistic"  # 0.83 pts/month needed, history did 0.9
    )
    assert realism_check(h, SmartGoal.absolute("csat", 0.81, 0.83, 6, "2024-01")).verdict == (
        "comfortable"
    )


def test_realism_check_decrease_goal():
    # churn fell 0.5 points a month for a year
    h = pd.DataFrame(
        {
            "month": pd.period_range("2023-01", periods=12, freq="M"),
            "churn": 0.30 - 0.005 * np.arange(12),
        }
    )
    goal = SmartGoal.relative("churn_rate", 0.25, -0.2, 12, "2024-01")  # -5 points in 12 months
    chk = realism_check(h, goal, period_col="month", value_col="churn")
    assert chk.window_months == 11  # history spans only 11 months
    assert chk.best_monthly_points == pytest.approx(-0.5)
    assert chk.required_monthly_points == pytest.approx(-5 / 12)
    assert chk.verdict == "realistic"
    rising = h.assign(churn=h["churn"].to_numpy()[::-1])
    assert realism_check(rising, goal, period_col="month", value_col="churn").verdict == (
        "no precedent, needs intervention"
    )


def test_realism_check_with_missing_months_uses_actual_spans():
    h = pd.DataFrame({"wave": ["2023-01", "2023-04", "2023-10"], "rate": [0.80, 0.83, 0.86]})
    goal = SmartGoal.absolute("csat", 0.86, 0.90, 3, "2024-01")
    chk = realism_check(h, goal)
    # runs of at least 3 months: Jan->Apr gains 3 points over 3 months = 1.0 a month (the best)
    assert chk.best_monthly_points == pytest.approx(1.0)
    assert (chk.best_run_start, chk.best_run_end) == ("2023-01", "2023-04")


def test_realism_check_rejects_bad_history():
    goal = SmartGoal.absolute("csat", 0.81, 0.90, 6, "2024-01")
    with pytest.raises(DataError, match="repeated months"):
        realism_check(pd.DataFrame({"wave": ["2023-01", "2023-01"], "rate": [0.8, 0.9]}), goal)
    with pytest.raises(DataError, match="at least two months"):
        realism_check(pd.DataFrame({"wave": ["2023-01"], "rate": [0.8]}), goal)
    with pytest.raises(DataError, match="not months"):
        realism_check(pd.DataFrame({"wave": ["2023-01", "later"], "rate": [0.8, 0.9]}), goal)


def test_month_ordinals_count_months():
    o = month_ordinals(pd.Series(["2023-11", "2024-02"]))
    assert o[1] - o[0] == 3


def test_plot_goal_path_renders():
    goal = SmartGoal.absolute("csat", 0.854, 0.90, 6, "2023-12")
    ax = plot_goal_path(_history(), goal.monthly_path())
    assert len(ax.get_lines()) == 2
