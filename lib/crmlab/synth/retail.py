"""Synthetic retail-chain data with a planted, saved truth (the retail satisfaction case).

:func:`generate_retail` writes seven tables (stores, customers, transactions, survey, complaints,
pilot, and the per-customer planted labels ``truth_customers``) plus ``truth.json``, which records
everything that was planted so that an analysis can be checked against it.

The survey model
----------------
Each response has seven driver ratings (1-5). A driver's latent value is
``d_k = sqrt(rho) * g + sqrt(1 - rho) * e_k`` (standard normal, equi-correlated through the common
factor ``g``; ``g`` mixes the customer's lasting attitude and the visit), plus the pilot uplift on
``staff_service`` in treated stores during the pilot; the rating is ``d_k`` cut at the same
thresholds for every driver, so the drivers are exchangeable and a Shapley/LMG decomposition of
R-squared ranks them in the order of their weights. Overall satisfaction follows an ordinal logit::

    y* = intercept + trend * t / (T - 1) + store + loyalty + age + sum_k w_k * rating_k + eps
    overall = 1 + #{cutpoints below y*}       (eps standard logistic; satisfied = 4-5 <=> y* > 0)
    recommend = #{recommend cutpoints below y* + recommend_noise_sd * z}   (0-10, z ~ N(0, 1))

``store`` is a region effect plus store noise. The intercept, trend and pilot uplift are
calibrated so that the expected satisfied share (CSAT: share of 4-5 ratings) is 0.76 in the first
wave, 0.79 in the latest wave without the pilot, and the pilot raises it by 0.07 in treated stores.
Every expected share in the truth is computed exactly from the model (Gauss-Hermite quadrature over
the common factor, exact convolution over the ratings) for the wave's respondent population, not
from the sample.

Transactions
------------
Purchases follow a non-homogeneous Poisson process per customer (weekly and yearly seasonality with
a December peak; promotion days), simulated month by month by thinning and written in chunks, so
a million customers (about 20 million rows) take a couple of minutes in bounded memory. Purchase
rates and basket sizes are log-normal (the top 20% of customers make about three quarters of
revenue); a planted share of customers churns part-way; a price-sensitive group buys mostly on
promotion; about 2.5% of rows are returns (negative amount and items).

Truth keys (``truth.json``)
---------------------------
``seed``, ``sizes``, ``fmt``, ``history_start``, ``end_date``, ``waves``;
``driver_weights`` (latent weight per rating point) and ``driver_ranking`` (most important first);
``satisfaction_by_wave`` (expected share of 4-5 in each wave's respondent population),
``satisfaction_first``, ``satisfaction_latest``; ``nps_first``, ``nps_latest`` (expected NPS,
-100..100); ``pilot`` (stores, waves, latent uplift, expected satisfied share by group x period);
``pilot_effect`` (mean over treated-store pilot-wave respondents of P(sat | treated) -
P(sat | untreated)), ``pilot_effect_population`` (the same over the population: 0.07 by
calibration), ``pilot_did`` (difference-in-differences of the expected group shares, pilot vs the
three waves before); ``segments`` (expected satisfied share in the latest wave by loyalty, region
of the rated store and age band, and ``loyalty_difference``); ``model`` (all coefficients);
``customers`` and ``transactions`` (planted counts and shares); ``pareto_top20_share`` (share of
net revenue made by the top 20% of customers with at least one transaction, before faults);
``complaints``; ``fault_counts`` (transactions: ``duplicate_rows`` = rows that exactly repeat an
earlier row, ``orphan_rows``, ``orphan_customer_ids``, ``missing_amount``; survey: out-of-range
and blank cells, in total and by column).
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy import optimize, special, stats

from crmlab.atomic import atomic_path, write_text
from crmlab.canonical import RETAIL_DRIVERS
from crmlab.errors import ParameterError
from crmlab.synth.names import fake_people

DEFAULT_SIZES = {"n_customers": 5000, "n_stores": 24, "months": 24, "responses_per_wave": 400}
"""Default sizes of :func:`generate_retail` (about 100,000 transactions, 9,600 survey responses)."""

DRIVERS = RETAIL_DRIVERS
"""Driver rating columns of the survey, in file order."""

DRIVER_WEIGHTS = {
    "staff_service": 0.85,
    "product_quality": 0.70,
    "price_value": 0.56,
    "checkout_speed": 0.44,
    "product_availability": 0.33,
    "store_environment": 0.22,
    "loyalty_programme": 0.12,
}
"""Latent (logit-scale) weight of one rating point of each driver; most important first."""

REGION_EFFECTS = {"North": 0.25, "East": 0.10, "Central": 0.0, "West": -0.15, "South": -0.30}
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_PROBS = (0.12, 0.22, 0.22, 0.18, 0.14, 0.12)
AGE_EFFECTS = (-0.15, -0.10, 0.0, 0.05, 0.15, 0.25)
LOYALTY_EFFECT = 0.5
STORE_EFFECT_SD = 0.10

# Survey measurement model.
_RHO = 0.3  # correlation of driver latents through the common factor
_ATTITUDE_SHARE = 0.5  # share of the common factor's variance that is the customer's attitude
_DRIVER_THRESHOLDS = np.array([-1.9, -1.1, -0.25, 0.85])  # latent cuts for ratings 1|2|3|4|5
_CUTPOINTS = np.array([-3.4, -2.0, 0.0, 2.8])  # overall 1|2|3|4|5; satisfied <=> y* > 0
_REC_CUTPOINTS = np.array([-5.0, -4.4, -3.85, -3.4, -2.85, -2.1, -0.95, 0.3, 2.45, 3.95])
_REC_NOISE_SD = 1.0
_TARGET_FIRST, _TARGET_LAST_UNTREATED, _TARGET_PILOT = 0.76, 0.79, 0.07
_PILOT_WAVES = 3
_HOME_STORE_SURVEY = 0.8  # a respondent rates the home store with this probability
_ANONYMOUS_SHARE = 0.10

# Transactions.
_TXN_PER_CUSTOMER = 20.0
_WEEKDAY = np.array([0.85, 0.85, 0.90, 0.95, 1.10, 1.35, 1.20])  # Mon..Sun
_MONTH = np.array([0.85, 0.80, 0.95, 0.95, 1.0, 0.95, 1.0, 1.0, 0.95, 1.0, 1.10, 1.30])
_PROMO_FACTOR = {False: (1.0, 1.3), True: (0.3, 4.0)}  # (off-promo, on-promo) by price-sensitive
_PROMO_USE = {False: 0.5, True: 0.95}
_RETURN_RATE, _DUPLICATE_RATE, _MISSING_AMOUNT_RATE = 0.026, 0.002, 1e-4
_HOME_STORE_TXN = 0.85

_STORE_PLACES = (
    "Riverside", "Harbour Point", "Old Town", "Parkview", "Central Plaza", "Lakeside", "Hillcrest",
    "Market Square", "Westgate", "Eastfield", "Northbridge", "Southbank", "Garden City",
    "Station Road", "University", "Airport", "Maple Grove", "Bay Front", "Kingsway", "Sunrise",
    "Greenway", "Stonebridge", "Millbrook", "Castle Hill", "Seaview", "Oakwood", "Willow Park",
    "Fairview", "Brookside", "Highland", "Silver Lake", "Redwood", "Victoria", "Jade Gate",
    "Lotus Park", "Pearl River", "Golden Mile", "Cedar Court", "Meadowbank", "Crossroads",
)  # fmt: skip

COMPLAINT_CATEGORIES = ("product", "price", "service", "checkout", "availability", "other")
_COMPLAINT_PROBS = (0.22, 0.18, 0.25, 0.12, 0.15, 0.08)
_COMPLAINT_ATTITUDE = 0.8  # complaint rate x exp(-0.8 * attitude); attitude ~ N(0, 1)

_SOURCES = ("stores", "customers", "transactions", "survey", "complaints", "pilot")


def retail_sources() -> list[str]:
    """Return the file stems of the retail data tables (without ``truth_customers``)."""
    return list(_SOURCES)


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    start: np.datetime64  # day 0: first day of the first month
    n_days: int
    month_start: np.ndarray  # day offsets, one per month
    month_end: np.ndarray  # inclusive day offsets (the last is the end date)
    waves: tuple[str, ...]

    def dates(self, days) -> np.ndarray:
        return self.start + np.asarray(days, dtype="timedelta64[D]")


def _calendar(end_date, months: int) -> _Calendar:
    try:
        end = np.datetime64(pd.Timestamp(end_date).date(), "D")
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"generate_retail: end_date {end_date!r} is not a date; use 'YYYY-MM-DD'."
        ) from exc
    end_month = end.astype("datetime64[M]")
    month_list = end_month - np.arange(months - 1, -1, -1)
    start = month_list[0].astype("datetime64[D]")
    month_start = (month_list.astype("datetime64[D]") - start).astype(int)
    next_start = ((month_list + 1).astype("datetime64[D]") - start).astype(int)
    n_days = int((end - start).astype(int)) + 1
    month_end = np.minimum(next_start - 1, n_days - 1)
    waves = tuple(str(m) for m in month_list)
    return _Calendar(start, n_days, month_start, month_end, waves)


def _day_profiles(cal: _Calendar, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Daily intensity factors: weekday x calendar month, promotion days, per customer class."""
    days = np.arange(cal.n_days)
    dates = cal.dates(days)
    weekday = (dates.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    month0 = dates.astype("datetime64[M]").astype(int) % 12
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    base = _WEEKDAY[weekday] / _WEEKDAY.mean() * _MONTH[month0] / _MONTH.mean()
    promo = (month0 == 10) & (dom >= 11) & (dom <= 12)  # Singles' Day
    promo |= (month0 == 11) & (dom >= 15) & (dom <= 24)  # Christmas sale
    black_friday = (month0 == 10) & (weekday == 4) & (dom >= 23) & (dom <= 29)
    for lag in range(4):  # Friday to Cyber Monday
        promo[lag:] |= black_friday[: cal.n_days - lag]
    for s, e in zip(cal.month_start, cal.month_end, strict=True):  # one promo week most months
        if rng.random() < 0.6 and e - s >= 7:
            first = s + rng.integers(0, e - s - 6)
            promo[first : first + 7] = True
    profiles = {"base": base, "promo": promo, "december": month0 == 11}
    for sensitive in (False, True):
        off, on = _PROMO_FACTOR[sensitive]
        profiles[f"class{int(sensitive)}"] = base * np.where(promo, on, off)
    return profiles


# --------------------------------------------------------------------------------------------
# Stores and customers
# --------------------------------------------------------------------------------------------


def _ids(prefix: str, numbers, width: int) -> np.ndarray:
    digits = np.strings.zfill(np.asarray(numbers).astype(np.dtypes.StringDType()), width)
    return np.strings.add(prefix, digits)


def _make_stores(rng: np.random.Generator, n_stores: int, cal: _Calendar) -> dict[str, np.ndarray]:
    regions = np.array(list(REGION_EFFECTS))
    region = regions[rng.permutation(n_stores) % len(regions)]
    places = np.array(_STORE_PLACES)[rng.permutation(len(_STORE_PLACES))]
    names = [
        f"{places[i % len(places)]}" + ("" if i < len(places) else f" {i // len(places) + 1}")
        for i in range(n_stores)
    ]
    opened = cal.start - rng.integers(365, 16 * 365, size=n_stores).astype("timedelta64[D]")
    effect = np.array([REGION_EFFECTS[r] for r in region]) + rng.normal(
        0, STORE_EFFECT_SD, n_stores
    )
    weight = rng.lognormal(0.0, 0.4, size=n_stores)
    return {
        "store_id": _ids("S", np.arange(1, n_stores + 1), max(2, len(str(n_stores)))),
        "store_name": np.array(names),
        "region": region,
        "opened_date": opened,
        "effect": effect,
        "weight": weight / weight.sum(),
    }


def _make_customers(
    rng: np.random.Generator, n: int, stores: dict, cal: _Calendar
) -> dict[str, np.ndarray]:
    """Customer attributes plus the planted latent traits used by the other tables."""
    D = cal.n_days
    kind = rng.choice(3, size=n, p=[0.65, 0.31, 0.04])  # existing, new, potential (never buys)
    signup = np.where(
        kind == 0,
        -rng.integers(1, 5 * 365, size=n),
        np.where(kind == 1, rng.integers(0, D, size=n), D - 1 - rng.integers(0, min(60, D), n)),
    )
    potential = kind == 2
    home = rng.choice(len(stores["store_id"]), size=n, p=stores["weight"])
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_PROBS)
    gender = rng.choice(np.array(["F", "M", "X"]), size=n, p=[0.52, 0.46, 0.02])
    channel = rng.choice(np.array(["store", "online", "app"]), size=n, p=[0.55, 0.25, 0.20])
    loyal = rng.random(n) < 0.45
    attitude = rng.standard_normal(n)
    sensitive = rng.random(n) < 0.2
    # Purchase rate and basket size: correlated log-normals (Pareto-like revenue).
    z = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 1.0]], size=n)
    rate = np.exp(1.0 * z[:, 0] - 0.5) * np.where(loyal, 1.4, 1.0)
    basket = np.exp(np.log(32.0) + 0.7 * z[:, 1])
    # Churn: planted for a share of buyers, more likely for low attitude; uniform time.
    first = np.maximum(signup, 0)
    can_churn = ~potential & (first + 30 < D - 30)
    p_churn = special.expit(special.logit(0.3) - 0.7 * attitude)
    churned = can_churn & (rng.random(n) < p_churn)
    churn_day = np.where(
        churned, first + 30 + np.floor(rng.random(n) * np.maximum(D - 60 - first, 1)), D
    ).astype(int)
    people = fake_people(rng, n, gender=gender, zh_share=0.5)
    width = max(6, len(str(n + 9999)))
    return {
        "customer_id": _ids("C", np.arange(1, n + 1), width),
        "id_width": width,
        **{k: people[k] for k in ("name", "email", "phone", "locale")},
        "signup": signup,
        "home": home,
        "age": age,
        "gender": gender,
        "channel": channel,
        "loyal": loyal,
        "attitude": attitude,
        "sensitive": sensitive,
        "potential": potential,
        "rate": rate,
        "basket": basket,
        "churned": churned,
        "active_from": first,
        "active_to": np.minimum(churn_day - 1, D - 1),  # inclusive last active day
        "churn_day": churn_day,
    }


# --------------------------------------------------------------------------------------------
# Pilot
# --------------------------------------------------------------------------------------------


def _make_pilot(rng: np.random.Generator, stores: dict) -> tuple[np.ndarray, np.ndarray]:
    """Choose ~6 treated stores and matched controls (same region, closest store effect)."""
    n_stores = len(stores["store_id"])
    n_pairs = max(1, min(6, n_stores // 4))
    pairs, leftover = [], []
    for region in REGION_EFFECTS:
        idx = np.flatnonzero(stores["region"] == region)
        idx = idx[np.argsort(stores["effect"][idx], kind="stable")]
        pairs += [(idx[i], idx[i + 1]) for i in range(0, len(idx) - 1, 2)]
        if len(idx) % 2:
            leftover.append(idx[-1])
    leftover = sorted(leftover, key=lambda i: stores["effect"][i])
    pairs += [(leftover[i], leftover[i + 1]) for i in range(0, len(leftover) - 1, 2)]
    chosen = rng.choice(len(pairs), size=n_pairs, replace=False)
    flip = rng.random(n_pairs) < 0.5
    treated = np.array([pairs[c][int(f)] for c, f in zip(chosen, flip, strict=True)])
    control = np.array([pairs[c][1 - int(f)] for c, f in zip(chosen, flip, strict=True)])
    return np.sort(treated), np.sort(control)


# --------------------------------------------------------------------------------------------
# Survey model: exact expectations
# --------------------------------------------------------------------------------------------


class _SatisfactionModel:
    """Exact expected probabilities of the ordinal-logit survey model.

    The weighted driver sum ``S = sum_k w_k * rating_k`` takes values on a grid of 0.01 (weights
    have two decimals); its distribution is computed exactly by convolution of the rating pmfs
    given the common factor, integrated over the factor by Gauss-Hermite quadrature (64 nodes).
    """

    def __init__(self) -> None:
        self.w_int = np.array([round(DRIVER_WEIGHTS[d] * 100) for d in DRIVERS])
        self.staff = DRIVERS.index("staff_service")
        nodes, weights = np.polynomial.hermite_e.hermegauss(64)
        self.g, self.gw = nodes, weights / weights.sum()
        others = [k for k in range(len(DRIVERS)) if k != self.staff]
        self.pmf_others = []
        for g in self.g:
            pmf = np.ones(1)
            for k in others:
                pmf = np.convolve(pmf, self._rating_pmf(g, 0.0, self.w_int[k]))
            self.pmf_others.append(pmf)
        self.untreated = self.s_distribution(0.0)

    @staticmethod
    def rating_probs(g: float, shift: float) -> np.ndarray:
        """P(rating = 1..5 | common factor g) for a driver whose latent is shifted by ``shift``."""
        cdf = stats.norm.cdf(
            (_DRIVER_THRESHOLDS - math.sqrt(_RHO) * g - shift) / math.sqrt(1 - _RHO)
        )
        return np.diff(np.concatenate([[0.0], cdf, [1.0]]))

    def _rating_pmf(self, g: float, shift: float, w: int) -> np.ndarray:
        pmf = np.zeros(5 * w + 1)
        pmf[w * np.arange(1, 6)] = self.rating_probs(g, shift)
        return pmf

    def s_distribution(self, staff_shift: float) -> tuple[np.ndarray, np.ndarray]:
        """Atoms and probabilities of S when the staff_service latent is shifted."""
        total = None
        for g, gw, other in zip(self.g, self.gw, self.pmf_others, strict=True):
            pmf = gw * np.convolve(other, self._rating_pmf(g, staff_shift, self.w_int[self.staff]))
            total = pmf if total is None else total + pmf
        keep = np.flatnonzero(total > 1e-15)
        return keep / 100.0, total[keep]

    @staticmethod
    def p_above(eta, dist, cut: float = 0.0, noise_sd: float = 0.0) -> np.ndarray:
        """E[P(eta + S + eps (+ noise_sd * z) > cut)] for each eta (eps logistic, z normal)."""
        atoms, probs = dist
        eta = np.asarray(eta, dtype=float)
        if noise_sd == 0:
            z, zw = np.zeros(1), np.ones(1)
        else:
            z, zw = np.polynomial.hermite_e.hermegauss(24)
            zw = zw / zw.sum()
        out = np.zeros(len(eta))
        block = 2000  # bounds the (eta x atoms) work array to ~25 MB
        for start in range(0, len(eta), block):
            e = eta[start : start + block, None] + atoms[None, :] - cut
            for zi, wi in zip(z, zw, strict=True):
                out[start : start + block] += wi * (special.expit(e + noise_sd * zi) @ probs)
        return out


def _cell_weights(customers: dict, stores: dict, cal: _Calendar) -> np.ndarray:
    """Respondent population by wave: shares of (store, loyal, age) cells, shape (T, S, 2, A).

    A wave's population is the customers signed up before the wave's month (planted never-buyers
    excluded); a respondent rates the home store with probability 0.8, else a store drawn by size.
    """
    n_stores, T = len(stores["store_id"]), len(cal.waves)
    first_wave = np.searchsorted(cal.month_start, customers["signup"], side="right")
    ok = ~customers["potential"] & (first_wave < T)
    key = np.ravel_multi_index(
        (first_wave[ok], customers["home"][ok], customers["loyal"][ok].astype(int),
         customers["age"][ok]),
        (T, n_stores, 2, len(AGE_BANDS)),
    )  # fmt: skip
    counts = np.bincount(key, minlength=T * n_stores * 2 * len(AGE_BANDS))
    counts = counts.reshape(T, n_stores, 2, len(AGE_BANDS)).cumsum(axis=0).astype(float)
    by_segment = counts.sum(axis=1, keepdims=True)
    cells = (
        _HOME_STORE_SURVEY * counts
        + (1 - _HOME_STORE_SURVEY) * stores["weight"][None, :, None, None] * by_segment
    )
    return cells / cells.sum(axis=(1, 2, 3), keepdims=True)


def _cell_offsets(stores: dict) -> np.ndarray:
    """Latent offset of each (store, loyal, age) cell before intercept and trend."""
    return (
        stores["effect"][:, None, None]
        + LOYALTY_EFFECT * np.arange(2)[None, :, None]
        + np.asarray(AGE_EFFECTS)[None, None, :]
    )


@dataclass
class _Calibration:
    intercept: float
    trend: float
    uplift: float
    treated_dist: tuple[np.ndarray, np.ndarray]


def _calibrate(model, weights, offsets, treated_mask, pilot_waves) -> _Calibration:
    T = weights.shape[0]
    flat = offsets.ravel()

    def share(wave: int, intercept: float, dist) -> float:
        return float(weights[wave].ravel() @ model.p_above(flat + intercept, dist))

    intercept = optimize.brentq(
        lambda a: share(0, a, model.untreated) - _TARGET_FIRST, -40, 10, xtol=1e-10
    )
    trend = optimize.brentq(
        lambda b: share(T - 1, intercept + b, model.untreated) - _TARGET_LAST_UNTREATED,
        -5,
        5,
        xtol=1e-10,
    )
    # Pilot uplift: the expected gain over treated stores' pilot-wave population is the target.
    w_pilot = (weights[pilot_waves] * treated_mask[None, :, None, None]).reshape(
        len(pilot_waves), -1
    )
    eta = (intercept + trend * np.asarray(pilot_waves) / max(T - 1, 1))[:, None] + flat[None, :]
    base = model.p_above(eta.ravel(), model.untreated).reshape(eta.shape)

    def gain(uplift: float) -> float:
        p = model.p_above(eta.ravel(), model.s_distribution(uplift)).reshape(eta.shape)
        return float(((p - base) * w_pilot).sum() / w_pilot.sum())

    uplift = optimize.brentq(lambda u: gain(u) - _TARGET_PILOT, 0.0, 5.0, xtol=1e-10)
    return _Calibration(intercept, trend, uplift, model.s_distribution(uplift))


def _expected_shares(model, calib, weights, stores, treated_mask, control_mask, pilot_waves):
    """Exact expected satisfied shares (and NPS) for every wave, pilot group and segment.

    Returns a dict: ``p_treated`` / ``p_untreated`` (wave x cell probabilities of a 4-5 rating
    with and without the pilot), ``by_wave``, ``pilot_groups`` (treatment/control x pre/pilot),
    ``pilot_did``, ``segments`` (latest wave by loyalty, region and age band), ``nps_first`` and
    ``nps_latest`` (-100..100).
    """
    T, n_stores = weights.shape[0], weights.shape[1]
    pre_waves = [w - _PILOT_WAVES for w in pilot_waves]
    t = np.arange(T) / max(T - 1, 1)
    eta = calib.intercept + calib.trend * t[:, None] + _cell_offsets(stores).ravel()[None, :]
    p_untreated = model.p_above(eta.ravel(), model.untreated).reshape(eta.shape)
    p_treated = model.p_above(eta.ravel(), calib.treated_dist).reshape(eta.shape)
    cell_treated = np.zeros(weights.shape, dtype=bool)
    cell_treated[pilot_waves] = treated_mask[None, :, None, None]
    p_cell = np.where(
        cell_treated, p_treated.reshape(weights.shape), p_untreated.reshape(weights.shape)
    )

    def share(waves, store_mask, extra=1.0) -> float:
        wts = weights[waves] * store_mask[None, :, None, None] * extra
        return float((p_cell[waves] * wts).sum() / wts.sum())

    groups = {
        group: {"pre": share(pre_waves, mask), "pilot": share(pilot_waves, mask)}
        for group, mask in (("treatment", treated_mask), ("control", control_mask))
    }
    did = (groups["treatment"]["pilot"] - groups["treatment"]["pre"]) - (
        groups["control"]["pilot"] - groups["control"]["pre"]
    )
    latest, everywhere = [T - 1], np.ones(n_stores, dtype=bool)
    loyal_axis = np.arange(2)[None, None, :, None]
    age_axis = np.arange(len(AGE_BANDS))[None, None, None, :]
    segments = {
        "loyalty_member": {
            "yes": share(latest, everywhere, loyal_axis == 1),
            "no": share(latest, everywhere, loyal_axis == 0),
        },
        "region": {r: share(latest, stores["region"] == r) for r in REGION_EFFECTS},
        "age_band": {b: share(latest, everywhere, age_axis == i) for i, b in enumerate(AGE_BANDS)},
    }
    segments["loyalty_difference"] = (
        segments["loyalty_member"]["yes"] - segments["loyalty_member"]["no"]
    )

    def nps(wave: int) -> float:
        """100 x (P(recommend >= 9) - P(recommend <= 6)) in the wave's population."""
        w_flat, is_t, total = weights[wave].ravel(), cell_treated[wave].ravel(), 0.0
        for dist, mask in ((model.untreated, ~is_t), (calib.treated_dist, is_t)):
            if mask.any():
                lat = eta[wave][mask]
                promoter = model.p_above(lat, dist, _REC_CUTPOINTS[8], _REC_NOISE_SD)
                not_detractor = model.p_above(lat, dist, _REC_CUTPOINTS[6], _REC_NOISE_SD)
                total += float(w_flat[mask] @ (promoter - (1 - not_detractor)))
        return 100.0 * total

    return {
        "p_treated": p_treated,
        "p_untreated": p_untreated,
        "by_wave": (p_cell * weights).sum(axis=(1, 2, 3)),
        "pilot_groups": groups,
        "pilot_did": did,
        "segments": segments,
        "nps_first": nps(0),
        "nps_latest": nps(T - 1),
    }


def _respondent_pilot_effect(survey: dict, exp: dict, cell_shape) -> float:
    """Mean over treated-store pilot-wave respondents of P(sat | treated) - P(sat | untreated)."""
    treated = survey["treated"]
    cell = np.ravel_multi_index(
        (survey["store"][treated], survey["loyal"][treated].astype(int), survey["age"][treated]),
        cell_shape,
    )
    wave = survey["wave"][treated]
    return float(np.mean(exp["p_treated"][wave, cell] - exp["p_untreated"][wave, cell]))


# --------------------------------------------------------------------------------------------
# Survey simulation
# --------------------------------------------------------------------------------------------

_COMMENTS = {
    "en": {
        "pos": (
            ("Great quality products.", "The fresh produce was excellent."),
            ("Good value for money.", "Fair prices and good deals."),
            ("Staff were friendly and helpful.", "Excellent service from the team."),
            ("Clean and pleasant store.", "Nice layout - easy to find things."),
            ("Checkout was quick.", "No queue at the tills."),
            ("Everything I needed was in stock.", "Good range - found all my items."),
            ("Love the member points.", "Member discounts make it worth it."),
        ),
        "neu": (
            ("Quality is OK but not consistent.", "Products are average."),
            ("Prices are a bit high for what you get.", "Value is OK - nothing special."),
            ("Staff were OK but hard to find.", "Service was fine - nothing special."),
            ("The store could be tidier.", "The store feels a bit cramped."),
            ("Checkout could be faster.", "Had to wait a while to pay."),
            ("Some items were missing.", "Could not find everything I wanted."),
            ("Not sure the points are worth it.", "Member offers are rarely useful."),
        ),
        "neg": (
            ("Poor quality - the fruit was spoiled.", "The product broke after one use."),
            ("Far too expensive.", "Prices went up again - not worth it."),
            ("Staff were rude and unhelpful.", "Nobody could help me. Terrible service."),
            ("The store was dirty and messy.", "Aisles blocked and very unpleasant."),
            ("Queued for 20 minutes at checkout.", "Only one till open - very slow."),
            ("Half the items were out of stock.", "Shelves empty again."),
            ("Points expired before I could use them.", "The loyalty app never works."),
        ),
    },
    "zh": {
        "pos": (
            ("产品质量很好", "生鲜很新鲜"),
            ("性价比高", "价格实惠，活动力度大"),
            ("店员热情周到", "服务很好，很耐心"),
            ("店内干净明亮", "环境舒适，商品好找"),
            ("结账很快", "不用排队，很方便"),
            ("想买的都有货", "商品很齐全"),
            ("会员积分很实用", "会员折扣很划算"),
        ),
        "neu": (
            ("质量一般", "产品还行，不太稳定"),
            ("价格有点贵", "性价比一般"),
            ("服务还可以", "店员不太好找"),
            ("环境一般，可以更整洁", "店里有点挤"),
            ("结账可以再快一点", "排队有点久"),
            ("有些商品缺货", "没找到想要的东西"),
            ("积分用处不大", "会员活动很少"),
        ),
        "neg": (
            ("质量太差了，水果是坏的", "东西用一次就坏了"),
            ("太贵了", "又涨价了，不值"),
            ("店员态度很差", "没人帮忙，服务太差"),
            ("店里又脏又乱", "通道堵住了，体验很差"),
            ("结账排队二十分钟", "只开一个收银台，太慢了"),
            ("一半商品缺货", "货架又是空的"),
            ("积分还没用就过期了", "会员APP总是出问题"),
        ),
    },
}


def _comment_table() -> np.ndarray:
    """Comments as an array indexed [language, sentiment, driver, variant]."""
    langs, sents = ("en", "zh"), ("neg", "neu", "pos")
    return np.array([[_COMMENTS[lang][s] for s in sents] for lang in langs], dtype=object)


def _simulate_survey(
    rng: np.random.Generator,
    customers: dict,
    stores: dict,
    cal: _Calendar,
    calib: _Calibration,
    treated: np.ndarray,
    responses_per_wave: int,
) -> dict[str, np.ndarray]:
    """Draw respondents, driver ratings, overall satisfaction, recommend and comments."""
    T, n_stores = len(cal.waves), len(stores["store_id"])
    first_wave = np.searchsorted(cal.month_start, customers["signup"], side="right")
    pilot_start = T - _PILOT_WAVES
    cust, wave = [], []
    for w in range(T):
        eligible = np.flatnonzero(~customers["potential"] & (first_wave <= w))
        k = responses_per_wave
        cust.append(rng.choice(eligible, size=k, replace=k > len(eligible)))
        wave.append(np.full(k, w))
    cust, wave = np.concatenate(cust), np.concatenate(wave)
    n = len(cust)
    at_home = rng.random(n) < _HOME_STORE_SURVEY
    store = np.where(at_home, customers["home"][cust], rng.choice(n_stores, n, p=stores["weight"]))
    length = cal.month_end[wave] - cal.month_start[wave] + 1
    day = cal.month_start[wave] + np.floor(rng.random(n) * length).astype(int)
    is_treated = np.isin(store, treated) & (wave >= pilot_start)

    g = math.sqrt(_ATTITUDE_SHARE) * customers["attitude"][cust]
    g = g + math.sqrt(1 - _ATTITUDE_SHARE) * rng.standard_normal(n)
    latent = math.sqrt(_RHO) * g[:, None] + math.sqrt(1 - _RHO) * rng.standard_normal(
        (n, len(DRIVERS))
    )
    latent[:, DRIVERS.index("staff_service")] += calib.uplift * is_treated
    ratings = 1 + np.searchsorted(_DRIVER_THRESHOLDS, latent)
    w = np.array([DRIVER_WEIGHTS[d] for d in DRIVERS])
    loyal, age = customers["loyal"][cust], customers["age"][cust]
    eta = (
        calib.intercept
        + calib.trend * wave / max(T - 1, 1)
        + stores["effect"][store]
        + LOYALTY_EFFECT * loyal
        + np.asarray(AGE_EFFECTS)[age]
    )
    ystar = eta + ratings @ w + rng.logistic(size=n)
    overall = 1 + np.searchsorted(_CUTPOINTS, ystar)
    recommend = np.searchsorted(_REC_CUTPOINTS, ystar + _REC_NOISE_SD * rng.standard_normal(n))

    # Comments: the lowest-rated driver for unhappy/neutral, the highest for happy respondents;
    # ties go to the more important driver.
    by_weight = np.argsort(-w, kind="stable")
    r_sorted = ratings[:, by_weight]
    topic = np.where(
        overall >= 4,
        by_weight[np.argmax(r_sorted, axis=1)],
        by_weight[np.argmin(r_sorted, axis=1)],
    )
    sentiment = np.select([overall <= 2, overall == 3], [0, 1], 2)
    zh = np.where(customers["locale"][cust] == "zh", rng.random(n) < 0.85, rng.random(n) < 0.03)
    table = _comment_table()
    text = table[zh.astype(int), sentiment, topic, rng.integers(0, 2, n)]
    has_comment = rng.random(n) < np.where(sentiment == 0, 0.6, 0.35)
    comment = np.where(has_comment, text, None)

    order = np.lexsort((cust, day))
    out = {
        "cust": cust,
        "store": store,
        "day": day,
        "wave": wave,
        "treated": is_treated,
        "loyal": loyal,
        "age": age,
        "anonymous": rng.random(n) < _ANONYMOUS_SHARE,
        "overall": overall,
        "recommend": recommend,
        "comment": comment,
        **{d: ratings[:, k] for k, d in enumerate(DRIVERS)},
    }
    return {k: v[order] for k, v in out.items()}


def _survey_faults(rng: np.random.Generator, survey: dict) -> tuple[dict, dict]:
    """Plant out-of-range values and blanks in the rating columns; return values and counts."""
    columns = ("overall_satisfaction", "recommend", *DRIVERS)
    source = {"overall_satisfaction": "overall", "recommend": "recommend"}
    values = {c: survey[source.get(c, c)].astype(float) for c in columns}
    n = len(survey["day"])
    n_bad = max(3, round(0.002 * n))
    n_blank = max(3, round(0.003 * n))
    cells = rng.choice(n * len(columns), size=n_bad + n_blank, replace=False)
    rows, cols = np.divmod(cells, len(columns))
    bad = {c: 0 for c in columns}
    blank = {c: 0 for c in columns}
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        name = columns[c]
        if i < n_bad:
            values[name][r] = 11.0 if name == "recommend" else float(rng.choice([0, 6]))
            bad[name] += 1
        else:
            values[name][r] = np.nan
            blank[name] += 1
    counts = {
        "out_of_range": n_bad,
        "out_of_range_by_column": bad,
        "blank": n_blank,
        "blank_by_column": blank,
    }
    return values, counts


# --------------------------------------------------------------------------------------------
# Transactions (streamed month by month)
# --------------------------------------------------------------------------------------------


def _amount_strings(amount: np.ndarray) -> pa.Array:
    """Format amounts with exactly two decimals ("12.50", "-3.05"); NaN becomes null."""
    missing = np.isnan(amount)
    cents = np.where(missing, 0, np.round(amount * 100)).astype(np.int64)
    sign = pa.array(np.where(cents < 0, "-", ""))
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    text = pc.binary_join_element_wise(sign, whole, ".", "")
    text = pc.binary_join_element_wise(text, frac, "")
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)


class _TableWriter:
    """Append Arrow tables to one CSV or Parquet file (CSV amounts with two decimals)."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.fmt = fmt
        if fmt == "parquet":
            self.sink = None
            self.writer = pq.ParquetWriter(path, schema)
        else:
            # Header written by hand: pyarrow would quote the column names.
            self.sink = pa.OSFile(str(path), "wb")
            self.sink.write((",".join(schema.names) + "\n").encode())
            csv_schema = pa.schema(
                [pa.field(f.name, pa.string() if f.name == "amount" else f.type) for f in schema]
            )
            # quoting "none" raises if a value holds a comma, quote or newline.
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            self.writer = pacsv.CSVWriter(self.sink, csv_schema, write_options=options)

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv" and "amount" in table.column_names:
            i = table.column_names.index("amount")
            amount = table.column(i).to_numpy(zero_copy_only=False)
            table = table.set_column(i, "amount", _amount_strings(amount))
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        if self.sink is not None:
            self.sink.close()


@contextlib.contextmanager
def _table_writer(path: Path, schema: pa.Schema, fmt: str) -> Iterator[_TableWriter]:
    """Write a table file under a temporary name; rename it into place only when complete."""
    with atomic_path(path) as tmp:
        writer = _TableWriter(tmp, schema, fmt)
        try:
            yield writer
        finally:
            writer.close()


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    with _table_writer(path, table.schema, fmt) as writer:
        writer.write(table)


_TXN_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("customer_id", pa.string()),
        ("store_id", pa.string()),
        ("date", pa.date32()),
        ("amount", pa.float64()),
        ("items", pa.int64()),
        ("promotion", pa.int64()),
    ]
)


def _purchases_in_month(rng, customers, stores, profiles, scale, s, e):
    """Simulate one month's purchases by thinning a Poisson process per customer."""
    lo = np.maximum(customers["active_from"], s)
    hi = np.minimum(customers["active_to"], e)
    active = np.flatnonzero(~customers["potential"] & (hi >= lo))
    sens = customers["sensitive"][active].astype(int)
    peak = np.array([profiles["class0"][s : e + 1].max(), profiles["class1"][s : e + 1].max()])
    length = hi[active] - lo[active] + 1
    count = rng.poisson(scale * customers["rate"][active] * peak[sens] * length)
    cand = np.repeat(np.arange(len(active)), count)
    day = lo[active][cand] + np.floor(rng.random(len(cand)) * length[cand]).astype(int)
    klass = sens[cand]
    intensity = np.where(klass == 1, profiles["class1"][day], profiles["class0"][day])
    keep = rng.random(len(cand)) < intensity / peak[klass]
    cand, day = cand[keep], day[keep]
    cust = active[cand]
    n = len(cust)
    sensitive = customers["sensitive"][cust]
    promotion = profiles["promo"][day] & (
        rng.random(n) < np.where(sensitive, _PROMO_USE[True], _PROMO_USE[False])
    )
    amount = customers["basket"][cust] * rng.lognormal(-0.5 * 0.45**2, 0.45, n)
    amount *= np.where(promotion, 0.85, 1.0) * np.where(profiles["december"][day], 1.12, 1.0)
    amount = np.maximum(np.round(amount, 2), 1.0)
    items = np.maximum(1, rng.poisson(amount / 15.0))
    at_home = rng.random(n) < _HOME_STORE_TXN
    store = np.where(
        at_home, customers["home"][cust], rng.choice(len(stores["weight"]), n, p=stores["weight"])
    )
    return {
        "cust": cust,
        "store": store,
        "day": day,
        "amount": amount,
        "items": items,
        "promotion": promotion.astype(np.int64),
    }


def _returns_of(rng, rows: dict, n_days: int) -> dict:
    """About 2.6% of purchases come back 1-21 days later (full or partial, negative sign)."""
    pick = np.flatnonzero(rng.random(len(rows["day"])) < _RETURN_RATE)
    day = rows["day"][pick] + rng.integers(1, 22, len(pick))
    pick, day = pick[day < n_days], day[day < n_days]
    full = rng.random(len(pick)) < 0.7
    frac = np.where(full, 1.0, rng.uniform(0.2, 0.8, len(pick)))
    amount = np.round(rows["amount"][pick] * frac, 2)
    items = np.where(full, rows["items"][pick], np.maximum(1, np.floor(rows["items"][pick] * frac)))
    return {
        "cust": rows["cust"][pick],
        "store": rows["store"][pick],
        "day": day,
        "amount": -np.maximum(amount, 0.01),
        "items": -items.astype(np.int64),
        "promotion": rows["promotion"][pick],
    }


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(rows: dict, idx) -> dict:
    return {k: v[idx] for k, v in rows.items()}


def _write_transactions(
    rng: np.random.Generator,
    path: Path,
    fmt: str,
    customers: dict,
    stores: dict,
    cal: _Calendar,
    profiles: dict,
) -> dict:
    """Generate and write transactions month by month; return statistics and fault counts."""
    n = len(customers["signup"])
    D = cal.n_days
    # Calibrate the rate scale so that expected purchases per customer average 20.
    exposure = np.zeros(n)
    for sensitive in (False, True):
        cum = np.concatenate([[0.0], np.cumsum(profiles[f"class{int(sensitive)}"])])
        mask = (customers["sensitive"] == sensitive) & ~customers["potential"]
        lo, hi = customers["active_from"][mask], customers["active_to"][mask]
        exposure[mask] = np.where(hi >= lo, cum[np.maximum(hi + 1, lo)] - cum[lo], 0.0)
    scale = _TXN_PER_CUSTOMER * n / float(customers["rate"] @ exposure)
    expected_rows = _TXN_PER_CUSTOMER * n * (1 + _RETURN_RATE)
    missing_rate = max(_MISSING_AMOUNT_RATE, 8.0 / expected_rows)

    # Orphans: a handful of customer ids that are not in customers.csv, with a few rows each.
    n_orphans = min(50, max(3, n // 1000))
    orphan_numbers = n + 1 + np.sort(rng.choice(9999, size=n_orphans, replace=False))
    orphan_ids = _ids("C", orphan_numbers, customers["id_width"])
    per_orphan = 1 + rng.poisson(1.5, n_orphans)
    k = int(per_orphan.sum())
    orphan_amount = np.round(rng.lognormal(np.log(32.0), 0.7, k), 2)
    orphans = {
        "cust": n + np.repeat(np.arange(n_orphans), per_orphan),
        "store": rng.choice(len(stores["weight"]), k, p=stores["weight"]),
        "day": rng.integers(0, D, k),
        "amount": orphan_amount,
        "items": np.maximum(1, rng.poisson(orphan_amount / 15.0)),
        "promotion": np.zeros(k, dtype=np.int64),
    }
    id_lookup = pa.array(np.concatenate([customers["customer_id"], orphan_ids]))
    store_lookup = pa.array(stores["store_id"])

    net = np.zeros(n)
    n_rows = np.zeros(n, dtype=np.int64)
    stats_ = {"purchases": 0, "returns": 0, "promo_sensitive": 0, "purchases_sensitive": 0}
    stats_.update({"promo_other": 0, "purchases_other": 0})
    faults = {"duplicate_rows": 0, "orphan_rows": 0, "missing_amount": 0}
    pending = None
    next_id = 1
    with _table_writer(path, _TXN_SCHEMA, fmt) as writer:
        for s, e in zip(cal.month_start, cal.month_end, strict=True):
            bought = _purchases_in_month(rng, customers, stores, profiles, scale, s, e)
            returned = _returns_of(rng, bought, D)
            pending = returned if pending is None else _concat([pending, returned])
            due = pending["day"] <= e
            month_orphans = (orphans["day"] >= s) & (orphans["day"] <= e)
            rows = _concat([bought, _take(pending, due), _take(orphans, month_orphans)])
            pending = _take(pending, ~due)
            rows = _take(rows, np.lexsort((rows["cust"], rows["day"])))
            m = len(rows["day"])
            ids = np.arange(next_id, next_id + m)
            next_id += m
            # Clean statistics (before faults).
            real = rows["cust"] < n
            net += np.bincount(rows["cust"][real], weights=rows["amount"][real], minlength=n)
            n_rows += np.bincount(rows["cust"][real], minlength=n)
            purchase = real & (rows["amount"] > 0)
            stats_["purchases"] += int(purchase.sum())
            stats_["returns"] += int((real & (rows["amount"] < 0)).sum())
            sens = customers["sensitive"][np.where(real, rows["cust"], 0)]
            for key, mask in (("sensitive", purchase & sens), ("other", purchase & ~sens)):
                stats_[f"purchases_{key}"] += int(mask.sum())
                stats_[f"promo_{key}"] += int(rows["promotion"][mask].sum())
            # Faults: missing amounts, then exact duplicate rows next to their original.
            amount = rows["amount"].copy()
            amount[rng.random(m) < missing_rate] = np.nan
            repeat = 1 + (rng.random(m) < _DUPLICATE_RATE)
            take = np.repeat(np.arange(m), repeat)
            faults["duplicate_rows"] += int((repeat - 1).sum())
            faults["orphan_rows"] += int((~real[take]).sum())
            faults["missing_amount"] += int(np.isnan(amount[take]).sum())
            table = pa.table(
                {
                    "transaction_id": _ids("T", ids[take], 9),
                    "customer_id": id_lookup.take(pa.array(rows["cust"][take])),
                    "store_id": store_lookup.take(pa.array(rows["store"][take])),
                    "date": cal.dates(rows["day"][take]),
                    "amount": amount[take],
                    "items": rows["items"][take].astype(np.int64),
                    "promotion": rows["promotion"][take].astype(np.int64),
                },
                schema=_TXN_SCHEMA,
            )
            writer.write(table)
    faults["orphan_customer_ids"] = [str(x) for x in orphan_ids]
    faults["n_orphan_customer_ids"] = n_orphans
    return {"net": net, "n_rows": n_rows, "stats": stats_, "faults": faults}


def pareto_share(values, top: float = 0.2) -> float:
    """Share of the total held by the top ``top`` fraction of values (rounded up to whole units).

    Parameters
    ----------
    values : array-like
        One value per customer (e.g. net revenue).
    top : float
        Fraction of customers in the top group (0.2: "the top 20%").
    """
    v = np.sort(np.asarray(values, dtype=float))[::-1]
    k = math.ceil(top * len(v))
    return float(v[:k].sum() / v.sum())


# --------------------------------------------------------------------------------------------
# Complaints
# --------------------------------------------------------------------------------------------


def _make_complaints(rng: np.random.Generator, customers: dict, cal: _Calendar) -> dict:
    """Complaints: rate rises as attitude falls (dissatisfied customers complain more)."""
    D = cal.n_days
    lo, hi = customers["active_from"], customers["active_to"]
    length = np.where(customers["potential"], 0, np.maximum(hi - lo + 1, 0))
    rate = 0.1 / 365 * np.exp(-_COMPLAINT_ATTITUDE * customers["attitude"])
    count = rng.poisson(rate * length)
    cust = np.repeat(np.arange(len(count)), count)
    k = len(cust)
    day = lo[cust] + np.floor(rng.random(k) * length[cust]).astype(int)
    # Half of a churner's complaints come shortly before leaving.
    near_churn = customers["churned"][cust] & (rng.random(k) < 0.5)
    before = hi[cust] - np.floor(rng.exponential(45.0, k)).astype(int)
    day = np.where(near_churn, np.maximum(before, lo[cust]), day)
    category = rng.choice(np.array(COMPLAINT_CATEGORIES), size=k, p=_COMPLAINT_PROBS)
    days_to_resolve = 1 + rng.negative_binomial(2, 0.35, k)
    resolved = (rng.random(k) < 0.92) & (day + days_to_resolve <= D - 1)
    order = np.lexsort((cust, day))
    return {
        "cust": cust[order],
        "day": day[order],
        "category": category[order],
        "resolved": resolved[order],
        "days_to_resolve": days_to_resolve[order],
    }


# --------------------------------------------------------------------------------------------
# Writing the small tables
# --------------------------------------------------------------------------------------------


def _yes_no(flag) -> np.ndarray:
    return np.where(np.asarray(flag, dtype=bool), "yes", "no")


def _write_small_tables(out, fmt, cal, stores, customers, treated, control, pilot_waves) -> None:
    """Write stores, customers, pilot and the per-customer planted labels."""
    _write_table(
        pa.table(
            {
                "store_id": stores["store_id"],
                "store_name": stores["store_name"],
                "region": stores["region"],
                "opened_date": stores["opened_date"],
            }
        ),
        out / f"stores.{fmt}",
        fmt,
    )
    home = customers["home"]
    _write_table(
        pa.table(
            {
                "customer_id": customers["customer_id"],
                "name": customers["name"],
                "email": customers["email"],
                "phone": customers["phone"],
                "signup_date": cal.dates(customers["signup"]),
                "region": stores["region"][home],
                "home_store": stores["store_id"][home],
                "age_band": np.array(AGE_BANDS)[customers["age"]],
                "gender": customers["gender"],
                "channel": customers["channel"],
                "loyalty_member": _yes_no(customers["loyal"]),
            }
        ),
        out / f"customers.{fmt}",
        fmt,
    )
    group = np.array(["treatment"] * len(treated) + ["control"] * len(control))
    pilot_stores = np.concatenate([treated, control])
    k = len(pilot_stores)
    _write_table(
        pa.table(
            {
                "store_id": stores["store_id"][pilot_stores],
                "group": group,
                "intervention": np.full(k, "staff service training"),
                "start_date": np.full(k, cal.dates(cal.month_start[pilot_waves[0]])),
                "end_date": np.full(k, cal.dates(cal.month_end[pilot_waves[-1]])),
            }
        ),
        out / f"pilot.{fmt}",
        fmt,
    )
    status = np.where(
        customers["potential"], "potential", np.where(customers["churned"], "churned", "active")
    )
    churn_date = pa.array(cal.dates(customers["churn_day"]), mask=~customers["churned"])
    _write_table(
        pa.table(
            {
                "customer_id": customers["customer_id"],
                "planted_status": status,
                "churn_date": churn_date,
                "price_sensitive": customers["sensitive"].astype(np.int64),
                "attitude": np.round(customers["attitude"], 4),
            }
        ),
        out / f"truth_customers.{fmt}",
        fmt,
    )


def _int_column(values: np.ndarray) -> pa.Array:
    missing = np.isnan(values)
    return pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)


def _write_survey(out, fmt, cal, stores, customers, survey, values) -> None:
    n = len(survey["day"])
    customer_id = pa.array(customers["customer_id"][survey["cust"]], mask=survey["anonymous"])
    columns = {
        "response_id": _ids("R", np.arange(1, n + 1), max(6, len(str(n)))),
        "customer_id": customer_id,
        "store_id": stores["store_id"][survey["store"]],
        "date": cal.dates(survey["day"]),
        "wave": np.array(cal.waves)[survey["wave"]],
        "overall_satisfaction": _int_column(values["overall_satisfaction"]),
        "recommend": _int_column(values["recommend"]),
        **{d: _int_column(values[d]) for d in DRIVERS},
        "comment": pa.array(survey["comment"], type=pa.string()),
    }
    _write_table(pa.table(columns), out / f"survey.{fmt}", fmt)


def _write_complaints(out, fmt, cal, customers, complaints) -> None:
    k = len(complaints["cust"])
    resolved = complaints["resolved"]
    _write_table(
        pa.table(
            {
                "complaint_id": _ids("Q", np.arange(1, k + 1), max(6, len(str(k)))),
                "customer_id": customers["customer_id"][complaints["cust"]],
                "date": cal.dates(complaints["day"]),
                "category": complaints["category"],
                "resolved": _yes_no(resolved),
                "days_to_resolve": pa.array(
                    complaints["days_to_resolve"].astype(np.int64), mask=~resolved
                ),
            }
        ),
        out / f"complaints.{fmt}",
        fmt,
    )


# --------------------------------------------------------------------------------------------
# Main entry point
# --------------------------------------------------------------------------------------------


def _is_int(x, low: int, high: float = math.inf) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and low <= x <= high


def _check_params(seed, n_customers, n_stores, months, responses_per_wave, fmt) -> None:
    checks = [
        (_is_int(seed, 0), f"seed must be a non-negative int, got {seed!r}"),
        (_is_int(n_customers, 100), f"n_customers must be an int >= 100, got {n_customers!r}"),
        (_is_int(n_stores, 4, 999), f"n_stores must be an int in 4..999, got {n_stores!r}"),
        (_is_int(months, 2 * _PILOT_WAVES), f"months must be an int >= 6, got {months!r}"),
        (
            _is_int(responses_per_wave, 1),
            f"responses_per_wave must be an int >= 1, got {responses_per_wave!r}",
        ),
        (fmt in ("csv", "parquet"), f"fmt must be 'csv' or 'parquet', got {fmt!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ParameterError(f"generate_retail: {message}.")


def _round(x, digits: int = 6):
    if isinstance(x, dict):
        return {k: _round(v, digits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v, digits) for v in x]
    if isinstance(x, float | np.floating):
        return round(float(x), digits)
    if isinstance(x, np.integer):
        return int(x)
    return x


def generate_retail(
    out_dir,
    *,
    seed: int = 42,
    n_customers: int = DEFAULT_SIZES["n_customers"],
    n_stores: int = DEFAULT_SIZES["n_stores"],
    months: int = DEFAULT_SIZES["months"],
    responses_per_wave: int = DEFAULT_SIZES["responses_per_wave"],
    end_date: str = "2026-10-31",
    fmt: str = "csv",
) -> dict:
    """Generate the retail case data into ``out_dir`` and return the planted truth.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing. Each file is written under a temporary name and renamed when
        complete, so a reader never sees a half-written file.
    seed : int
        Seed of every random step; the same seed gives byte-identical files.
    n_customers, n_stores : int
        Sizes of the customer base and the store network.
    months : int
        Length of the history: transactions cover the ``months`` calendar months ending with the
        month of ``end_date`` (ending on ``end_date``), with one survey wave per month.
    responses_per_wave : int
        Survey responses per monthly wave.
    end_date : str
        Last day of the data ("YYYY-MM-DD").
    fmt : {"csv", "parquet"}
        File format of the tables (same columns and planted faults either way).

    Returns
    -------
    dict
        The truth, also written to ``truth.json`` (keys in the module docstring).

    Raises
    ------
    crmlab.errors.ParameterError
        A size is too small, the format is unknown or the end date is not a date.
    """
    _check_params(seed, n_customers, n_stores, months, responses_per_wave, fmt)
    seed, n_customers, n_stores = int(seed), int(n_customers), int(n_stores)
    months, responses_per_wave = int(months), int(responses_per_wave)
    cal = _calendar(end_date, months)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    r_store, r_cust, r_pilot, r_survey, r_fault, r_days, r_txn, r_compl = streams

    stores = _make_stores(r_store, n_stores, cal)
    customers = _make_customers(r_cust, n_customers, stores, cal)
    treated, control = _make_pilot(r_pilot, stores)
    T = len(cal.waves)
    pilot_waves = list(range(T - _PILOT_WAVES, T))
    pre_waves = list(range(T - 2 * _PILOT_WAVES, T - _PILOT_WAVES))

    # Survey model, calibrated on the exact expected shares.
    model = _SatisfactionModel()
    weights = _cell_weights(customers, stores, cal)
    treated_mask = np.isin(np.arange(n_stores), treated)
    control_mask = np.isin(np.arange(n_stores), control)
    calib = _calibrate(model, weights, _cell_offsets(stores), treated_mask, pilot_waves)
    exp = _expected_shares(model, calib, weights, stores, treated_mask, control_mask, pilot_waves)

    # Survey sample and the respondent-average pilot effect.
    survey = _simulate_survey(r_survey, customers, stores, cal, calib, treated, responses_per_wave)
    pilot_effect = _respondent_pilot_effect(survey, exp, weights.shape[1:])
    survey_values, survey_faults = _survey_faults(r_fault, survey)

    # Tables.
    profiles = _day_profiles(cal, r_days)
    txn = _write_transactions(
        r_txn, out / f"transactions.{fmt}", fmt, customers, stores, cal, profiles
    )
    complaints = _make_complaints(r_compl, customers, cal)
    _write_small_tables(out, fmt, cal, stores, customers, treated, control, pilot_waves)
    _write_survey(out, fmt, cal, stores, customers, survey, survey_values)
    _write_complaints(out, fmt, cal, customers, complaints)

    st = txn["stats"]
    truth = {
        "generator": "crmlab.synth.retail.generate_retail",
        "seed": seed,
        "sizes": {
            "n_customers": n_customers,
            "n_stores": n_stores,
            "months": months,
            "responses_per_wave": responses_per_wave,
        },
        "fmt": fmt,
        "history_start": str(cal.start),
        "end_date": str(cal.start + np.timedelta64(cal.n_days - 1, "D")),
        "waves": list(cal.waves),
        "driver_weights": dict(DRIVER_WEIGHTS),
        "driver_ranking": list(DRIVER_WEIGHTS),
        "satisfaction_by_wave": dict(zip(cal.waves, exp["by_wave"].tolist(), strict=True)),
        "satisfaction_first": float(exp["by_wave"][0]),
        "satisfaction_latest": float(exp["by_wave"][-1]),
        "nps_first": exp["nps_first"],
        "nps_latest": exp["nps_latest"],
        "pilot": {
            "intervention": "staff service training",
            "treatment_stores": [str(stores["store_id"][i]) for i in treated],
            "control_stores": [str(stores["store_id"][i]) for i in control],
            "pre_waves": [cal.waves[w] for w in pre_waves],
            "pilot_waves": [cal.waves[w] for w in pilot_waves],
            "staff_service_latent_uplift": calib.uplift,
            "expected_satisfied_share": exp["pilot_groups"],
            "n_pilot_respondents_treated": int(survey["treated"].sum()),
        },
        "pilot_effect": pilot_effect,
        "pilot_effect_population": _TARGET_PILOT,
        "pilot_did": exp["pilot_did"],
        "segments": exp["segments"],
        "model": {
            "intercept": calib.intercept,
            "trend_over_history": calib.trend,
            "overall_cutpoints": _CUTPOINTS.tolist(),
            "recommend_cutpoints": _REC_CUTPOINTS.tolist(),
            "recommend_noise_sd": _REC_NOISE_SD,
            "driver_thresholds": _DRIVER_THRESHOLDS.tolist(),
            "driver_common_factor_correlation": _RHO,
            "attitude_share_of_common_factor": _ATTITUDE_SHARE,
            "loyalty_effect": LOYALTY_EFFECT,
            "age_effects": dict(zip(AGE_BANDS, AGE_EFFECTS, strict=True)),
            "region_effects": dict(REGION_EFFECTS),
            "store_effects": dict(
                zip(stores["store_id"].tolist(), stores["effect"].tolist(), strict=True)
            ),
        },
        "customers": {
            "n_potential": int(customers["potential"].sum()),
            "n_churned": int(customers["churned"].sum()),
            "n_price_sensitive": int(customers["sensitive"].sum()),
            "n_loyalty_members": int(customers["loyal"].sum()),
        },
        "transactions": {
            "n_purchases": st["purchases"],
            "n_returns": st["returns"],
            "purchases_per_customer": st["purchases"] / n_customers,
            "return_share": st["returns"] / (st["purchases"] + st["returns"]),
            "promotion_share_price_sensitive": st["promo_sensitive"]
            / max(st["purchases_sensitive"], 1),
            "promotion_share_other": st["promo_other"] / max(st["purchases_other"], 1),
        },
        "pareto_top20_share": pareto_share(txn["net"][txn["n_rows"] > 0]),
        "complaints": {
            "n": int(len(complaints["cust"])),
            "rate_ratio_per_sd_lower_attitude": math.exp(_COMPLAINT_ATTITUDE),
        },
        "fault_counts": {
            "transactions": txn["faults"],
            "survey": survey_faults,
        },
    }
    truth = _round(truth)
    write_text(out / "truth.json", json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
    return truth
