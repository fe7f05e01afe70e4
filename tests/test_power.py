"""Sample size and power for two proportions against the arcsine (Cohen's h) formula."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from crmlab.errors import ParameterError
from crmlab.power import (
    detectable_difference,
    n_for_margin,
    n_per_arm_two_proportions,
    power_two_proportions,
)


def cohens_h(p2: float, p1: float) -> float:
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def n_by_formula(p1, p2, alpha=0.05, power=0.8, ratio=1.0, sides=2):
    """n1 = (z_{1-alpha/sides} + z_power)^2 (1 + 1/ratio) / h^2 (far tail ignored)."""
    z = norm.ppf(1 - alpha / sides) + norm.ppf(power)
    return z**2 * (1 + 1 / ratio) / cohens_h(p2, p1) ** 2


def test_reference_80_to_90_percent_satisfied():
    assert n_by_formula(0.80, 0.90) == pytest.approx(194.908, abs=1e-3)
    assert n_per_arm_two_proportions(0.80, 0.90) == 195


def test_reference_churn_26_5_to_21_2_percent():
    # METHOD.md quotes "about 1,010"; the arcsine formula gives 1012.15 -> 1013
    assert n_by_formula(0.265, 0.212) == pytest.approx(1012.15, abs=0.01)
    assert n_per_arm_two_proportions(0.265, 0.212) == 1013


def test_order_of_proportions_does_not_matter():
    assert n_per_arm_two_proportions(0.90, 0.80) == 195


@pytest.mark.parametrize(
    ("kwargs", "formula_kwargs"),
    [
        ({"ratio": 2.0}, {"ratio": 2.0}),
        ({"alternative": "one-sided"}, {"sides": 1}),
        ({"power": 0.9, "alpha": 0.01}, {"power": 0.9, "alpha": 0.01}),
    ],
)
def test_design_options_follow_the_formula(kwargs, formula_kwargs):
    expected = math.ceil(n_by_formula(0.80, 0.90, **formula_kwargs))
    assert n_per_arm_two_proportions(0.80, 0.90, **kwargs) == expected


def test_power_at_the_computed_n():
    assert power_two_proportions(195, 0.80, 0.90) >= 0.8
    assert power_two_proportions(194, 0.80, 0.90) < 0.8
    # hand formula, far tail ignored: Phi(|h| sqrt(n/2) - z_{0.975})
    h = cohens_h(0.90, 0.80)
    assert power_two_proportions(100, 0.80, 0.90) == pytest.approx(
        norm.cdf(h * math.sqrt(100 / 2) - norm.ppf(0.975)), abs=1e-4
    )


def test_detectable_difference_inverts_cohens_h():
    z = norm.ppf(0.975) + norm.ppf(0.8)
    h = z * math.sqrt(2 / 195)
    p2 = math.sin(math.asin(math.sqrt(0.80)) + h / 2) ** 2
    mde = detectable_difference(195, 0.80)
    assert mde == pytest.approx(p2 - 0.80, abs=1e-5)
    assert 0.099 < mde < 0.100  # 195 is slightly more than the 194.9 needed for 10 points
    down = detectable_difference(1013, 0.265, direction="decrease")
    assert -0.0531 < down < -0.0525


def test_detectable_difference_impossible():
    with pytest.raises(ParameterError, match="increase n"):
        detectable_difference(3, 0.95)


def test_n_for_margin():
    # 1.959964^2 * 0.85 * 0.15 / 0.03^2 = 544.2 -> 545
    assert n_for_margin(0.85, 0.03) == 545


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p1": 0.8, "p2": 0.8},
        {"p1": 80, "p2": 90},
        {"p1": 0.8, "p2": 0.9, "power": 1.2},
        {"p1": 0.8, "p2": 0.9, "alternative": "larger"},
        {"p1": 0.8, "p2": 0.9, "ratio": 0},
    ],
)
def test_bad_parameters(kwargs):
    with pytest.raises(ParameterError):
        n_per_arm_two_proportions(**kwargs)
