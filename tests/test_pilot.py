"""Pilot evaluation: z-test by hand, DiD on planted effects, roll-out projection."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import norm  # noqa: E402

from crmlab.charts.satisfaction import plot_pilot  # noqa: E402
from crmlab.errors import DataError  # noqa: E402
from crmlab.pilot import (  # noqa: E402
    add_did_indicators,
    arm_period_rates,
    compare_arms,
    did_estimate,
    rollout_projection,
    two_proportion_test,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- two-proportion test ----------------------------------------------------------------------
def test_two_proportion_z_matches_pooled_hand_computation():
    res = two_proportion_test(60, 100, 50, 100, ci_method="wald")
    pooled = 110 / 200
    z = (0.60 - 0.50) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert res.z == pytest.approx(z, rel=1e-12)  # 1.4213
    assert res.p_value == pytest.approx(2 * norm.sf(z), rel=1e-10)  # 0.1552
    assert res.effect == pytest.approx(0.10)
    # Wald interval: 0.1 +/- 1.96 * sqrt(.6*.4/100 + .5*.5/100) = 0.1 +/- 1.96 * 0.07
    half = norm.ppf(0.975) * 0.07
    assert res.ci == pytest.approx((0.10 - half, 0.10 + half), abs=1e-10)
    assert res.cohens_h == pytest.approx(
        2 * math.asin(math.sqrt(0.6)) - 2 * math.asin(math.sqrt(0.5))
    )


def test_one_sided_test_halves_p():
    two = two_proportion_test(60, 100, 50, 100)
    larger = two_proportion_test(60, 100, 50, 100, alternative="larger")
    assert larger.p_value == pytest.approx(two.p_value / 2)


def test_newcombe_interval_textbook():
    # Newcombe (1998) Stat Med 17:873, Table II: 56/70 - 48/80 -> 0.0524 to 0.3339
    res = two_proportion_test(56, 70, 48, 80)
    assert (round(res.ci_low, 4), round(res.ci_high, 4)) == (0.0524, 0.3339)


def test_compare_arms_counts_rows():
    df = pd.DataFrame({"treated": [1, 1, 1, 1, 0, 0, 0], "satisfied": [1, 1, 0, np.nan, 1, 0, 0]})
    res = compare_arms(df)
    assert (res.n_t, res.n_c) == (3, 3)
    assert (res.rate_t, res.rate_c) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    with pytest.raises(DataError, match="must hold 0/1"):
        compare_arms(df.assign(treated=["a"] * 7))


# ---- difference in differences ----------------------------------------------------------------
def _exact_panel():
    """10 treated + 10 control stores, 100 answers per store and period, identical shares.

    Control 70% -> 75%, treated 72% -> 85%: DiD = (0.85 - 0.72) - (0.75 - 0.70) = 0.08.
    """
    share = {(0, 0): 70, (0, 1): 75, (1, 0): 72, (1, 1): 85}
    rows = []
    for store in range(20):
        treated = int(store < 10)
        for post in (0, 1):
            k = share[(treated, post)]
            rows += [(f"S{store:02d}", treated, post, int(i < k)) for i in range(100)]
    return pd.DataFrame(rows, columns=["store_id", "treated", "post", "satisfied"])


def test_did_exact_on_noise_free_panel():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero cluster variance
        res = did_estimate(_exact_panel())
    assert res.effect == pytest.approx(0.08, abs=1e-12)
    assert res.cell_means.loc["treated", "post"] == pytest.approx(0.85)
    assert res.cell_means.loc["control", "pre"] == pytest.approx(0.70)
    assert (res.n, res.n_clusters, res.clusters_treated, res.clusters_control) == (4000, 20, 10, 10)
    assert res.note == ""


def _noisy_panel(rng, n_stores=20, n_per_cell=40, effect=0.06):
    store_shift = rng.normal(0, 0.05, n_stores)
    rows = []
    for s in range(n_stores):
        treated = int(s < n_stores // 2)
        for post in (0, 1):
            p = 0.72 + store_shift[s] + 0.03 * post + 0.02 * treated + effect * treated * post
            y = (rng.random(n_per_cell) < p).astype(float)
            rows.append(
                pd.DataFrame({"store_id": s, "treated": treated, "post": post, "satisfied": y})
            )
    return pd.concat(rows, ignore_index=True)


def test_did_covers_planted_effect_on_noisy_panel():
    rng = np.random.default_rng(2024)
    res = did_estimate(_noisy_panel(rng, n_stores=40, n_per_cell=150, effect=0.06))
    assert res.ci_low < 0.06 < res.ci_high
    assert res.ci_low > 0  # the planted 6 points are detected
    # the OLS interaction equals the difference of the four cell means
    cm = res.cell_means
    did = (cm.loc["treated", "post"] - cm.loc["treated", "pre"]) - (
        cm.loc["control", "post"] - cm.loc["control", "pre"]
    )
    assert res.effect == pytest.approx(did, abs=1e-12)


def test_did_interval_coverage_close_to_nominal():
    rng = np.random.default_rng(7)
    hits = 0
    reps = 150
    for _ in range(reps):
        res = did_estimate(_noisy_panel(rng, n_stores=20, n_per_cell=30, effect=0.06))
        hits += res.ci_low <= 0.06 <= res.ci_high
    assert 0.89 <= hits / reps <= 0.99


def test_did_warns_with_few_clusters_and_checks_cells():
    rng = np.random.default_rng(1)
    panel = _noisy_panel(rng, n_stores=6)
    with pytest.warns(UserWarning, match="unreliable"):
        res = did_estimate(panel)
    assert "3 treated" in res.note
    with pytest.raises(DataError, match="all four cells"):
        did_estimate(panel[panel["post"] == 0])
    hc = did_estimate(panel, cluster_col=None, cov_type="HC1")
    assert hc.effect == pytest.approx(res.effect) and hc.n_clusters == 0


def test_add_did_indicators():
    df = pd.DataFrame(
        {"store_id": ["A", "B", "A", "B"], "wave": ["2024-01", "2024-01", "2024-03", "2024-04"]}
    )
    out = add_did_indicators(df, ["A"], "2024-03")
    assert out["treated"].tolist() == [1, 0, 1, 0]
    assert out["post"].tolist() == [0, 0, 1, 1]
    with pytest.raises(DataError, match="do not occur"):
        add_did_indicators(df, ["Z"], "2024-03")


def test_arm_period_rates_and_plot():
    df = pd.DataFrame(
        {
            "treated": [0, 0, 1, 1, 0, 0, 1, 1],
            "wave": ["2024-01"] * 4 + ["2024-02"] * 4,
            "satisfied": [1, 0, 1, 1, 1, 1, 1, np.nan],
        }
    )
    rates = arm_period_rates(df)
    assert rates["rate"].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert rates["n"].tolist() == [2, 2, 2, 1]
    ax = plot_pilot(rates, pilot_start="2024-02")
    assert len(ax.get_lines()) == 3  # two arms + pilot start


# ---- roll-out projection ------------------------------------------------------------------------
def test_rollout_projection_increase_goal():
    r = rollout_projection(0.81, 0.08, 0.90, effect_ci=(0.05, 0.11))
    assert r.projected == pytest.approx(0.89)
    assert (r.projected_low, r.projected_high) == (pytest.approx(0.86), pytest.approx(0.92))
    assert not r.reaches_target and not r.reaches_target_pessimistic
    assert r.shortfall_points == pytest.approx(1.0)
    assert r.verdict.startswith("falls short on the point estimate")
    half = rollout_projection(0.81, 0.08, 0.90, coverage=0.5)
    assert half.projected == pytest.approx(0.85)
    assert half.verdict.startswith("falls short even")


def test_rollout_projection_decrease_goal():
    r = rollout_projection(0.25, -0.06, 0.20, effect_ci=(-0.08, -0.04))
    assert r.projected == pytest.approx(0.19)
    assert r.reaches_target and not r.reaches_target_pessimistic  # 0.21 at the weak end
    assert r.shortfall_points == pytest.approx(-1.0)
    assert "roll out with monitoring" in r.verdict
    sure = rollout_projection(0.25, -0.06, 0.20, effect_ci=(-0.07, -0.055))
    assert sure.reaches_target_pessimistic


def test_design_from_table_reads_arms_and_periods():
    from crmlab.pilot import design_from_table

    table = pd.DataFrame(
        {
            "store_id": ["S2", "S1", "S3"],
            "group": ["Treatment", "control", "control"],
            "intervention": ["training"] * 3,
            "start_date": ["2026-08-01"] * 3,
            "end_date": ["2026-10-31"] * 3,
        }
    )
    waves = [f"2026-{m:02d}" for m in range(1, 11)]
    d = design_from_table(table, waves)
    assert d.treated_units == ("S2",) and d.control_units == ("S1", "S3")
    assert d.pilot_periods == ("2026-08", "2026-09", "2026-10")
    assert d.pre_periods == ("2026-05", "2026-06", "2026-07")
    assert d.pilot_start == "2026-08" and d.intervention == "training"
    with pytest.raises(DataError, match="both arms"):
        design_from_table(table.assign(group="control"), waves)
    with pytest.raises(DataError, match="No survey period"):
        design_from_table(table, ["2025-01"])
