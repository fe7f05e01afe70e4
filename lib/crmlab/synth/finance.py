"""Synthetic data of the finance churn case: a retail bank's customers, monthly snapshots, account
closures from a planted hazard model, and a randomized retention pilot.

The data model
--------------
The extract covers ``months`` calendar months ending with the month of ``end_date`` (the
*observation window*). ``customers`` holds every customer whose account was open at some time in
the window: about 55% were already open when the window began (tenure of up to decades: these are
*left-truncated*, only the survivors are in the extract), about 45% opened during the window (so
the book stays roughly stable).

Closures follow a **piecewise-exponential (monthly) hazard model**. In calendar month *m* an open
customer *i* closes at the rate (per month of exposure)::

    hazard[i, m] = h0 * exp( b_new * [tenure < 12 months at the start of m]
                             + b_affluent * [segment == affluent] + b_private * [segment == private]
                             + b_products * (products_held - 1)
                             + b_salary * [salary_deposit] + b_rm * [relationship_manager]
                             + b_digital * [digital_active]
                             + b_complaints * complaints_6m[i, m]
                             + b_fee * fee_rise_6m[i, m]
                             + log(pilot_hr) * [offer arm of the pilot and m >= pilot month] )

where ``complaints_6m`` is the number of complaints in months m-5..m and ``fee_rise_6m`` is 1 if a
fee rise hit the customer in months m-5..m (both counted inside the window only). Complaints come
from a persistent per-customer propensity (gamma-Poisson); fee rises hit the customers on the
standard price plan at the fee reviews of January and July, so both recur and past values predict
future ones. Within a month the
rate is constant, so the monthly closure probability is ``1 - exp(-hazard * exposure)`` (a
discrete-time model with a complementary log-log link) and the closure day is exact. The
coefficients (``truth["log_hazard"]``) are therefore the log hazard ratios that a Cox model with
these time-varying covariates recovers.

Static attributes (segment, products_held, salary_deposit, relationship_manager, digital_active,
region) do not change over time. ``age`` is the age at ``end_date``.

Snapshots show an *anticipation signal*: about 70% of the customers who close run their balance,
transactions and logins down in the two months before and the month of closure. This makes
behaviour in the months before a prediction date predictive, as it is in real banks; it does not
enter the hazard.

Files (``fmt="csv"`` or ``"parquet"``; written chunk by chunk, temp file then ``os.replace``)
-----------------------------------------------------------------------------------------------
``customers``
    customer_id ("F000001"), name, email (reserved example domains), phone (11 digits starting
    with :data:`crmlab.synth.names.FICTIONAL_MOBILE_PREFIX`, which no mobile number does),
    national_id (18-character Chinese-style resident id - region code, birth date - whose check
    character is deliberately wrong under ISO 7064 MOD 11-2, so it is no one's), open_date, closure_date (blank = still open
    at ``end_date``, i.e. censored), age, region, segment (mass/affluent/private), products_held,
    salary_deposit, relationship_manager, digital_active (yes/no).
``snapshots``
    one row per customer and calendar month in which the account was open (also the partial first
    and closure months): customer_id, month ("YYYY-MM"), balance (CNY, month end or at closure),
    n_transactions, logins (digital logins), fees_charged (CNY in the month), fee_rise (1 if a fee
    rise hit the customer that month), rate_change (bank-wide change of the savings rate that
    month, percentage points), service_contacts, complaints.
``pilot``
    the randomized retention pilot: customer_id, group ("offer"/"control"), offer_date. Eligible:
    accounts open at the offer date (the first day of the month ``pilot_months_before_end`` months
    before the end) and flagged at risk by the rule in ``truth["pilot"]["flag_rule"]`` using data
    before the offer date only. Half of each chunk of eligible customers (random order) get the
    offer, whose planted effect multiplies the hazard by ``truth["pilot"]["hazard_ratio"]`` from
    the offer date on.
``truth.json``
    seed, sizes, the log-hazard coefficients and hazard ratios, the baseline hazard, the expected
    12-month churn overall and per segment, the pilot's expected churn per arm and uplift, the
    prediction dates the case uses. "Expected" values are conditional on the generated covariate
    paths (complaints, fee rises, pilot arm) and average ``1 - exp(-cumulative hazard)`` over the
    customers at risk.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crmlab.errors import DataError, ParameterError
from crmlab.synth.names import FICTIONAL_MOBILE_PREFIX

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_LOG_HAZARD",
    "FILES",
    "generate_finance",
    "national_id_check_char",
    "read_finance",
]

#: Customers generated per chunk. Fixed (not a parameter) so that the data depend on the seed and
#: the sizes only.
CHUNK_SIZE = 100_000

#: Planted log hazard ratios (natural log, per unit of the covariate; see the module docstring).
DEFAULT_LOG_HAZARD: dict[str, float] = {
    "new_customer": 0.35,
    "segment_affluent": -0.25,
    "segment_private": -0.50,
    "products_held": -0.20,
    "salary_deposit": -0.50,
    "relationship_manager": -0.40,
    "digital_active": 0.0,
    "complaints_6m": 0.35,
    "fee_rise_6m": 0.40,
}

#: Baseline hazard h0 (closures per month of exposure for a reference customer: mass segment, one
#: product, no salary deposit, no relationship manager, not digital, tenure >= 12 months, no
#: complaints or fee rises).
BASELINE_HAZARD = 0.034

PILOT_HAZARD_RATIO = 0.70
NEW_SHARE = 0.45  # share of customers who open during the window
FILES = ("customers", "snapshots", "pilot")

SEGMENTS = np.array(["mass", "affluent", "private"])
# region name, share, 6-digit administrative codes used in national ids
REGIONS = [
    ("Beijing", 0.14, (110101, 110105, 110108)),
    ("Shanghai", 0.14, (310101, 310104, 310115)),
    ("Guangdong", 0.22, (440103, 440106, 440305)),
    ("Zhejiang", 0.16, (330102, 330106, 330203)),
    ("Sichuan", 0.18, (510104, 510107, 510112)),
    ("Hubei", 0.16, (420102, 420106, 420111)),
]
SURNAMES = np.array(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng "
    "Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang Yu Du Ye "
    "Cheng Wei Su Lu Ding Ren Shen Yao".split()
)
GIVEN = np.array(
    "Wei Fang Na Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Tao Ming Chao Xiuying Hua Ping Gang "
    "Hui Xin Yu Hao Bo Lin Rui Ting Kai Jian Dan Hong Xia Qing Yun Peng Yi Fei Zihan Haoran Yuxuan "
    "Xinyi Zimo Yichen Mengyao Shuang Bin Long Kun".split()
)
DOMAINS = np.array(["example.com", "example.net", "example.org", "mail.example.com"])
"""Reserved (RFC 2606) domains: a generated address can never reach a real mailbox."""
MOBILE_PREFIX = np.full(14, int(FICTIONAL_MOBILE_PREFIX))
"""The first three digits of a generated phone number: :data:`crmlab.synth.names.
FICTIONAL_MOBILE_PREFIX` (no Chinese mobile number starts with it, so none is a real
person's); fourteen entries, as the draw that picks one has always had."""
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))

# balances (CNY): lognormal median by segment; monthly fee (CNY) by segment
BALANCE_MEDIAN = np.array([25_000.0, 350_000.0, 3_000_000.0])
BASE_FEE = np.array([12.0, 6.0, 0.0])
STANDARD_PLAN_SHARE = np.array([0.60, 0.35, 0.08])  # customers whom fee reviews can hit
REPRICING_MONTHS = (1, 7)  # calendar months with a fee-schedule review
RUN_DOWN_SHARE = 0.70
RUN_DOWN_BALANCE = np.array([0.80, 0.45, 0.10])  # months c-2, c-1, c (closure month)
RUN_DOWN_ACTIVITY = np.array([0.80, 0.60, 0.30])


def national_id_check_char(first17: np.ndarray) -> np.ndarray:
    """Check character of 18-character Chinese resident ids (GB 11643, ISO 7064 MOD 11-2).

    Parameters
    ----------
    first17 : ndarray of int, shape (n, 17)
        The first 17 digits.

    Returns
    -------
    ndarray of str
        ``"10X98765432"[sum(digit_k * weight_k) mod 11]`` per row.
    """
    digits = np.asarray(first17, dtype=np.int64)
    return ID_CHECK[(digits @ ID_WEIGHTS) % 11]


def _month_grid(end_date: str, months: int):
    end = pd.Timestamp(end_date)
    if end != end + pd.offsets.MonthEnd(0):
        raise ParameterError(
            f"end_date must be the last day of a month (the data end), got {end_date!r}; "
            f"e.g. {(end + pd.offsets.MonthEnd(0)).date()}."
        )
    if months < 13:
        raise ParameterError(f"months must be at least 13 (a 12-month churn period), got {months}")
    last = np.datetime64(end.date(), "M")
    periods = last - (months - 1) + np.arange(months)
    starts = periods.astype("datetime64[D]")
    ends_excl = (periods + 1).astype("datetime64[D]")
    return periods, starts, ends_excl


def _rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the current and the previous ``window - 1`` columns (zero before column 0)."""
    c = np.cumsum(x, axis=1, dtype=np.float64)
    out = c.copy()
    out[:, window:] -= c[:, :-window]
    return out


def _names(rng, n):
    sur = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    giv = GIVEN[rng.integers(0, len(GIVEN), n)]
    name = pd.Series(sur, dtype="str") + " " + pd.Series(giv, dtype="str")
    num = pd.Series(rng.integers(1, 1000, n)).astype("str")
    dom = pd.Series(DOMAINS[rng.integers(0, len(DOMAINS), n)], dtype="str")
    email = (
        pd.Series(np.char.lower(giv), dtype="str")
        + "."
        + pd.Series(np.char.lower(sur), dtype="str")
        + num
        + "@"
        + dom
    )
    phone_num = MOBILE_PREFIX[rng.integers(0, len(MOBILE_PREFIX), n)].astype(np.int64) * 10**8
    phone_num += rng.integers(0, 10**8, n)
    phone = pd.Series(phone_num).astype("str")
    return name, email, phone


def _national_ids(rng, region_idx, birth):
    codes = np.array([r[2] for r in REGIONS], dtype=np.int64)  # (n_regions, 3)
    area = codes[region_idx, rng.integers(0, 3, len(region_idx))]
    bd = pd.DatetimeIndex(birth)
    ymd = (bd.year * 10000 + bd.month * 100 + bd.day).to_numpy().astype(np.int64)
    seq = rng.integers(1, 1000, len(region_idx)).astype(np.int64)
    first17 = area * 10**11 + ymd * 10**3 + seq
    digits = (first17[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    # a wrong check character: shaped like a resident id, but no one's (GB 11643 rejects it)
    check = ID_CHECK[((digits @ ID_WEIGHTS) % 11 + 1) % 11]
    return pd.Series(first17).astype("str").str.zfill(17) + pd.Series(check, dtype="str")


def _simulate_chunk(rng, n, first_index, grid, cfg):
    """Simulate ``n`` customers; return (customers, snapshots, pilot) DataFrames and truth sums."""
    periods, starts, ends_excl = grid
    M = len(periods)
    beta = cfg["log_hazard"]
    window_start = starts[0]
    end_excl = ends_excl[-1]
    days_in = (ends_excl - starts).astype(np.int64).astype(np.float64)

    # ---- static attributes ---------------------------------------------------------------
    age = np.clip(np.round(rng.normal(45, 14, n)), 18, 85).astype(np.int64)
    new = rng.random(n) < NEW_SHARE
    window_days = int((end_excl - window_start).astype(np.int64))
    tenure_days_at_start = np.minimum(
        np.ceil(rng.exponential(6.0, n) * 365.25), (age - 21) * 365
    ).astype(np.int64)
    tenure_days_at_start = np.maximum(tenure_days_at_start, 1)
    open_offset = np.where(
        new,
        rng.integers(0, window_days - 31, n),  # days after the window start
        -tenure_days_at_start,
    )
    open_date = window_start + open_offset.astype("timedelta64[D]")

    seg_u = rng.random(n)
    p_aff = 0.20 + 0.004 * (age - 45)
    p_priv = 0.04 + 0.0008 * (age - 45)
    seg = np.where(seg_u < p_priv, 2, np.where(seg_u < p_priv + p_aff, 1, 0))
    products = np.minimum(1 + rng.poisson(np.array([0.9, 1.8, 2.5])[seg]), 8)
    salary = rng.random(n) < np.where(age < 60, 0.55, 0.15)
    rm = rng.random(n) < np.array([0.05, 0.50, 0.97])[seg]
    digital = rng.random(n) < 1 / (1 + np.exp(-(0.6 - 0.06 * (age - 45))))
    shares = np.array([r[1] for r in REGIONS])
    region_idx = rng.choice(len(REGIONS), size=n, p=shares / shares.sum())

    # ---- time-varying covariates (exogenous) -----------------------------------------------
    open_month = open_date.astype("datetime64[M]")
    m_open = (open_month - periods[0]).astype(np.int64)  # negative: before the window
    col = np.arange(M)
    active_from = col[None, :] >= m_open[:, None]  # calendar months from the opening month on
    complaint_rate = rng.gamma(0.3, 0.035 / 0.3, n) * np.where(seg == 0, 1.2, 0.8)
    complaints = rng.poisson(complaint_rate[:, None], (n, M)) * active_from
    cal_month = (periods.astype(np.int64) % 12) + 1
    repricing = np.isin(cal_month, REPRICING_MONTHS)
    standard_plan = rng.random(n) < STANDARD_PLAN_SHARE[seg]
    fee_rise = (rng.random((n, M)) < 0.75) & repricing[None, :] & standard_plan[:, None]
    fee_rise |= rng.random((n, M)) < 0.003
    fee_rise &= active_from
    complaints_6m = _rolling_sum(complaints, 6)
    fee_rise_6m = (_rolling_sum(fee_rise, 6) > 0).astype(np.float64)

    # ---- hazard -------------------------------------------------------------------------
    tenure_at_month_start = (starts[None, :] - open_date[:, None]).astype(np.int64) / 30.4375
    static_eta = (
        np.log(cfg["baseline_hazard"])
        + beta["segment_affluent"] * (seg == 1)
        + beta["segment_private"] * (seg == 2)
        + beta["products_held"] * (products - 1)
        + beta["salary_deposit"] * salary
        + beta["relationship_manager"] * rm
        + beta["digital_active"] * digital
    )
    eta = (
        static_eta[:, None]
        + beta["new_customer"] * (tenure_at_month_start < 12)
        + beta["complaints_6m"] * complaints_6m
        + beta["fee_rise_6m"] * fee_rise_6m
    )
    rate = np.exp(eta)
    exp_start = np.maximum(open_date[:, None], starts[None, :])
    exposure = np.clip(
        (ends_excl[None, :] - exp_start).astype(np.int64) / days_in[None, :], 0.0, 1.0
    )
    threshold = rng.exponential(1.0, n)

    # ---- pilot: eligibility from data before the offer date, randomized arms -----------------
    mp = M - cfg["pilot_months_before_end"]
    offer_date = starts[mp]
    cum_pre = np.cumsum(rate[:, :mp] * exposure[:, :mp], axis=1)[:, -1]
    open_at_offer = (open_date < offer_date) & (threshold > cum_pre)
    complaints_6m_before = complaints[:, mp - 6 : mp].sum(axis=1)
    flagged = (complaints_6m_before >= 1) | ((products <= 2) & ~salary & ~rm)
    eligible = np.flatnonzero(open_at_offer & flagged)
    perm = rng.permutation(eligible)
    offer_ix = np.sort(perm[: len(perm) // 2])
    offer = np.zeros(n, dtype=bool)
    offer[offer_ix] = True
    rate[offer, mp:] *= cfg["pilot_hazard_ratio"]

    # ---- closures: first crossing of the exponential threshold ---------------------------
    h = rate * exposure
    cum = np.cumsum(h, axis=1)
    crossed = cum >= threshold[:, None]
    closed = crossed.any(axis=1)
    cm = np.where(closed, crossed.argmax(axis=1), -1)
    rows = np.flatnonzero(closed)
    prev = (cum - h)[rows, cm[rows]]  # cumulative hazard at the start of the closure month
    frac_month = (threshold[rows] - prev) / rate[rows, cm[rows]]
    day_off = np.floor(frac_month * days_in[cm[rows]]).astype(np.int64)
    close_day = exp_start[rows, cm[rows]] + day_off.astype("timedelta64[D]")
    close_day = np.minimum(close_day, ends_excl[cm[rows]] - np.timedelta64(1, "D"))
    closure_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    closure_date[rows] = close_day
    last_m = np.where(closed, cm, M - 1)

    # ---- truth sums: expected churn over 12-month periods and in the pilot ----------------
    sums = {}
    for key, m0 in cfg["churn_periods"].items():
        m1 = m0 + 12
        cum_before = cum[:, m0 - 1] if m0 > 0 else np.zeros(n)
        at_risk = (open_date < starts[m0]) & (threshold > cum_before)
        expected = 1 - np.exp(-(cum[:, m1 - 1] - cum_before))
        for s, name in enumerate(SEGMENTS):
            sel = at_risk & (seg == s)
            sums[(key, name, "n")] = int(sel.sum())
            sums[(key, name, "expected")] = float(expected[sel].sum())
    pilot_rows = np.flatnonzero(open_at_offer & flagged)
    h_follow = cum[pilot_rows, -1] - cum[pilot_rows, mp - 1]
    is_offer = offer[pilot_rows]
    hr = cfg["pilot_hazard_ratio"]
    as_control = np.where(is_offer, h_follow / hr, h_follow)
    sums[("pilot", "offer", "n")] = int(is_offer.sum())
    sums[("pilot", "control", "n")] = int((~is_offer).sum())
    sums[("pilot", "offer", "expected")] = float((1 - np.exp(-h_follow[is_offer])).sum())
    sums[("pilot", "control", "expected")] = float((1 - np.exp(-h_follow[~is_offer])).sum())
    sums[("pilot", "all", "expected_if_control")] = float((1 - np.exp(-as_control)).sum())
    sums[("pilot", "all", "expected_if_offer")] = float((1 - np.exp(-as_control * hr)).sum())

    # ---- snapshots ------------------------------------------------------------------------
    in_snap = (col[None, :] >= np.maximum(m_open, 0)[:, None]) & (col[None, :] <= last_m[:, None])
    log_bal = (np.log(BALANCE_MEDIAN[seg]) + rng.normal(0, 0.9, n))[:, None] + np.cumsum(
        rng.normal(0.003, 0.04, (n, M)), axis=1
    )
    balance = np.exp(log_bal)
    activity = np.ones((n, M))
    runner = closed & (rng.random(n) < RUN_DOWN_SHARE)
    for k, lag in enumerate((2, 1, 0)):
        r = np.flatnonzero(runner & (cm - lag >= 0))
        balance[r, cm[r] - lag] *= RUN_DOWN_BALANCE[k]
        activity[r, cm[r] - lag] *= RUN_DOWN_ACTIVITY[k]
    tx_rate = (3.0 + 9.0 * salary + 2.0 * digital + products)[:, None] * activity
    n_tx = rng.poisson(tx_rate)
    logins = rng.poisson(np.where(digital, 9.0, 0.4)[:, None] * activity)
    rises_so_far = np.cumsum(fee_rise, axis=1)
    fees = (BASE_FEE[seg] + 2.0 * (seg != 2) * products)[:, None] * (1 + 0.25 * rises_so_far)
    rate_change = np.zeros(M)
    rate_change[np.isin(cal_month, (3, 9))] = -0.10
    rate_change[np.isin(cal_month, (6,))] = -0.05
    service = rng.poisson(0.12 + 1.2 * complaints)

    ii, mm = np.nonzero(in_snap)
    ids = np.array([f"F{first_index + i + 1:0{cfg['id_width']}d}" for i in range(n)])
    snapshots = pd.DataFrame(
        {
            "customer_id": ids[ii],
            "month": periods[mm].astype("str"),
            "balance": np.round(balance[ii, mm], 2),
            "n_transactions": n_tx[ii, mm],
            "logins": logins[ii, mm],
            "fees_charged": np.round(fees[ii, mm], 2),
            "fee_rise": fee_rise[ii, mm].astype(np.int64),
            "rate_change": rate_change[mm],
            "service_contacts": service[ii, mm],
            "complaints": complaints[ii, mm].astype(np.int64),
        }
    )

    # ---- customers --------------------------------------------------------------------------
    name, email, phone = _names(rng, n)
    birth = np.datetime64(cfg["end_date"], "D") - (age * 365.25 + rng.integers(0, 365, n)).astype(
        np.int64
    ).astype("timedelta64[D]")
    yes_no = np.array(["no", "yes"])
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": name.to_numpy(),
            "email": email.to_numpy(),
            "phone": phone.to_numpy(),
            "national_id": _national_ids(rng, region_idx, birth).to_numpy(),
            "open_date": open_date,
            "closure_date": closure_date,
            "age": age,
            "region": np.array([r[0] for r in REGIONS])[region_idx],
            "segment": SEGMENTS[seg],
            "products_held": products,
            "salary_deposit": yes_no[salary.astype(int)],
            "relationship_manager": yes_no[rm.astype(int)],
            "digital_active": yes_no[digital.astype(int)],
        }
    )
    pilot = pd.DataFrame(
        {
            "customer_id": ids[pilot_rows],
            "group": np.where(offer[pilot_rows], "offer", "control"),
            "offer_date": np.full(len(pilot_rows), offer_date),
        }
    )
    return customers, snapshots, pilot, sums


class _TableWriter:
    """Append DataFrame chunks to one CSV or Parquet file through a temp file."""

    def __init__(self, target: Path, fmt: str):
        self.target = target
        self.tmp = target.with_name(f".{target.name}.tmp")
        self.fmt = fmt
        self.writer = None

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.cast(
            pa.schema(
                [
                    pa.field(f.name, pa.date32())
                    if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
                    else pa.field(f.name, pa.string())
                    if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                    else f
                    for f in table.schema
                ]
            )
        )
        if self.writer is None:
            if self.fmt == "csv":
                self.writer = pacsv.CSVWriter(
                    str(self.tmp),
                    table.schema,
                    write_options=pacsv.WriteOptions(quoting_style="needed"),
                )
            else:
                self.writer = pq.ParquetWriter(str(self.tmp), table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.tmp.exists():
            self.tmp.unlink()


def _rate(sums, key, names):
    n = sum(sums[(key, s, "n")] for s in names)
    e = sum(sums[(key, s, "expected")] for s in names)
    return (e / n if n else float("nan")), n


def generate_finance(
    out_dir: str | os.PathLike,
    *,
    seed: int = 42,
    n_customers: int = 5000,
    months: int = 36,
    end_date: str = "2026-10-31",
    fmt: str = "csv",
    pilot_months_before_end: int = 6,
    baseline_hazard: float = BASELINE_HAZARD,
    log_hazard: dict[str, float] | None = None,
    pilot_hazard_ratio: float = PILOT_HAZARD_RATIO,
) -> dict:
    """Generate the finance churn case's data into ``out_dir`` and return the planted truth.

    Parameters
    ----------
    out_dir : path
        Folder to write ``customers``, ``snapshots``, ``pilot`` (``.csv`` or ``.parquet``) and
        ``truth.json`` into (created if missing).
    seed : int
        Seed of every random step; the same seed and sizes give byte-identical files.
    n_customers : int
        Customers in the extract (open at some time in the window). 1,000,000 is feasible:
        chunks of :data:`CHUNK_SIZE` customers are generated and appended one after the other.
    months : int
        Length of the observation window in calendar months (>= 13), ending with ``end_date``.
    end_date : str
        Last day of the data (must be a month end). Accounts still open then are censored.
    fmt : {"csv", "parquet"}
        File format.
    pilot_months_before_end : int
        The pilot's offer date is the first day of the month this many months before the end
        month's successor (6 -> follow-up covers the last 6 months).
    baseline_hazard, log_hazard, pilot_hazard_ratio
        Override the planted model (defaults :data:`BASELINE_HAZARD`,
        :data:`DEFAULT_LOG_HAZARD`, :data:`PILOT_HAZARD_RATIO`).

    Returns
    -------
    dict
        The truth written to ``truth.json`` (see the module docstring).
    """
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if int(n_customers) < 10:
        raise ParameterError(f"n_customers must be at least 10, got {n_customers}")
    n_customers = int(n_customers)
    months = int(months)
    grid = _month_grid(end_date, months)
    periods, starts, _ = grid
    if not 1 <= pilot_months_before_end <= months - 6:
        raise ParameterError(
            f"pilot_months_before_end must leave 6 months of history before the offer date, "
            f"got {pilot_months_before_end} with months={months}"
        )
    beta = dict(DEFAULT_LOG_HAZARD)
    if log_hazard:
        unknown = set(log_hazard) - set(beta)
        if unknown:
            raise ParameterError(f"unknown log_hazard keys {sorted(unknown)}; known: {list(beta)}")
        beta.update(log_hazard)
    # the 12-month periods whose expected churn truth.json reports (month index of their start)
    churn_periods = {"test": months - 12}
    if months >= 24 + 6:
        churn_periods["train"] = months - 24
    cfg = {
        "log_hazard": beta,
        "baseline_hazard": float(baseline_hazard),
        "pilot_hazard_ratio": float(pilot_hazard_ratio),
        "pilot_months_before_end": int(pilot_months_before_end),
        "churn_periods": churn_periods,
        "end_date": end_date,
        "id_width": max(6, len(str(n_customers))),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = {name: _TableWriter(out / f"{name}.{fmt}", fmt) for name in FILES}
    totals: dict = {}
    n_snapshots = 0
    try:
        for k, first in enumerate(range(0, n_customers, CHUNK_SIZE)):
            n = min(CHUNK_SIZE, n_customers - first)
            rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
            customers, snapshots, pilot, sums = _simulate_chunk(rng, n, first, grid, cfg)
            writers["customers"].write(customers)
            writers["snapshots"].write(snapshots)
            writers["pilot"].write(pilot)
            n_snapshots += len(snapshots)
            for key, v in sums.items():
                totals[key] = totals.get(key, 0) + v
        for w in writers.values():
            w.close()
    except BaseException:
        for w in writers.values():
            w.abort()
        raise

    seg_names = list(SEGMENTS)
    churn_truth = {}
    for key, m0 in churn_periods.items():
        rate, n_risk = _rate(totals, key, seg_names)
        by_seg = {s: _rate(totals, key, [s])[0] for s in seg_names}
        churn_truth[key] = {
            "prediction_date": str(starts[m0]),
            "period": f"[{starts[m0]}, {(periods[m0] + 12).astype('datetime64[D]')})",
            "n_at_risk": n_risk,
            "expected_churn_12m": rate,
            "expected_churn_12m_by_segment": by_seg,
        }
    n_off = totals[("pilot", "offer", "n")]
    n_ctl = totals[("pilot", "control", "n")]
    n_all = n_off + n_ctl
    e_off = totals[("pilot", "offer", "expected")] / max(n_off, 1)
    e_ctl = totals[("pilot", "control", "expected")] / max(n_ctl, 1)
    mp = months - pilot_months_before_end
    truth = {
        "case": "finance_churn",
        "seed": seed,
        "sizes": {
            "n_customers": n_customers,
            "months": months,
            "n_snapshots": n_snapshots,
            "n_pilot": n_all,
        },
        "format": fmt,
        "window_start": str(starts[0]),
        "data_end": str(pd.Timestamp(end_date).date()),
        "model": "piecewise-exponential monthly hazard (see crmlab.synth.finance docstring)",
        "baseline_hazard_per_month": cfg["baseline_hazard"],
        "log_hazard": beta,
        "hazard_ratios": {k: math.exp(v) for k, v in beta.items()},
        "covariate_definitions": {
            "new_customer": "1 if tenure at the start of the month < 12 months",
            "segment_affluent": "1 if segment == affluent (reference: mass)",
            "segment_private": "1 if segment == private (reference: mass)",
            "products_held": "per product held beyond the first",
            "salary_deposit": "1 if salary_deposit == yes",
            "relationship_manager": "1 if relationship_manager == yes",
            "digital_active": "1 if digital_active == yes (planted null effect)",
            "complaints_6m": "complaints in the current and the five previous months",
            "fee_rise_6m": "1 if a fee rise in the current or the five previous months",
        },
        "null_effects": ["digital_active", "age", "region", "rate_change"],
        "run_down": {
            "share_of_closers": RUN_DOWN_SHARE,
            "balance_factor_c-2_c-1_c": RUN_DOWN_BALANCE.tolist(),
            "activity_factor_c-2_c-1_c": RUN_DOWN_ACTIVITY.tolist(),
        },
        "prediction_date": churn_truth["test"]["prediction_date"],
        "train_prediction_date": churn_truth.get("train", {}).get("prediction_date"),
        "churn_12m": churn_truth,
        "expected_churn_12m": churn_truth["test"]["expected_churn_12m"],
        "expected_churn_12m_by_segment": churn_truth["test"]["expected_churn_12m_by_segment"],
        "pilot": {
            "offer_date": str(starts[mp]),
            "follow_up_end": str(pd.Timestamp(end_date).date()),
            "follow_up_months": pilot_months_before_end,
            "flag_rule": (
                "open at the offer date and (complaints in the 6 months before the offer date >= 1"
                " or (products_held <= 2 and salary_deposit == no and relationship_manager == no))"
            ),
            "randomization": "half of the eligible customers of each chunk, random order",
            "hazard_ratio": cfg["pilot_hazard_ratio"],
            "n_offer": n_off,
            "n_control": n_ctl,
            "expected_churn_offer": e_off,
            "expected_churn_control": e_ctl,
            "expected_uplift_abs": e_ctl - e_off,
            "expected_relative_reduction": (e_ctl - e_off) / e_ctl if e_ctl else float("nan"),
            "expected_churn_all_if_control": totals[("pilot", "all", "expected_if_control")]
            / max(n_all, 1),
            "expected_churn_all_if_offer": totals[("pilot", "all", "expected_if_offer")]
            / max(n_all, 1),
        },
    }
    tmp = out / ".truth.json.tmp"
    tmp.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / "truth.json")
    return truth


_DATE_COLS = {"customers": ["open_date", "closure_date"], "pilot": ["offer_date"], "snapshots": []}
_STR_COLS = ["customer_id", "phone", "national_id", "month"]


def read_finance(data_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read the finance case's tables with proper types.

    Returns ``{"customers", "snapshots", "pilot"}`` DataFrames: dates as ``datetime64``
    (``closure_date`` NaT = censored), ids, phones and national ids as strings (leading zeros
    kept), plus ``"truth"`` (dict) when ``truth.json`` exists.
    """
    data_dir = Path(data_dir)
    out: dict = {}
    for name in FILES:
        csv, parquet = data_dir / f"{name}.csv", data_dir / f"{name}.parquet"
        if parquet.exists():
            df = pd.read_parquet(parquet)
        elif csv.exists():
            df = pd.read_csv(csv, dtype={c: "str" for c in _STR_COLS})
        else:
            raise DataError(
                f"{data_dir}: no {name}.csv or {name}.parquet; generate the data with "
                "crmlab.synth.finance.generate_finance(out_dir)."
            )
        for c in _DATE_COLS[name]:
            df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
        for c in _STR_COLS:
            if c in df.columns:
                df[c] = df[c].astype("str")
        out[name] = df
    if (data_dir / "truth.json").exists():
        out["truth"] = json.loads((data_dir / "truth.json").read_text(encoding="utf-8"))
    return out
