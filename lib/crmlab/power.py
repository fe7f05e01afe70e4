"""Sample sizes and power for comparing two proportions (pilot design).

The effect size is Cohen's h, ``h = 2 * asin(sqrt(p2)) - 2 * asin(sqrt(p1))``
(``statsmodels.stats.proportion.proportion_effectsize``), and power comes from the normal
approximation in ``statsmodels.stats.power.NormalIndPower``. Reference values (alpha 0.05, power
0.8, two-sided, equal arms): 80% -> 90% satisfied needs 195 per arm; a churn cut from 26.5% to 21.2%
needs 1,013 per arm (often quoted as "about 1,010").

Throughout, ``p1`` is the control / baseline share and ``p2`` the treatment / target share; arm 2
has ``ratio`` times as many units as arm 1. ``alternative`` is ``"two-sided"`` or ``"one-sided"``
(one-sided in the direction from ``p1`` to ``p2``).
"""

from __future__ import annotations

import math

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, samplesize_confint_proportion

from crmlab.errors import ParameterError

__all__ = [
    "detectable_difference",
    "n_for_margin",
    "n_per_arm_two_proportions",
    "power_two_proportions",
]

_ALTERNATIVES = ("two-sided", "one-sided")


def _check_share(p: float, name: str) -> None:
    if p is None or not 0.0 < p < 1.0:
        raise ParameterError(f"{name} must be a share strictly between 0 and 1, got {p!r}")


def _check_design(alpha: float, power: float | None, ratio: float, alternative: str) -> str:
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    if power is not None and not alpha < power < 1:
        raise ParameterError(f"power must be in (alpha, 1), got {power}")
    if not ratio > 0:
        raise ParameterError(f"ratio (arm 2 size / arm 1 size) must be > 0, got {ratio}")
    if alternative not in _ALTERNATIVES:
        raise ParameterError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return "two-sided" if alternative == "two-sided" else "larger"


def _ceil(x: float) -> int:
    # guard against 195.00000000001 from floating-point root finding
    return int(math.ceil(x - 1e-9))


def n_per_arm_two_proportions(
    p1: float,
    p2: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> int:
    """Units needed in arm 1 to detect a change from ``p1`` to ``p2``, rounded up.

    Arm 2 needs ``ceil(n * ratio)`` units. Example: ``n_per_arm_two_proportions(0.80, 0.90)`` is
    195 respondents per arm.

    Parameters
    ----------
    p1, p2 : float
        Control and treatment shares in (0, 1), ``p1 != p2``.
    alpha : float
        Significance level (type I error).
    power : float
        1 - type II error.
    ratio : float
        Arm 2 size / arm 1 size.
    alternative : {"two-sided", "one-sided"}

    Returns
    -------
    int
    """
    _check_share(p1, "p1")
    _check_share(p2, "p2")
    if p1 == p2:
        raise ParameterError("p1 equals p2: no difference to detect")
    alt = _check_design(alpha, power, ratio, alternative)
    h = abs(proportion_effectsize(p2, p1))
    n = NormalIndPower().solve_power(
        effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio, alternative=alt
    )
    return _ceil(float(n))


def power_two_proportions(
    n: float,
    p1: float,
    p2: float,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power to detect ``p1`` -> ``p2`` with ``n`` units in arm 1 (and ``n * ratio`` in arm 2)."""
    _check_share(p1, "p1")
    _check_share(p2, "p2")
    if not n > 0:
        raise ParameterError(f"n must be > 0, got {n}")
    alt = _check_design(alpha, None, ratio, alternative)
    h = abs(proportion_effectsize(p2, p1))
    return float(
        NormalIndPower().power(effect_size=h, nobs1=n, alpha=alpha, ratio=ratio, alternative=alt)
    )


def detectable_difference(
    n: float,
    p1: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    direction: str = "increase",
) -> float:
    """Minimum detectable effect: the smallest change ``p2 - p1`` detectable with ``n`` per arm.

    Solves Cohen's h for the given ``n`` and power, then inverts
    ``h = 2 asin(sqrt(p2)) - 2 asin(sqrt(p1))`` for ``p2``.

    Parameters
    ----------
    n : float
        Units in arm 1 (arm 2 has ``n * ratio``).
    p1 : float
        Baseline share.
    direction : {"increase", "decrease"}
        Whether the change sought is up (satisfaction) or down (churn).

    Returns
    -------
    float
        Signed difference ``p2 - p1`` in share units (e.g. 0.0988 = 9.9 points).

    Raises
    ------
    ParameterError
        If even a change to 0 or 1 is not detectable with this ``n``.
    """
    _check_share(p1, "p1")
    if not n > 0:
        raise ParameterError(f"n must be > 0, got {n}")
    if direction not in ("increase", "decrease"):
        raise ParameterError(f"direction must be 'increase' or 'decrease', got {direction!r}")
    alt = _check_design(alpha, power, ratio, alternative)
    h = float(
        NormalIndPower().solve_power(
            effect_size=None, nobs1=n, alpha=alpha, power=power, ratio=ratio, alternative=alt
        )
    )
    angle = math.asin(math.sqrt(p1)) + (h / 2 if direction == "increase" else -h / 2)
    if not 0.0 <= angle <= math.pi / 2:
        raise ParameterError(
            f"with n={n} per arm no {direction} from p1={p1} is detectable at power {power}; "
            "increase n"
        )
    return math.sin(angle) ** 2 - p1


def n_for_margin(p: float, margin: float, alpha: float = 0.05) -> int:
    """Responses needed so that a share near ``p`` has a CI half-width of ``margin`` (rounded up).

    Normal approximation ``n = z**2 p (1 - p) / margin**2``
    (``statsmodels.stats.proportion.samplesize_confint_proportion``). Example: CSAT near 0.85
    measured to +/- 0.03 needs 545 responses per wave.
    """
    _check_share(p, "p")
    if not 0 < margin < 1:
        raise ParameterError(f"margin must be a share in (0, 1), got {margin}")
    return _ceil(float(samplesize_confint_proportion(p, margin, alpha=alpha)))
